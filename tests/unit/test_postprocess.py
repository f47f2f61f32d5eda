"""Tests for lsp_server.completion.edit and text.brackets: the streaming line cut, the edit a
completion makes, and bracket depth."""

import pytest

from lsp_server.completion.edit import (
    Edit,
    LineCut,
    leading_break,
    make_edit,
    repeats_suffix,
)
from lsp_server.text.brackets import bracket_depth, bracket_trace

QWEN_STOPS = ("<|endoftext|>", "<|fim_pad|>", "<|file_sep|>", "<|fim_middle|>")


def chunks(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def stream(cut: LineCut, pieces: list[str]) -> int:
    """Feed pieces until the cut says it is done, as the completer does; returns pieces used."""
    for used, piece in enumerate(pieces, 1):
        if cut.feed(piece):
            return used
    return len(pieces)


def cut_of(output: str, size: int = 1, stops: tuple[str, ...] = (), max_lines: int = 1) -> str:
    cut = LineCut(stops, max_lines)
    stream(cut, chunks(output, size))
    return cut.text


# --- LineCut ----------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [1, 2, 3, 7, 1000])
@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("name)\n    return x\n", "name)"),
        ("name)", "name)"),
        ("value = compute(a, b)   \nmore", "value = compute(a, b)"),
        ("\n    return total\n    x = 1\n", "\n    return total"),
        ("\n    return total", "\n    return total"),
        ("\n\n    return total\n", ""),
        ("\n   \nmore\n", ""),
        ("   \nmore\n", ""),
        ("", ""),
        ("\n", ""),
        ("x\t \n", "x"),
        ("foo\r\nbar\r\n", "foo"),
    ],
)
def test_line_cut_keeps_the_first_line(size, output, expected):
    assert cut_of(output, size) == expected


@pytest.mark.parametrize("size", [1, 2, 5, 100])
def test_line_cut_stops_at_the_first_line_break(size):
    output = "first line\nsecond line\nthird line\n"
    cut = LineCut()
    pieces = chunks(output, size)
    used = stream(cut, pieces)
    assert cut.done
    # Done on the very piece that holds the first line break, not later.
    assert "\n" not in "".join(pieces[: used - 1])
    assert "\n" in pieces[used - 1]
    assert cut.text == "first line"


def test_line_cut_feed_reports_done_only_once_the_line_ends():
    cut = LineCut()
    assert cut.feed("ret") is False
    assert cut.feed("urn x") is False
    assert not cut.done
    assert cut.feed(" + 1\nnext") is True
    assert cut.done
    assert cut.text == "return x + 1"


def test_leading_line_break_is_not_the_end():
    cut = LineCut()
    assert cut.feed("\n") is False
    assert cut.feed("    return x") is False
    assert cut.text == "\n    return x"
    assert cut.feed("\n") is True
    assert cut.text == "\n    return x"


def test_two_leading_line_breaks_are_an_empty_completion():
    cut = LineCut()
    assert cut.feed("\n") is False
    assert cut.feed("\n") is True
    assert cut.text == ""


def test_two_leading_line_breaks_in_one_piece():
    cut = LineCut()
    assert cut.feed("\n\nx = 1\n") is True
    assert cut.text == ""


def test_unfinished_output_is_not_done():
    cut = LineCut(QWEN_STOPS)
    assert cut.feed("partial") is False
    assert not cut.done
    assert cut.text == "partial"


@pytest.mark.parametrize("size", [1, 2, 3, 4, 100])
@pytest.mark.parametrize("stop", QWEN_STOPS)
def test_stop_string_cuts_even_when_split_across_pieces(size, stop):
    cut = LineCut(QWEN_STOPS)
    pieces = chunks(f"name){stop}garbage\nmore", size)
    used = stream(cut, pieces)
    assert cut.done
    assert cut.text == "name)"
    assert cut.raw == "name)"
    assert stop in "".join(pieces[:used])


def test_stop_string_reports_done_on_the_piece_that_completes_it():
    cut = LineCut(("<|endoftext|>",))
    assert cut.feed("x<|endof") is False
    assert cut.feed("text|>") is True
    assert cut.done
    assert cut.text == "x"


def test_stop_string_at_the_start_gives_an_empty_completion():
    cut = LineCut(QWEN_STOPS)
    assert cut.feed("<|endoftext|>") is True
    assert cut.text == ""


def test_stop_string_after_a_leading_line_break():
    cut = LineCut(QWEN_STOPS)
    stream(cut, ["\n", "    pass", "<|file_sep|>", "x"])
    assert cut.text == "\n    pass"


def test_text_that_only_resembles_a_stop_is_kept():
    assert cut_of("a <|endof x\n", 1, QWEN_STOPS) == "a <|endof x"


