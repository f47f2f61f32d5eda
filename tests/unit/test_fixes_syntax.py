"""Tests for lsp_server.fixes.syntax: problems from real grammars' ERROR and MISSING nodes."""

import pytest

from lsp_server.fixes.problems import Problem
from lsp_server.fixes.syntax import _visible_range, syntax_error_nodes, syntax_problems
from lsp_server.text.languages import language_for, parser_for
from lsp_server.text.line_index import utf8


def problems(language_id: str, text: str, limit: int = 50) -> list[Problem]:
    info = language_for(language_id)
    assert info is not None
    tree = parser_for(info).parse(utf8(text))
    return syntax_problems(tree, text, limit)


def spans(language_id: str, text: str) -> list[tuple[str, str]]:
    """(covered text, message) for each problem."""
    return [(text[p.start : p.end], p.message) for p in problems(language_id, text)]


# (language, text, the covered text and message of its one problem)
CASES = [
    ("python", "x = 1 +\n", "x = 1 +", 'unexpected "x = 1 +"'),
    ("python", "x = (1, 2\ny = 3\n", "(", '"(" was never closed'),
    ("python", "def f(x:\n    return x\n", "(", '"(" was never closed'),
    ("python", "x = 1)\n", ")", 'unexpected ")"'),
    ("python", "print(x))\n", ")", 'unexpected ")"'),
    ("python", "foo(a b)\n", "b", 'unexpected "b"'),
    ("python", "def f(:\n  pass\n", "(", 'missing ")"'),
    ("python", "if x\n    pass\n", "if x", 'unexpected "if x"'),
    ("javascript", "let x = 1 +;\n", "+", 'unexpected "+"'),
    ("javascript", "const a = {b: 1\n", "{", '"{" was never closed'),
    ("javascript", "function f() {\n  if (x {\n    return 1;\n  }\n}\n", "x", 'missing ")"'),
    ("typescript", "let x: number = ;\n", "=", 'unexpected "="'),
    ("typescript", "function f(a: string { }\n", "g", 'missing ")"'),
    ("go", "package main\nfunc main() { x := 1 +\n}\n", "+", 'unexpected "+"'),
    ("go", 'package main\nfunc main() {\n  fmt.Println("a"\n}\n', '"', 'missing ")"'),
    ("rust", "fn main() { let x = 1 }\n", "1", 'missing ";"'),
    ("rust", "fn f() { let x = ; }\n", "=", 'unexpected "="'),
    ("java", "class A { void m() { int x = 1 } }\n", "1", 'missing ";"'),
    ("java", "class A { void m() { foo(1 } }\n", "(", '"(" was never closed'),
    ("c", "int main() { return 0 }\n", "0", 'missing ";"'),
    ("c", "int main( { }\n", "(", '"(" was never closed'),
]


@pytest.mark.parametrize(("language_id", "text", "covered", "message"), CASES)
def test_each_case_has_one_precise_problem(
    language_id: str, text: str, covered: str, message: str
) -> None:
    assert spans(language_id, text) == [(covered, message)]


@pytest.mark.parametrize(
    ("language_id", "text"),
    [
        ("python", "def f(x):\n    return x\n"),
        ("typescript", "const f = (x: number): number => x;\n"),
        ("javascript", "function f(a) { return a; }\n"),
        ("go", "package main\nfunc main() {}\n"),
        ("rust", "fn main() {}\n"),
        ("java", "class A {}\n"),
        ("c", "int main(void) { return 0; }\n"),
        ("python", ""),
    ],
)
def test_valid_code_has_no_problems(language_id: str, text: str) -> None:
    assert problems(language_id, text) == []


def test_problem_fields_for_a_missing_token() -> None:
    text = "fn main() { let x = 1 }\n"
    (problem,) = problems("rust", text)
    assert problem.severity == "error"
    assert problem.code == "syntax"
    # The empty MISSING node sits after "1"; the range covers the character before it.
    assert problem.data == {"missing": ";", "offset": text.index(" }")}
    assert (problem.start, problem.end) == (text.index(" }") - 1, text.index(" }"))


def test_missing_named_node_says_its_kind() -> None:
    text = "class A { int = 1; }\n"
    [problem] = problems("java", text)
    assert problem.message == "missing identifier"
    assert problem.data is None
    assert text[problem.start : problem.end] == "t"


