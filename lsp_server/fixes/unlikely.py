"""Unlikely code: lines a code model finds far more surprising than the rest of the file.

The statistic. A line's score is its surprise, the largest surprisal (-log p, in nats) of
any token that starts on it. The maximum rather than the mean, because a typical bug is one
wrong token (`1` for `0`, `<` for `<=`) whose surprise a mean over a long line would dilute.
A line is judged against the file, not an absolute scale, since files differ in how
predictable they are: its robust z-score is 0.6745 * (surprise - median) / MAD over all scored
lines (Iglewicz and Hoaglin's modified z-score; median and MAD are not dragged by the outliers
being looked for, as mean and standard deviation would be). A line is flagged when that z-score
reaches the threshold and its surprise also reaches an absolute floor, so that a uniformly
predictable file (tiny MAD) does not get flags for ordinary tokens.

Whitespace-only tokens are skipped (a newline and indentation belong to no line in
particular), and so is the first scored token, which the model saw with no context.
"""

import re
import statistics
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

from ..engines.base import TokenScore
from .problems import Problem, Severity, excerpt

_LINE_BREAK = re.compile(r"\r\n?|\n")
# Below this many scored lines a median and MAD describe nothing.
_MIN_LINES = 5
# The MAD used when the lines' surprises are nearly all equal, in nats.
_MAD_FLOOR = 0.5
# Scales the MAD to a normal distribution's standard deviation.
_MAD_TO_SIGMA = 0.6745
_QUOTE_LIMIT = 40


@dataclass(frozen=True)
class _LineScore:
    line: int
    surprise: float
    worst: TokenScore


def unlikely_lines(
    text: str,
    scores: Sequence[TokenScore],
    *,
    threshold: float = 3.5,
    min_surprise: float = 5.0,
    certain: float = 6.0,
    max_flags: int = 3,
    severity: Severity = "hint",
    line_comment: str | None = None,
) -> list[Problem]:
    """Problems for at most max_flags lines far less likely than the file's others.

    threshold is the robust z-score a line needs, min_surprise the worst-token surprisal (nats)
    it needs too. A line whose surprise reaches `certain` (a token the model gave less than
    1 chance in 400; chosen on a HumanEvalFix sample, see BENCHMARKS.md) is flagged without
    the comparison, which short functions, with too few lines for a median, need. Lines that
    start with line_comment, when given, are not
    judged: prose is always surprising. The most suspicious line comes first.
    """
    starts = _line_starts(text)
    lines = _score_lines(text, starts, scores, line_comment)
    if not lines or max_flags <= 0:
        return []
    surprises = [line.surprise for line in lines]
    median = statistics.median(surprises)
    mad = max(statistics.median(abs(s - median) for s in surprises), _MAD_FLOOR)
    judged = len(lines) >= _MIN_LINES
    flagged = []
    for line in lines:
        z = _MAD_TO_SIGMA * (line.surprise - median) / mad
        if line.surprise >= certain or (
            judged and z >= threshold and line.surprise >= min_surprise
        ):
            flagged.append((z, line))
    flagged.sort(key=lambda item: (-item[0], item[1].line))
    typical = median if judged else None
    return [_problem(text, starts, line, z, typical, severity) for z, line in flagged[:max_flags]]


def _score_lines(
    text: str, starts: list[int], scores: Sequence[TokenScore], line_comment: str | None
) -> list[_LineScore]:
    """Each scored line's worst token, in line order."""
    ordered = sorted(scores, key=lambda score: (score.start, score.end))[1:]
    worst: dict[int, TokenScore] = {}
    for score in ordered:
        anchor = _first_visible(text, score.start, score.end)
        if anchor is None:
            continue
        line = bisect_right(starts, anchor) - 1
        current = worst.get(line)
        if current is None or score.logprob < current.logprob:
            worst[line] = score
    if line_comment:
        worst = {
            line: score
            for line, score in worst.items()
            if not _line_text(text, starts, line).lstrip().startswith(line_comment)
        }
    return [_LineScore(line, -worst[line].logprob, worst[line]) for line in sorted(worst)]


def _first_visible(text: str, start: int, end: int) -> int | None:
    """The offset of the first non-whitespace character in text[start:end], if any."""
    start, end = max(start, 0), min(end, len(text))
    for offset in range(start, end):
        if not text[offset].isspace():
            return offset
    return None


def _line_starts(text: str) -> list[int]:
    return [0, *(match.end() for match in _LINE_BREAK.finditer(text))]


def _line_text(text: str, starts: list[int], line: int) -> str:
    end = starts[line + 1] if line + 1 < len(starts) else len(text)
    return text[starts[line] : end].rstrip("\r\n")


def _problem(
    text: str,
    starts: list[int],
    line: _LineScore,
    z: float,
    typical: float | None,
    severity: Severity,
) -> Problem:
    content = _line_text(text, starts, line.line)
    start = starts[line.line] + len(content) - len(content.lstrip())
    end = starts[line.line] + len(content.rstrip())
    versus = f" vs {typical:.1f} typical" if typical is not None else ""
    message = (
        f'unlikely code: "{excerpt(content, _QUOTE_LIMIT)}" '
        f"(model surprise {line.surprise:.1f} nats{versus})"
    )
    data = {
        "token": [line.worst.start, line.worst.end],
        "score": round(line.surprise, 3),
        "z": round(z, 2),
    }
    return Problem(start, end, message, severity, "unlikely", data)