def test_two_stops_in_one_piece_cut_at_the_earlier():
    cut = LineCut(("<|endoftext|>", "<|file_sep|>"))
    cut.feed("foo<|file_sep|>bar<|endoftext|>")
    assert cut.text == "foo"


def test_leading_crlf_means_the_next_line_is_the_completion():
    cut = LineCut()
    stream(cut, ["\r\n", "    return total", "\r\n", "x"])
    assert cut.text.strip() == "return total"


def test_lone_carriage_return_ends_the_line():
    cut = LineCut()
    stream(cut, ["foo", "\r", "bar", "\r"])
    assert cut.text == "foo"


@pytest.mark.parametrize("size", [1, 4, 100])
def test_max_lines_keeps_that_many_lines(size):
    output = "if x:\n    return 1  \n    return 2\nmore\n"
    assert cut_of(output, size, max_lines=2) == "if x:\n    return 1"
    assert cut_of(output, size, max_lines=3) == "if x:\n    return 1\n    return 2"


def test_max_lines_with_a_leading_line_break():
    assert cut_of("\na\nb\nc\n", 1, max_lines=2) == "\na\nb"


def test_max_lines_below_one_means_one():
    assert cut_of("a\nb\n", 1, max_lines=0) == "a"


def test_multiline_cut_strips_trailing_blank_lines():
    assert cut_of("a\n\n", 1, max_lines=3) == "a"


# --- repeats_suffix ---------------------------------------------------------------------------


@pytest.mark.parametrize("completion", ["", " ", "\n", "  \t\n  "])
def test_whitespace_completion_repeats_anything(completion):
    assert repeats_suffix(completion, ")", ")\n")
    assert repeats_suffix(completion, "", "")


def test_completion_that_retypes_the_rest_of_the_line_repeats_it():
    assert repeats_suffix(")", ")", ")\nnext\n")
    assert repeats_suffix("):", "):  ", "):  \nnext\n")
    assert repeats_suffix(")", ") + 1", ") + 1\n")  # the start of the rest


def test_completion_with_new_text_does_not_repeat():
    assert not repeats_suffix("name)", ")", ")\n")
    assert not repeats_suffix("x", "", "\nx\n")
    assert not repeats_suffix(")", "", "")


def test_next_line_completion_that_matches_the_next_line_repeats_it():
    assert repeats_suffix("\n    return x", "", "\n    return x\n")
    assert repeats_suffix("\n    return x", "  # done", "  # done\n    return x\n")
    assert repeats_suffix("\nreturn x", "", "\r\n  return x  \r\n")


def test_next_line_completion_that_differs_from_the_next_line():
    assert not repeats_suffix("\n    return x", "", "\n    return y\n")
    assert not repeats_suffix("\n    return x", "", "")


# --- bracket_depth ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ("", 0),
        ("f(", 1),
        ("f(a)", 0),
        ("x = [{(", 3),
        ("])}", -3),
        ("f(a))", -1),
        ("print('(')", 0),
        ('print("(")', 0),
        ("print(`(`)", 0),
        ('s = "a\\"("', 0),  # an escaped quote does not close the string
        ("s = 'it\\'s ('", 0),
        ('s = "\\\\"(', 1),  # an escaped backslash does not escape the closing quote
        ("s = '\"(' + (", 1),  # the other quote inside a string is plain text
        ("f('unterminated (", 1),
        ("\\(", 1),  # a backslash outside strings escapes nothing
        ("# don't\nf(", 1),  # a quote left open ends at the line break
        ("s = 'a\r(", 1),
    ],
)
def test_bracket_depth(text, depth):
    assert bracket_depth(text) == depth


def test_bracket_trace_gives_each_bracket_and_the_depth_after_it():
    assert list(bracket_trace("f(a[0], ')') }")) == [(1, 1), (3, 2), (5, 1), (11, 0), (13, -1)]
    assert list(bracket_trace("no brackets")) == []


@pytest.mark.parametrize(
    ("text", "lead"), [("\nx", "\n"), ("\r\nx", "\r\n"), ("\rx", "\r"), ("x\n", "")]
)
def test_leading_break(text, lead):
    assert leading_break(text) == lead


# --- make_edit --------------------------------------------------------------------------------


def edit_for(line: str, completion: str, after: str = "\n") -> Edit | None:
    """The edit for `completion` at the `|` in `line`, the line being the document's first."""
    cursor = line.index("|")
    line_prefix, line_suffix = line[:cursor], line[cursor + 1 :]
    return make_edit(cursor, line_prefix, line_suffix, line_suffix + after, completion)