def test_unclosed_bracket_names_the_closer_in_data() -> None:
    (problem,) = problems("python", "x = [1, 2\n")
    assert problem.message == '"[" was never closed'
    assert problem.data == {"missing": "]"}


def test_nested_errors_are_reported_once() -> None:
    text = "def g():\n    a = 1\n    b = foo(a, \n    return b\n\ndef h():\n    return 2\n"
    info = language_for("python")
    assert info is not None
    tree = parser_for(info).parse(text.encode())
    # The tree holds an ERROR inside an ERROR; only the outer one becomes a problem.
    assert spans("python", text) == [("(", '"(" was never closed')]
    assert len(list(syntax_error_nodes(tree))) == 1


def test_an_error_wrapping_a_class_reports_the_broken_method_inside() -> None:
    text = "class A:\n    def f(self)\n        x = self.a + b\n        return x\n"
    assert spans("python", text) == [("def f(self)", 'unexpected "def f(self)"')]


def test_whole_lines_swept_into_an_error_are_not_blamed() -> None:
    text = "class A:\n    def g(self):\n        return 1\n\n    def f(self)\n        return 2\n"
    [(covered, _)] = spans("python", text)
    assert covered == "def f(self)"


def test_multi_line_error_is_narrowed_to_its_first_line() -> None:
    text = "for x in y\n    print(x)\n"
    [problem] = problems("python", text)
    assert "\n" not in text[problem.start : problem.end]


def test_long_error_in_a_nested_node_names_the_parent_kind() -> None:
    text = "class A:\n    def f(self):\n        return self.alpha_beta_gamma +* 2\n"
    [(covered, message)] = spans("python", text)
    assert covered == "return self.alpha_beta_gamma +* 2"
    assert message == "syntax error in function definition"


def test_long_error_at_top_level_quotes_an_excerpt() -> None:
    text = "x = alpha_beta_gamma_delta + epsilon_zeta_eta +\n"
    [(_, message)] = spans("python", text)
    assert message.startswith('syntax error near "x = alpha_beta')
    assert message.endswith('…"')


def test_offsets_count_code_points_not_bytes() -> None:
    text = "s = 'héllo wörld ✓ 😀'\nprint(s + foo bar)\n"
    [(covered, message)] = spans("python", text)
    assert covered == "bar"
    assert message == 'unexpected "bar"'


def test_non_ascii_before_a_missing_token_in_typescript() -> None:
    text = "const s = 'é😀';\nfunction f(a: string { }\n"
    [(covered, message)] = spans("typescript", text)
    assert (covered, message) == ("g", 'missing ")"')


def test_non_ascii_in_go_and_java() -> None:
    go = 'package main\nfunc main() {\n  fmt.Println("ü"\n}\n'
    assert spans("go", go) == [('"', 'missing ")"')]
    java = 'class A { void m() { String s = "日本"; int x = 1 } }\n'
    assert spans("java", java) == [("1", 'missing ";"')]


def test_crlf_text() -> None:
    text = "x = 1\r\ny = (2,\r\nz = 3\r\n"
    assert spans("python", text) == [("(", '"(" was never closed')]


def test_several_problems_in_document_order_bounded_by_limit() -> None:
    text = "".join(f"int f{i}() {{ return {i} }}\n" for i in range(10))
    found = problems("c", text)
    assert len(found) == 10
    assert [p.start for p in found] == sorted(p.start for p in found)
    assert len(problems("c", text, limit=3)) == 3
    assert problems("c", text, limit=0) == []


def test_every_range_is_inside_the_text_and_non_empty() -> None:
    texts = {
        "python": "def (:\n",
        "javascript": "}}}\n",
        "typescript": "let = ;\n",
        "go": "package\n",
        "rust": "fn {\n",
        "java": "class {\n",
        "c": "int (\n",
    }
    for language_id, text in texts.items():
        found = problems(language_id, text)
        assert found, language_id
        for problem in found:
            assert 0 <= problem.start < problem.end <= len(text), (language_id, problem)


def test_missing_token_at_start_of_line_takes_the_next_character() -> None:
    assert _visible_range("a\nb", 2, 2) == (2, 3)
    assert _visible_range("a", 1, 1) == (0, 1)
    assert _visible_range("", 0, 0) == (0, 0)
    assert _visible_range("\n", 1, 1) == (1, 1)
