"""Tests for lsp_server.fixes.verify: which candidate fixes may be offered."""

import pytest

from lsp_server.fixes.verify import Verdict, verify_fix
from lsp_server.text.languages import LanguageInfo, language_for, parser_for


def lang(language_id: str) -> LanguageInfo:
    info = language_for(language_id)
    assert info is not None
    return info


def verify(original: str, fixed: str, language_id: str | None = "python") -> Verdict:
    info = lang(language_id) if language_id else None
    return verify_fix(original, fixed, info, parser_for(info) if info else None)


IS_ODD = "def is_odd(n):\n    return n % 2 == 0\n"
IS_ODD_FIXED = "def is_odd(n):\n    return n % 2 == 1\n"


def test_a_good_python_fix_passes() -> None:
    verdict = verify(IS_ODD, IS_ODD_FIXED)
    assert verdict == Verdict(True, "the fix adds no syntax error or undefined name")


def test_the_parser_defaults_to_the_languages_own() -> None:
    assert verify_fix(IS_ODD, IS_ODD_FIXED, lang("python")).ok


@pytest.mark.parametrize(
    "fixed",
    [
        IS_ODD,
        IS_ODD.replace("\n", "   \n"),
        IS_ODD + "\n\n",
        IS_ODD.replace("\n", "\r\n"),
    ],
)
def test_a_fix_must_change_more_than_trailing_whitespace(fixed: str) -> None:
    verdict = verify(IS_ODD, fixed)
    assert not verdict.ok
    assert "changes nothing" in verdict.reason


def test_indentation_is_a_change() -> None:
    original = "if x:\n    a()\nb()\n"
    assert verify(original, "if x:\n    a()\n    b()\n").ok


def test_plain_text_only_needs_to_differ() -> None:
    assert verify("hello", "hello world", None).ok
    assert not verify("hello", "hello  ", None).ok


def test_a_new_syntax_error_is_rejected_with_its_line() -> None:
    verdict = verify(IS_ODD, "def is_odd(n):\n    return (n % 2 == 1\n")
    assert not verdict.ok
    assert verdict.reason == 'the fix adds a syntax error: "(" was never closed on line 2'


@pytest.mark.parametrize(
    ("language_id", "original", "good", "bad"),
    [
        (
            "javascript",
            "function f(a) { return a + 1; }\n",
            "function f(a) { return a - 1; }\n",
            "function f(a) { return a - ; }\n",
        ),
        (
            "typescript",
            "const f = (a: number): number => a + 1;\n",
            "const f = (a: number): number => a - 1;\n",
            "const f = (a: number): number => (a - 1;\n",
        ),
        (
            "go",
            "package main\nfunc f(a int) int { return a + 1 }\n",
            "package main\nfunc f(a int) int { return a - 1 }\n",
            "package main\nfunc f(a int) int { return a - }\n",
        ),
        (
            "rust",
            "fn f(a: i32) -> i32 { a + 1 }\n",
            "fn f(a: i32) -> i32 { a - 1 }\n",
            "fn f(a: i32) -> i32 { a - }\n",
        ),
        (
            "java",
            "class A { int f(int a) { return a + 1; } }\n",
            "class A { int f(int a) { return a - 1; } }\n",
            "class A { int f(int a) { return a - 1 } }\n",
        ),
        (
            "c",
            "int f(int a) { return a + 1; }\n",
            "int f(int a) { return a - 1; }\n",
            "int f(int a) { return a - 1 }\n",
        ),
    ],
)
def test_other_languages_are_checked_with_tree_sitter(
    language_id: str, original: str, good: str, bad: str
) -> None:
    assert verify(original, good, language_id).ok
    verdict = verify(original, bad, language_id)
    assert not verdict.ok
    assert verdict.reason.startswith("the fix adds a syntax error")


def test_a_fix_may_keep_an_existing_syntax_error_elsewhere() -> None:
    original = "def f():\n    return 0\n\nx = (1, 2\n"
    fixed = "def f():\n    return 1\n\nx = (1, 2\n"
    assert verify(original, fixed).ok


def test_a_fix_that_repairs_a_syntax_error_passes() -> None:
    assert verify("x = (1, 2\n", "x = (1, 2)\n").ok


def test_a_fix_on_the_lines_of_a_syntax_error_must_remove_it() -> None:
    original = "function f(a) {\n  return (a + 1;\n}\n"
    verdict = verify(original, "function f(a) {\n  return [a + 1;\n}\n", "javascript")
    assert verdict == Verdict(False, "the fix leaves the syntax error on the lines it changes")
    assert verify(original, "function f(a) {\n  return (a + 1);\n}\n", "javascript").ok


