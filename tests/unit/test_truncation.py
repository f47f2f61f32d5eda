"""Tests for lsp_server.truncation: where a streamed multi-line completion ends."""

import pytest

from lsp_server.completion.cut import SyntaxCut, without_new_errors
from lsp_server.completion.edit import Edit
from lsp_server.text.languages import LanguageInfo, language_for, parser_for, supported_languages
from lsp_server.text.parsed_text import ParsedText

QWEN_STOPS = ("<|endoftext|>", "<|fim_pad|>", "<|file_sep|>", "<|fim_middle|>")
CURSOR = "‸"


def cut_at(
    language_id: str | None, marked: str, stops: tuple[str, ...] = (), max_lines: int = 16
) -> SyntaxCut:
    """A SyntaxCut for the cursor at `‸` in `marked`; language None means plain text."""
    prefix, suffix = marked.split(CURSOR)
    info = language_for(language_id) if language_id else None
    parser = parser_for(info) if info else None
    return SyntaxCut(prefix, suffix, info, parser, stops, max_lines)


def chunks(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def stream(cut: SyntaxCut, pieces: list[str]) -> int:
    """Feed pieces until the cut says it is done, as the completer does; returns pieces used."""
    for used, piece in enumerate(pieces, 1):
        if cut.feed(piece):
            return used
    return len(pieces)


def complete(
    language_id: str | None,
    marked: str,
    output: str,
    size: int = 1,
    stops: tuple[str, ...] = (),
    max_lines: int = 16,
) -> str:
    cut = cut_at(language_id, marked, stops, max_lines)
    stream(cut, chunks(output, size))
    return cut.text


SIZES = [1, 3, 1000]

# --- Python -----------------------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_python_function_body_ends_at_the_next_top_level_definition(size: int) -> None:
    output = "total = a + b\n    return total\n\n\ndef other():\n    pass\n"
    assert complete("python", "def f(a, b):\n    ‸\n", output, size) == (
        "total = a + b\n    return total"
    )


@pytest.mark.parametrize("size", SIZES)
def test_python_function_body_ends_where_a_line_is_dedented(size: int) -> None:
    output = "total = a + b\n    return total\n\nprint(f(1, 2))\n"
    marked = "def f(a, b):\n    ‸\n\nresult = 0\n"
    assert complete("python", marked, output, size) == "total = a + b\n    return total"


@pytest.mark.parametrize("size", SIZES)
def test_python_method_body_ends_at_the_next_method(size: int) -> None:
    marked = "class A:\n    def f(self):\n        ‸\n"
    output = "self.x = 1\n        return self.x\n\n    def g(self):\n        pass\n"
    assert complete("python", marked, output, size) == "self.x = 1\n        return self.x"


@pytest.mark.parametrize("size", SIZES)
def test_python_if_block_stops_before_the_else(size: int) -> None:
    marked = "if ready:\n    ‸\nelse:\n    wait()\n"
    output = "start()\n    report()\nelse:\n    wait()\n"
    assert complete("python", marked, output, size) == "start()\n    report()"


def test_python_blank_lines_inside_a_body_are_kept() -> None:
    output = "x = 1   \n    \n    return x   \n\n\nprint(1)"
    assert complete("python", "def f():\n    ‸\n", output) == "x = 1\n\n    return x"


@pytest.mark.parametrize("size", SIZES)
def test_python_line_that_repeats_the_suffix_ends_the_completion(size: int) -> None:
    marked = "def f(a):\n    ‸\n    return total\n"
    output = "total = a * 2\n    return total\n"
    assert complete("python", marked, output, size) == "total = a * 2"


def test_python_first_line_that_repeats_the_suffix_gives_nothing() -> None:
    assert complete("python", "def f(a):\n    ‸\n    return a\n", "return a\n") == ""


def test_python_same_text_at_another_indentation_is_no_repeat() -> None:
    marked = "def f(a):\n    ‸\n    return a\n"
    output = "if a:\n        return a\n    a += 1\n"
    assert complete("python", marked, output) == "if a:\n        return a\n    a += 1"


@pytest.mark.parametrize("size", SIZES)
def test_python_dict_literal_leaves_the_closing_brace_to_the_suffix(size: int) -> None:
    marked = "config = {\n    ‸\n}\n"
    output = "'host': 'localhost',\n    'port': 8080,\n}\nprint(config)\n"
    assert complete("python", marked, output, size) == "'host': 'localhost',\n    'port': 8080,"


@pytest.mark.parametrize("size", SIZES)
def test_python_dict_literal_at_the_end_of_the_file_closes_itself(size: int) -> None:
    output = "\n    'host': 'localhost',\n}\nprint(config)\n"
    assert complete("python", "config = {‸", output, size) == "\n    'host': 'localhost',\n}"


@pytest.mark.parametrize("size", SIZES)
def test_python_call_bracket_already_in_the_suffix_is_not_repeated(size: int) -> None:
    assert complete("python", "result = compute(‸)\n", "a, b)\nprint(result)\n", size) == "a, b"


@pytest.mark.parametrize("size", SIZES)
def test_python_call_bracket_missing_from_the_suffix_is_kept(size: int) -> None:
    marked = "result = compute(‸\nprint(1)\n"
    assert complete("python", marked, "a,\n    b)\nprint(result)\n", size) == "a,\n    b)"


def test_python_continuation_lines_inside_brackets_ignore_indentation() -> None:
    marked = "def f():\n    x = compute(‸\n"
    output = "\n        a,\nb)\n    return x\n"
    assert complete("python", marked, output) == "\n        a,\nb)"


@pytest.mark.parametrize("size", SIZES)
def test_python_statement_begun_on_the_cursor_line_ends_with_its_node(size: int) -> None:
    marked = "def f(x, y):\n    if x and‸\n"
    output = " y:\n        return 1\n    return 2\n"
    assert complete("python", marked, output, size) == " y:\n        return 1"


def test_python_statement_continued_past_an_else_is_one_node() -> None:
    marked = "def f(x):\n    if x‸\n"
    output = ":\n        return 1\n    else:\n        return 2\n    print(x)\n"
    assert complete("python", marked, output) == (
        ":\n        return 1\n    else:\n        return 2"
    )


def test_python_opener_on_the_cursor_line_keeps_the_leading_line_break() -> None:
    output = "\n    x = 1\n    return x\n\nprint(f())\n"
    assert complete("python", "def f():‸\n", output) == "\n    x = 1\n    return x"


def test_python_single_statement_on_the_cursor_line() -> None:
    assert complete("python", "x = ‸\n", "1 + 2\ny = 3\n") == "1 + 2"


# --- TypeScript -------------------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_typescript_function_body_leaves_the_closing_brace_to_the_suffix(size: int) -> None:
    marked = "function add(a: number, b: number): number {\n  ‸\n}\n"
    output = "const sum = a + b;\n  return sum;\n}\n\nfunction sub(a: number) {\n"
    assert complete("typescript", marked, output, size) == "const sum = a + b;\n  return sum;"


@pytest.mark.parametrize("size", SIZES)
def test_typescript_function_body_at_the_end_of_the_file_closes_itself(size: int) -> None:
    marked = "function add(a: number, b: number): number {\n  ‸"
    output = "const sum = a + b;\n  return sum;\n}\n\nfunction sub(a: number) {\n"
    assert complete("typescript", marked, output, size) == "const sum = a + b;\n  return sum;\n}"


def test_typescript_inner_block_is_closed_when_the_suffix_closes_an_outer_one() -> None:
    marked = "function f(x: boolean) {\n  if (x) {\n    ‸\n}\n"
    output = "run();\n  }\n  return 1;\n}\n"
    assert complete("typescript", marked, output) == "run();\n  }"


def test_typescript_nested_blocks_inside_the_completion_are_kept() -> None:
    marked = "function f(x: boolean) {\n  ‸\n}\n"
    output = "if (x) {\n    run();\n  }\n  return 1;\n}\n"
    assert complete("typescript", marked, output) == "if (x) {\n    run();\n  }\n  return 1;"


@pytest.mark.parametrize("size", SIZES)
def test_typescript_if_block(size: int) -> None:
    marked = "function f(x: number) {\n  if (x > 0) {\n    ‸\n  }\n  return 0;\n}\n"
    output = "console.log(x);\n    return x;\n  }\n  return 0;\n}\n"
    assert complete("typescript", marked, output, size) == "console.log(x);\n    return x;"


def test_typescript_empty_body_on_one_line() -> None:
    output = "\n  return 1;\n}\n\nfoo();\n"
    assert complete("typescript", "function f(): number {‸}\n", output) == "\n  return 1;"


def test_typescript_object_literal() -> None:
    marked = "const options = {\n  ‸\n};\n"
    output = "retries: 3,\n  timeout: 1000,\n};\n\nrun(options);\n"
    assert complete("typescript", marked, output) == "retries: 3,\n  timeout: 1000,"


def test_typescript_callback_closes_brace_and_parenthesis() -> None:
    marked = "items.forEach((item) => {\n  ‸\n"
    assert complete("typescript", marked, "use(item);\n});\n\nnext();\n") == "use(item);\n});"


def test_typescript_callback_leaves_the_parenthesis_the_suffix_has() -> None:
    marked = "items.forEach((item) => {\n  ‸\n)\n"
    assert complete("typescript", marked, "use(item);\n})\n\nnext();\n") == "use(item);\n}"


def test_typescript_statement_on_the_cursor_line_ends_with_its_node() -> None:
    assert complete("typescript", "const x = ‸\n", "1 + 2; const y = 3;\nf();\n") == "1 + 2;"


# --- Go ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_go_function_body_leaves_the_closing_brace_to_the_suffix(size: int) -> None:
    marked = "package main\n\nfunc f() int {\n\t‸\n}\n"
    output = "x := 1\n\treturn x\n}\n\nfunc g() {\n"
    assert complete("go", marked, output, size) == "x := 1\n\treturn x"


@pytest.mark.parametrize("size", SIZES)
def test_go_function_body_at_the_end_of_the_file_closes_itself(size: int) -> None:
    marked = "package main\n\nfunc f() int {\n\t‸"
    output = "x := 1\n\treturn x\n}\n\nfunc g() {\n"
    assert complete("go", marked, output, size) == "x := 1\n\treturn x\n}"


def test_go_if_block_inside_a_function() -> None:
    marked = "package main\n\nfunc f(x int) int {\n\tif x > 0 {\n\t\t‸\n\t}\n\treturn 0\n}\n"
    assert complete("go", marked, "return x\n\t}\n\treturn 0\n}\n") == "return x"


def test_go_struct_literal_inside_the_completion() -> None:
    marked = "package main\n\nfunc f() S {\n\t‸\n}\n"
    output = "s := S{\n\t\tA: 1,\n\t}\n\treturn s\n}\n"
    assert complete("go", marked, output) == "s := S{\n\t\tA: 1,\n\t}\n\treturn s"


def test_go_line_that_repeats_the_suffix_ends_the_completion() -> None:
    marked = "package main\n\nfunc f() int {\n\t‸\n\treturn x\n}\n"
    assert complete("go", marked, "x := 1\n\treturn x\n}\n") == "x := 1"


def test_go_call_closing_bracket_in_the_suffix() -> None:
    marked = "package main\n\nfunc f() {\n\tfmt.Println(‸)\n}\n"
    assert complete("go", marked, '"hi", x)\n}\n') == '"hi", x'


@pytest.mark.parametrize(
    ("language_id", "marked", "output", "kept"),
    [
        # From the real-code benchmark: the closer ends the condition the cursor line opened,
        # and the block opener after it belongs to the same statement.
        ("typescript", "function f(r) {\n  if (r.ext‸\n    g();\n  }\n}\n",
         "raQueryParameters) {\n    g();\n", "raQueryParameters) {"),
        ("python", "def f(x):\n    if isinstance(‸\n        return x\n",
         "x, str):\n        return x\n", "x, str):"),
        ("go", "package main\n\nfunc (c *C) Serve(w htt‸\n\tc.n++\n}\n",
         "p.ResponseWriter, r *http.Request) {\n\tc.n++\n", "p.ResponseWriter, r *http.Request) {"),
    ],
)  # fmt: skip
def test_the_rest_of_the_line_after_a_closer_the_suffix_lacks_is_kept(
    language_id: str, marked: str, output: str, kept: str
) -> None:
    assert complete(language_id, marked, output) == kept


# --- other languages and plain text -----------------------------------------------------------


def test_lua_end_is_kept_when_the_suffix_has_none() -> None:
    assert complete("lua", "function f()\n  ‸\n", "return 1\nend\n\nprint(f())\n") == (
        "return 1\nend"
    )


def test_lua_end_is_left_to_the_suffix() -> None:
    marked = "function f()\n  ‸\nend\n"
    assert complete("lua", marked, "return 1\nend\n\nprint(f())\n") == "return 1"


def test_plain_text_uses_indentation_and_brackets() -> None:
    assert complete(None, "def f():\n    ‸\n", "return 1\n\nx = 2\n") == "return 1"
    assert complete(None, "f(‸)\n", "a, b)\n") == "a, b"


# --- stops, limits and text -------------------------------------------------------------------


@pytest.mark.parametrize("size", [1, 2, 5, 100])
@pytest.mark.parametrize("stop", QWEN_STOPS)
def test_prompt_stop_cuts_even_when_split_across_pieces(size: int, stop: str) -> None:
    cut = cut_at("python", "def f():\n    ‸\n", QWEN_STOPS)
    pieces = chunks(f"x = 1\n    return x{stop}garbage\nmore", size)
    used = stream(cut, pieces)
    assert cut.done
    assert cut.text == "x = 1\n    return x"
    assert stop in "".join(pieces[:used])


def test_language_stop_sequence() -> None:
    marked = "x = 1\n‸\n"
    output = "def f():\n    return 1\n\ndef g():\n    return 2\n"
    assert complete("python", marked, output) == "def f():\n    return 1"
    assert complete("go", "package main\n\n‸", "var x = 1\nfunc g() {}\n") == "var x = 1"


@pytest.mark.parametrize("info", supported_languages(), ids=lambda info: info.id)
def test_every_language_stops_only_at_column_zero(info: LanguageInfo) -> None:
    # An indented line, as every line of a body is, never starts a stop sequence.
    assert info.stop_sequences
    assert all(stop[0] == "\n" and not stop[1].isspace() for stop in info.stop_sequences)


@pytest.mark.parametrize(
    ("language", "stop"),
    [(info.id, stop) for info in supported_languages() for stop in info.stop_sequences],
)
def test_language_stop_sequences_cut_before_the_next_declaration(language: str, stop: str) -> None:
    indented = stop.replace("\n", "\n    ")
    output = f"first{indented}x{stop}next\n"
    # Without a parser no syntax rule ends the completion first: the stop alone decides.
    cut = SyntaxCut("", "", language_for(language), None)
    stream(cut, chunks(output, 1))
    assert cut.text == f"first{indented}x"


@pytest.mark.parametrize(
    ("language", "output", "expected"),
    [
        ("java", "class A {\n    int x;\n}\n\npublic class B {}\n", "class A {\n    int x;\n}"),
        (
            "c",
            "int f(void) {\n    static int n;\n}\n\nstatic int g;\n",
            "int f(void) {\n    static int n;\n}",
        ),
        (
            "cpp",
            "int f() {\n    return 1;\n}\n\ntemplate <class T>\nT g();\n",
            "int f() {\n    return 1;\n}",
        ),
    ],
)
def test_new_top_level_declaration_ends_a_top_level_completion(
    language: str, output: str, expected: str
) -> None:
    assert complete(language, "‸", output) == expected


def test_stop_sequence_right_away_gives_nothing() -> None:
    assert complete("python", "x = 1‸\n", "\ndef g():\n    pass\n") == ""


@pytest.mark.parametrize("size", SIZES)
def test_max_lines(size: int) -> None:
    output = "a = 1\n    b = 2\n    c = 3\n"
    assert complete("python", "def f():\n    ‸\n", output, size, max_lines=2) == (
        "a = 1\n    b = 2"
    )
    assert complete("python", "def f():\n    ‸\n", output, size, max_lines=0) == "a = 1"


def test_leading_line_break_is_kept_and_not_counted_as_a_line() -> None:
    output = "\n    a = 1\n    b = 2\n"
    assert complete("python", "def f():‸\n", output, max_lines=1) == "\n    a = 1"


@pytest.mark.parametrize(("output", "expected"), [("", ""), ("\n", ""), ("  \n  \n", "")])
def test_whitespace_output_is_no_completion(output: str, expected: str) -> None:
    assert complete("python", "def f():\n    ‸\n", output) == expected


def test_crlf_line_breaks_are_kept() -> None:
    marked = "def f():\r\n    ‸\r\n"
    output = "x = 1\r\n    return x\r\n\r\ndef g():\r\n"
    assert complete("python", marked, output) == "x = 1\r\n    return x"


def test_a_carriage_return_at_the_end_of_a_piece_waits_for_its_line_feed() -> None:
    cut = cut_at("python", "def f():\n    ‸\n")
    stream(cut, ["x = 1\r", "\n    return x\r", "\n"])
    assert cut.text == "x = 1\r\n    return x"


def test_text_mid_stream_judges_the_unfinished_line_without_changing_the_cut() -> None:
    cut = cut_at("python", "def f():\n    ‸\n    return x\n")
    assert cut.feed("x = 1\n    return x") is False
    assert cut.text == "x = 1"
    assert cut.feed("  # done\n") is False
    assert cut.text == "x = 1\n    return x  # done"


def test_discarded_counts_what_was_generated_but_not_kept() -> None:
    cut = cut_at("python", "def f():\n    ‸\n", QWEN_STOPS)
    stream(cut, ["x = 1   \n", "print(x)\n", "junk"])
    assert cut.text == "x = 1"
    assert cut.discarded == len("x = 1   \nprint(x)\n") - len("x = 1")


def test_pieces_fed_after_the_end_count_as_discarded() -> None:
    cut = cut_at("python", "x = ‸\n", QWEN_STOPS)
    assert cut.feed("1<|endoftext|>") is True
    assert cut.feed("more") is True
    assert cut.text == "1"
    assert cut.discarded == len("<|endoftext|>more")


# --- streaming: done as soon as the end is known ----------------------------------------------


def feed_until_done(cut: SyntaxCut, pieces: list[str]) -> list[str]:
    """The pieces fed before feed() said done, the last of them included."""
    fed = []
    for piece in pieces:
        fed.append(piece)
        if cut.feed(piece):
            return fed
    raise AssertionError(f"not done after {fed}")


def test_streaming_stops_on_the_first_character_of_a_dedented_line() -> None:
    cut = cut_at("python", "def f(a):\n    ‸\n")
    tokens = ["total", " =", " a", " *", " 2", "\n", "   ", " return", " total", "\n", "\n"]
    tokens += ["print", "(f", "(2", "))", "\n", "x", " =", " 1"]
    fed = feed_until_done(cut, tokens)
    assert fed[-1] == "print"
    assert cut.text == "total = a * 2\n    return total"


def test_streaming_stops_on_the_line_break_after_a_closing_brace_the_suffix_has() -> None:
    cut = cut_at("typescript", "function f() {\n  ‸\n}\n")
    tokens = ["return", " 1", ";", "\n", "}", "\n", "\n", "function", " g", "()", " {", "\n"]
    fed = feed_until_done(cut, tokens)
    assert fed == tokens[:6]
    assert cut.text == "return 1;"


def test_streaming_stops_once_a_line_repeats_the_suffix() -> None:
    cut = cut_at("go", "package main\n\nfunc f() int {\n\t‸\n\treturn x\n}\n")
    tokens = ["x", " :=", " 1", "\n", "\t", "return", " x", "\n", "}", "\n", "func"]
    fed = feed_until_done(cut, tokens)
    assert fed == tokens[:8]
    assert cut.text == "x := 1"


def test_streaming_stops_when_the_statement_on_the_cursor_line_is_over() -> None:
    cut = cut_at("python", "value = compute(‸\n")
    tokens = ["a", ",", " b", ")", "\n", "print", "(value", ")", "\n"]
    fed = feed_until_done(cut, tokens)
    assert fed == tokens[:5]
    assert cut.text == "a, b)"


def test_streaming_waits_while_the_answer_is_open() -> None:
    cut = cut_at("python", "def f(a):\n    ‸\n")
    for token in ["if", " a", ":", "\n", "       ", " return", " 1", "\n", "    ", "return"]:
        assert cut.feed(token) is False
    assert cut.text == "if a:\n        return 1\n    return"


# --- without_new_errors -----------------------------------------------------------------------


def _keep_at(language_id: str, prefix: str, completion: str, suffix: str) -> str:
    info = language_for(language_id)
    assert info is not None
    document = ParsedText(prefix + suffix, parser_for(info))
    return without_new_errors(document, completion, lambda c: Edit(len(prefix), len(prefix), c))


def _keep(language_id: str, marked: str, completion: str) -> str:
    prefix, suffix = marked.split(CURSOR)
    return _keep_at(language_id, prefix, completion, suffix)


@pytest.mark.parametrize(
    ("language_id", "prefix", "completion", "suffix", "broken"),
    [
        ("python", "def f(a):\n    ", "return a + 1", "\n", False),
        ("python", "def f(a):\n    ", "return (a + 1", "\n", True),
        ("python", "x = compute(", "a, b", ")\n", False),
        ("python", "x = compute(", "a, b)", ")\n", True),
        ("typescript", "function f() {\n  ", "return 1;", "\n}\n", False),
        ("typescript", "function f() {\n  ", "return 1;\n}", "\n}\n", True),
        ("go", "package main\n\nfunc f() int {\n\t", "return 1", "\n}\n", False),
        ("go", "package main\n\nfunc f() int {\n\t", "return 1 +", "\n}\n", True),
    ],
)
def test_a_completion_that_adds_a_syntax_error_is_cut(
    language_id: str, prefix: str, completion: str, suffix: str, broken: bool
) -> None:
    assert (_keep_at(language_id, prefix, completion, suffix) != completion) is broken


def test_errors_already_in_the_document_are_not_the_completions() -> None:
    prefix = "def broken(:\n    pass\n\ndef f():\n    "
    assert _keep_at("python", prefix, "return 1", "\n") == "return 1"


def test_a_completion_that_parses_is_kept_whole() -> None:
    marked = "def f(a):\n    ‸\n"
    assert _keep("python", marked, "b = a + 1\n    return b") == "b = a + 1\n    return b"


def test_the_lines_that_break_the_file_are_dropped() -> None:
    # The Go case from the real-code benchmark: the suffix's `}` closes the function, so the
    # model's own closing brace is one too many; its first line is right.
    marked = "package main\n\nfunc f(b []byte) {\n\t‸\n\tvar l string\n\t_ = l\n}\n"
    completion = "r := b\n\t_ = r\n}"
    assert _keep("go", marked, completion) == "r := b\n\t_ = r"


def test_nothing_is_offered_when_even_the_first_line_breaks_the_file() -> None:
    marked = "function f(a: number) {\n  return g(‸);\n}\n"
    assert _keep("typescript", marked, "a)) + (") == ""


def test_errors_the_document_already_has_do_not_count_against_the_completion() -> None:
    # The removed line opened the `if` block that the suffix's `}` closes: the document has
    # that error before and after, and a statement that adds none is kept.
    marked = "package main\n\nfunc f(x int) {\n\t‸\n\t\tpanic(x)\n\t}\n}\n"
    assert _keep("go", marked, "x++") == "x++"


def test_a_candidate_that_makes_no_edit_is_not_offered() -> None:
    info = language_for("python")
    assert info is not None
    assert without_new_errors(ParsedText("x = 1\n", parser_for(info)), "y", lambda c: None) == ""
