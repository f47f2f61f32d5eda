"""Tests for lsp_server.fixes.unlikely: flagging lines from synthetic token log-probs."""

import re

from lsp_server.engines.base import TokenScore
from lsp_server.fixes.unlikely import unlikely_lines

CODE = """def is_odd(n):
    if n < 0:
        n = -n
    result = n % 2 == 0
    return result


def total(items):
    s = 0
    for item in items:
        s += item
    return s
"""

# Tokens like a BPE tokenizer's: leading whitespace glued to the next word or symbol.
_TOKEN = re.compile(r"\s*(\w+|==|[-+*/%<>!]=|[^\w\s])|\s+")


def tokenize(
    text: str, surprising: dict[str, float] | None = None, spread: float = 0.35
) -> list[TokenScore]:
    """Every token with a mildly varying log-prob; tokens whose text (stripped) is in
    surprising get that log-prob instead, the first time they occur on the marked line."""
    surprising = dict(surprising or {})
    scores = []
    for index, match in enumerate(_TOKEN.finditer(text)):
        word = match.group().strip()
        logprob = -(0.3 + (index % 7) * spread)
        if word in surprising:
            logprob = surprising.pop(word)
        scores.append(TokenScore(match.start(), match.end(), logprob))
    return scores


def line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset)


def scored_lines(text: str, scores: list[TokenScore]) -> list[int]:
    """Every line that has a scored token, most surprising first: a line is flagged without
    comparison once its surprise reaches `certain`, and every surprise reaches 0."""
    flagged = unlikely_lines(text, scores, certain=0.0, max_flags=len(text))
    return [line_of(text, problem.start) for problem in flagged]


def test_the_one_surprising_token_flags_its_line() -> None:
    scores = tokenize(CODE, {"0": -0.4, "==": -8.0})
    [problem] = unlikely_lines(CODE, scores)
    assert CODE[problem.start : problem.end] == "result = n % 2 == 0"
    assert problem.severity == "hint"
    assert problem.code == "unlikely"
    assert problem.message.startswith('unlikely code: "result = n % 2 == 0" (model surprise 8.0')
    assert problem.message.endswith("typical)")
    assert problem.data is not None
    token_start, token_end = problem.data["token"]
    assert CODE[token_start:token_end].strip() == "=="
    assert problem.data["score"] == 8.0
    assert problem.data["z"] >= 3.5


def test_a_predictable_file_has_no_flags() -> None:
    assert unlikely_lines(CODE, tokenize(CODE)) == []


def test_surprise_below_the_absolute_floor_is_not_flagged() -> None:
    # In a very predictable file a token with a chance of about 1 in 55 is an outlier by
    # z-score, yet not surprising enough to flag.
    scores = tokenize(CODE, {"==": -4.0}, spread=0.05)
    assert unlikely_lines(CODE, scores) == []
    assert unlikely_lines(CODE, scores, min_surprise=3.5)


def test_threshold_is_configurable() -> None:
    scores = tokenize(CODE, {"==": -6.0})
    assert unlikely_lines(CODE, scores)
    assert unlikely_lines(CODE, scores, threshold=50.0, certain=50.0) == []


def test_at_most_max_flags_most_suspicious_first() -> None:
    scores = tokenize(CODE, {"<": -9.0, "%": -12.0, "+=": -10.0, "for": -8.5})
    found = unlikely_lines(CODE, scores, max_flags=2)
    assert [line_of(CODE, p.start) for p in found] == [3, 10]
    assert len(unlikely_lines(CODE, scores)) == 3
    assert unlikely_lines(CODE, scores, max_flags=0) == []


def test_severity_is_passed_through() -> None:
    scores = tokenize(CODE, {"==": -8.0})
    [problem] = unlikely_lines(CODE, scores, severity="warning")
    assert problem.severity == "warning"


def test_the_first_token_has_no_context_and_is_ignored() -> None:
    scores = tokenize(CODE, {"def": -15.0})
    assert unlikely_lines(CODE, scores) == []


def test_whitespace_only_tokens_are_ignored() -> None:
    scores = tokenize(CODE)
    blank = CODE.index("\n\n\n")
    scores.append(TokenScore(blank, blank + 3, -20.0))
    assert unlikely_lines(CODE, scores) == []


def test_comment_lines_are_skipped_when_asked() -> None:
    text = CODE.replace("    s = 0\n", "    # totally unexpected prose here\n    s = 0\n")
    scores = tokenize(text, {"prose": -11.0})
    assert unlikely_lines(text, scores)
    assert unlikely_lines(text, scores, line_comment="#") == []


def test_too_few_lines_are_judged_only_on_certain_surprises() -> None:
    text = "x = 1\ny = 2\nz = x / 0\n"
    assert unlikely_lines(text, tokenize(text, {"0": -5.5})) == []
    (flag,) = unlikely_lines(text, tokenize(text, {"0": -12.0}))
    assert text[flag.start : flag.end] == "z = x / 0"


def test_every_line_with_a_visible_token_is_scored() -> None:
    scores = tokenize(CODE, {"%": -12.0, "+=": -10.0})
    ranked = scored_lines(CODE, scores)
    assert ranked[:2] == [3, 10]
    blank_lines = {i for i, line in enumerate(CODE.split("\n")) if not line.strip()}
    assert set(ranked) == set(range(12)) - blank_lines
    assert len(ranked) == len(set(ranked))


def test_equally_surprising_lines_keep_line_order() -> None:
    text = "a\nb\nc\n"
    scores = [
        TokenScore(0, 1, -1.0),
        TokenScore(1, 3, -2.0),
        TokenScore(3, 5, -2.0),
        TokenScore(5, 6, -2.0),
    ]
    assert scored_lines(text, scores) == [1, 2]


def test_partial_scores_and_out_of_range_tokens() -> None:
    # Only the second function is scored; its first token lacks context like a file's would.
    start = CODE.index("def total")
    scores = [
        TokenScore(s.start + start, s.end + start, s.logprob)
        for s in tokenize(CODE[start:], {"def": -30.0})
    ]
    scores.append(TokenScore(len(CODE) + 1, len(CODE) + 5, -30.0))
    assert min(scored_lines(CODE, scores)) == line_of(CODE, start)
    assert unlikely_lines(CODE, scores) == []


def test_crlf_lines_and_non_ascii_offsets() -> None:
    text = CODE.replace("    s = 0\n", "    s = 'ü😀'\n").replace("\n", "\r\n")
    scores = tokenize(text, {"==": -9.0})
    [problem] = unlikely_lines(text, scores)
    assert text[problem.start : problem.end] == "result = n % 2 == 0"


def test_empty_inputs() -> None:
    assert unlikely_lines("", []) == []
    assert unlikely_lines(CODE, []) == []