def test_rewriting_the_broken_line_into_another_broken_one_is_rejected() -> None:
    # tree-sitter accepts an `if` with no body at the end of a file; compile() does not, and
    # the fix rewrote the very place the original went wrong.
    original = "def area(w, h):\n    return w * h\n\n\nprint(area(2, 3)\n"
    fixed = original.replace("print(area(2, 3)", 'if __name__ == "__main__":')
    verdict = verify(original, fixed)
    assert not verdict.ok
    assert verdict.reason.startswith("the fix does not compile: expected an indented block")
    assert verify(original, original.replace("3)", "3))")).ok


def test_python_that_tree_sitter_accepts_but_compile_rejects() -> None:
    # tree-sitter-python parses "return" outside a function; CPython does not compile it.
    original = "def f():\n    return 1\n"
    verdict = verify(original, "def f():\n    pass\nreturn 1\n")
    assert not verdict.ok
    assert verdict.reason == "the fix does not compile: 'return' outside function (line 3)"


def test_when_the_original_does_not_compile_the_same_error_is_tolerated() -> None:
    # The compile error (line 4) is not the fix's doing; the fix is on line 2.
    original = "def f():\n    return 0\n\nreturn 2\n"
    fixed = "def f():\n    return 1\n\nreturn 2\n"
    assert verify(original, fixed).ok


def test_when_the_original_does_not_compile_an_earlier_error_is_rejected() -> None:
    original = "def f():\n    return 0\n\nreturn 2\n"
    fixed = "def f():\n    pass\nreturn 0\n\nreturn 2\n"
    verdict = verify(original, fixed)
    assert not verdict.ok
    assert verdict.reason == "the fix does not compile: 'return' outside function (line 3)"


def test_when_the_original_does_not_compile_getting_further_is_progress() -> None:
    original = "return 1\nx = 1\nreturn 2\n"
    fixed = "y = 1\nx = 1\nreturn 2\n"
    assert verify(original, fixed).ok


def test_a_new_undefined_name_is_rejected_by_name() -> None:
    verdict = verify(IS_ODD, "def is_odd(n):\n    return m % 2 == 1 or k\n")
    assert not verdict.ok
    assert verdict.reason == "the fix uses undefined names: k, m"


def test_an_undefined_name_the_original_had_is_not_the_fixs_fault() -> None:
    original = "import os\n\ndef f(n):\n    return helper(n) + 0\n"
    fixed = "import os\n\ndef f(n):\n    return helper(n) + 1\n"
    assert verify(original, fixed).ok


def test_a_fix_that_defines_a_name_passes() -> None:
    original = "def f():\n    return total\n"
    fixed = "def f():\n    total = 0\n    return total\n"
    assert verify(original, fixed).ok


def test_names_from_builtins_imports_and_definitions_are_defined() -> None:
    original = "import math\n\ndef f(xs):\n    return len(xs)\n"
    fixed = "import math\n\ndef f(xs):\n    return math.floor(len(xs) / 2)\n"
    assert verify(original, fixed).ok


def test_local_used_before_assignment_counts_as_undefined() -> None:
    original = "x = 1\n\ndef f():\n    return x\n"
    fixed = "x = 1\n\ndef f():\n    y = x\n    x = 2\n    return y\n"
    verdict = verify(original, fixed)
    assert not verdict.ok
    assert "undefined names: x" in verdict.reason


def test_when_the_original_does_not_compile_only_invented_names_are_rejected() -> None:
    original = "def f(:\n    return helper(1)\n"
    assert verify(original, "def f():\n    return helper(1)\n").ok
    verdict = verify(original, "def f():\n    return invented(1)\n")
    assert verdict == Verdict(False, "the fix uses undefined names: invented")


def test_syntax_warnings_do_not_fail_a_fix() -> None:
    original = "import re\nP = re.compile('a')\n"
    fixed = "import re\nP = re.compile('\\d')\n"
    assert verify(original, fixed).ok


def test_null_bytes_do_not_crash_the_check() -> None:
    verdict = verify(IS_ODD, IS_ODD_FIXED + "\x00")
    assert not verdict.ok


def test_non_ascii_text() -> None:
    original = "s = 'héllo 😀'\ndef f():\n    return s + 'x'\n"
    fixed = "s = 'héllo 😀'\ndef f():\n    return s + 'ü'\n"
    assert verify(original, fixed).ok
