"""Tests for completion.heal_word: what token healing backs the prompt off by."""

import pytest

from lsp_server.completion.healing import heal_word


@pytest.mark.parametrize(
    ("line_prefix", "line_suffix", "healed"),
    [
        ("    pri", "", " pri"),
        ("x = foo", ")", " foo"),
        ("    ", "", "    "),
        ("result = compute(", "", "("),
        ('import { a } from "./b.', "", "."),
        ('open("', "", '("'),
        ("a ==", "", "=="),
        ("items[::-", "", "::-"),
        ("", "", ""),
    ],
)
def test_the_end_of_the_line_before_the_cursor_is_healed(
    line_prefix: str, line_suffix: str, healed: str
) -> None:
    assert heal_word(line_prefix, line_suffix) == healed


@pytest.mark.parametrize(("line_prefix", "line_suffix"), [("pri", "nt(x)"), ("f(", "x)")])
def test_nothing_is_healed_when_a_word_goes_on_after_the_cursor(
    line_prefix: str, line_suffix: str
) -> None:
    assert heal_word(line_prefix, line_suffix) == ""
