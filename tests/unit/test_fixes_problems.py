"""Tests for lsp_server.fixes.problems: the Problem record and message excerpts."""

import dataclasses

import pytest

from lsp_server.fixes.problems import Problem, excerpt


def test_problem_is_a_frozen_record_with_optional_data() -> None:
    problem = Problem(3, 5, 'missing ")"', "error", "syntax")
    assert problem.data is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        problem.start = 4  # type: ignore[misc]
    assert Problem(3, 5, "m", "hint", "unlikely", {"score": 1.0}).data == {"score": 1.0}


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("n % 2 == 1", 60, "n % 2 == 1"),
        ("  a\n\t  b  ", 60, "a b"),
        ("abcdefghij", 10, "abcdefghij"),
        ("abcdefghijk", 10, "abcdefghi…"),
        ("abcd efghijk", 6, "abcd…"),
        ("abc", 1, "…"),
        ("   ", 10, ""),
    ],
)
def test_excerpt(text: str, limit: int, expected: str) -> None:
    assert excerpt(text, limit) == expected