def accept(line: str, edit: Edit) -> str:
    text = line.replace("|", "")
    return text[: edit.start] + edit.text + text[edit.end :]


def test_completion_at_end_of_line_is_inserted():
    edit = edit_for("x = |", "compute(a, b)")
    assert edit == Edit(4, 4, "compute(a, b)")


def test_cursor_mid_word_starts_the_edit_at_the_word():
    line = "    return fo|"
    edit = edit_for(line, "o(bar)")
    assert edit == Edit(len("    return "), len("    return fo"), "foo(bar)")
    assert accept(line, edit) == "    return foo(bar)"


def test_word_is_letters_digits_and_underscores():
    edit = edit_for("x = my_var2|", ".attr")
    assert edit == Edit(4, 11, "my_var2.attr")
    edit = edit_for("x = a.b|", "ar")
    assert edit == Edit(6, 7, "bar")


def test_retyped_closing_bracket_replaces_the_rest_of_the_line():
    line = "greet(|)"
    edit = edit_for(line, "name)")
    assert edit == Edit(6, 7, "name)")
    assert accept(line, edit) == "greet(name)"


def test_balanced_completion_before_a_closer_is_inserted():
    line = "greet(|)"
    edit = edit_for(line, "f(x)")
    assert edit == Edit(6, 6, "f(x)")
    assert accept(line, edit) == "greet(f(x))"


def test_completion_that_closes_and_comments_replaces_the_rest():
    line = "greet(|)"
    edit = edit_for(line, ")  # comment")
    assert edit is not None
    assert accept(line, edit) == "greet()  # comment"


def test_retyped_rest_with_word_prefix():
    line = "print(valu|)"
    edit = edit_for(line, "e)")
    assert edit == Edit(6, 11, "value)")
    assert accept(line, edit) == "print(value)"


def test_retyped_rest_keeps_trailing_whitespace_outside_the_edit():
    line = "greet(|)   "
    edit = edit_for(line, "name)")
    assert edit == Edit(6, 7, "name)")
    assert accept(line, edit) == "greet(name)   "


def test_retyped_string_and_bracket():
    line = 'print("|")'
    edit = edit_for(line, 'hello")')
    assert edit is not None
    assert accept(line, edit) == 'print("hello")'


def test_completion_equal_to_the_rest_of_the_line_is_no_edit():
    assert edit_for("greet(|)", ")") is None
    assert edit_for("greet(|name)", "name)") is None
    assert edit_for("x = |1  ", " 1") is None


@pytest.mark.parametrize("completion", ["", " ", "   ", "\t", "\n", "\n   "])
def test_whitespace_completion_is_no_edit(completion):
    assert edit_for("x = |", completion) is None
    assert edit_for("greet(|)", completion) is None


def test_next_line_completion_is_inserted_after_the_cursor():
    line = "def f():|"
    edit = edit_for(line, "\n    return 1", after="\n")
    assert edit == Edit(8, 8, "\n    return 1")


def test_next_line_completion_that_repeats_the_next_line_is_no_edit():
    cursor = len("def f():")
    assert make_edit(cursor, "def f():", "", "\n    return 1\n", "\n    return 1") is None


def test_multiline_completion_never_replaces_the_rest_of_the_line():
    line = "greet(|)"
    edit = edit_for(line, "\n    name)")
    assert edit is not None
    assert edit.end == edit.start == 6


def test_edit_offsets_are_document_offsets():
    text = "first line\nsecond(|)\n"
    cursor = text.index("|")
    line_start = text.rindex("\n", 0, cursor) + 1
    document = text.replace("|", "")
    line_prefix = document[line_start:cursor]
    line_suffix = document[cursor : document.index("\n", cursor)]
    edit = make_edit(cursor, line_prefix, line_suffix, document[cursor:], "arg)")
    assert edit == Edit(cursor, cursor + 1, "arg)")
    assert document[: edit.start] + edit.text + document[edit.end :] == (
        "first line\nsecond(arg)\n"
    )


def test_a_completion_stops_where_it_would_retype_the_call_after_the_cursor():
    from lsp_server.completion.edit import stop_at_suffix_opener

    assert stop_at_suffix_opener("s_fas_geometry(10, 5)", "(3, 4)") == "s_fas_geometry"
    assert stop_at_suffix_opener("ems[0]", "[1]") == "ems"
    # Nothing after the cursor, or text that does not start with a bracket: left alone.
    assert stop_at_suffix_opener("print(x)", "") == "print(x)"
    assert stop_at_suffix_opener("a + b", " # note") == "a + b"
    # A completion that starts with the bracket is the argument list itself.
    assert stop_at_suffix_opener("(x)", "(y)") == "(x)"
