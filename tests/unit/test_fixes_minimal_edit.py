"""Tests for lsp_server.fixes.minimal_edit: smallest edits, their titles, re-indentation."""

import pytest

from lsp_server.fixes.minimal_edit import describe_change, minimal_edit, reindent


def apply(original: str, edit: tuple[int, int, str] | None, base: int = 0) -> str:
    if edit is None:
        return original
    start, end, new_text = edit
    return original[: start - base] + new_text + original[end - base :]


@pytest.mark.parametrize(
    ("original", "fixed", "expected"),
    [
        ("return n % 2 == 1\n", "return n % 2 == 0\n", (16, 17, "0")),
        ("abc", "abXc", (2, 2, "X")),
        ("abXc", "abc", (2, 3, "")),
        ("", "new", (0, 0, "new")),
        ("old", "", (0, 3, "")),
        ("aaa", "aaaa", (3, 3, "a")),
        ("x = 1\ny = 2\n", "x = 1\ny = 3\nz = 4\n", (10, 11, "3\nz = 4")),
    ],
)
def test_minimal_edit(original: str, fixed: str, expected: tuple[int, int, str]) -> None:
    assert minimal_edit(original, fixed) == expected
    assert apply(original, minimal_edit(original, fixed)) == fixed


def test_equal_texts_need_no_edit() -> None:
    assert minimal_edit("same", "same") is None
    assert minimal_edit("", "") is None


def test_base_shifts_the_offsets() -> None:
    assert minimal_edit("if x < 1:", "if x <= 1:", base=100) == (106, 106, "=")


@pytest.mark.parametrize(
    ("original", "fixed", "expected"),
    [
        # A "\r" turning into "\r\n", and a "\n" into "\r\n": the whole ending is replaced.
        ("a\rb", "a\r\nb", (1, 2, "\r\n")),
        ("a\nb", "a\r\nb", (1, 2, "\r\n")),
        ("a\r\nb", "a\nb", (1, 3, "\n")),
        ("a\r\nb", "a\r\n\nb", (3, 3, "\n")),
    ],
)
def test_never_splits_a_crlf_pair(
    original: str, fixed: str, expected: tuple[int, int, str]
) -> None:
    assert minimal_edit(original, fixed) == expected
    assert apply(original, expected) == fixed


def test_never_splits_a_surrogate_pair() -> None:
    # Lone surrogates stand for UTF-16 units a client may send; a pair must stay together.
    original = "x\ud83d\ude00y"
    fixed = "x\ud83d\ude01y"
    assert minimal_edit(original, fixed) == (1, 3, "\ud83d\ude01")
    assert apply(original, minimal_edit(original, fixed)) == fixed


def test_non_ascii_offsets_are_code_points() -> None:
    assert minimal_edit("s = 'é😀'; t = 1", "s = 'é😀'; t = 2") == (14, 15, "2")


@pytest.mark.parametrize(
    ("old", "new", "title"),
    [
        ("n % 2 == 1", "n % 2 == 0", 'Replace "n % 2 == 1" with "n % 2 == 0"'),
        ("", ")", 'Insert ")"'),
        ("  x", "", 'Delete "x"'),
        ("a\n    b", "c", 'Replace "a b" with "c"'),
        ("", "\n", "Insert whitespace"),
        ("  ", "", "Delete whitespace"),
        ("  ", "x", 'Replace whitespace with "x"'),
        ("a  b", "a\nb", "Change whitespace"),
        ("", "", "No change"),
    ],
)
def test_describe_change(old: str, new: str, title: str) -> None:
    assert describe_change(old, new) == title


def test_describe_change_truncates_with_an_ellipsis() -> None:
    long_old = "first_value + second_value + third_value + fourth_value"
    long_new = "first_value - second_value - third_value - fourth_value"
    title = describe_change(long_old, long_new, limit=40)
    assert title == 'Replace "first_value + secon…" with "first_value - secon…"'
    inserted = describe_change("", "x" * 100, limit=10)
    assert inserted == 'Insert "xxxxxxxxx…"'


def test_reindent_adds_lost_indentation() -> None:
    code = "def f(self):\n    return 1\n"
    assert reindent(code, "    ") == "    def f(self):\n        return 1\n"


def test_reindent_replaces_other_indentation_and_keeps_blank_lines_empty() -> None:
    code = "        def f(self):\n\n            return 1\n"
    assert reindent(code, "\t") == "\tdef f(self):\n\n\t    return 1\n"
    assert reindent(code, "") == "def f(self):\n\n    return 1\n"
