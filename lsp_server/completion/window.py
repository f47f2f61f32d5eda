"""The prefix/suffix window around the cursor, sized in the model's own tokens.

The window's first line is aligned to a multiple of `align` lines so that it stays put while the
user types: an unchanged prompt start is what lets the engine reuse its KV cache between
keystrokes. Text after the cursor is cheaper to give up than text before it, so the suffix gets
a fixed share of the budget and whatever it leaves unused goes to the prefix.
"""

import re
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

# Beyond this many characters per token nothing real is code; used only to cap how much text a
# single over-long line may contribute before it is counted exactly.
_MAX_CHARS_PER_TOKEN = 8


@dataclass(frozen=True)
class Window:
    """The text the prompt is built from, and where it came from in the document."""

    prefix: str
    suffix: str
    start: int  # offset of the prefix's first character in the document
    end: int  # offset just past the suffix's last character
    prefix_tokens: int
    suffix_tokens: int


class LineTokenCounter:
    """Counts tokens per line, remembering recent lines so a keystroke re-counts only one.

    Only lines of ordinary length are remembered, so minified code cannot fill memory.
    """

    def __init__(
        self, count: Callable[[str], int], capacity: int = 50_000, longest: int = 2_000
    ) -> None:
        self._count = count
        self._capacity = capacity
        self._longest = longest
        self._cache: OrderedDict[str, int] = OrderedDict()

    def __call__(self, line: str) -> int:
        cached = self._cache.get(line)
        if cached is not None:
            self._cache.move_to_end(line)
            return cached
        n = self._count(line)
        if len(line) > self._longest:
            return n
        self._cache[line] = n
        if len(self._cache) > self._capacity:
            self._cache.popitem(last=False)
        return n


# LSP line terminators only; str.splitlines would also split on \f, \v and U+2028.
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")


def _split_keepends(text: str) -> list[str]:
    return _LINE.findall(text)


def _tail_within(line: str, budget: int, count: Callable[[str], int]) -> str:
    """The longest tail of one over-long line that fits the budget."""
    text = line[-budget * _MAX_CHARS_PER_TOKEN :]
    while text and count(text) > budget:
        text = text[len(text) // 4 :] if len(text) > 64 else text[1:]
    return text


def _head_within(line: str, budget: int, count: Callable[[str], int]) -> str:
    text = line[: budget * _MAX_CHARS_PER_TOKEN]
    while text and count(text) > budget:
        text = text[: len(text) * 3 // 4] if len(text) > 64 else text[:-1]
    return text


def lines_span(text: str, cursor: int, before: int, after: int) -> tuple[int, int]:
    """Offsets of the text from `before` lines above the cursor's line through `after` below."""
    start = cursor
    for _ in range(before + 1):
        start = text.rfind("\n", 0, start)
        if start < 0:
            break
    end = cursor - 1
    for _ in range(after + 1):
        end = text.find("\n", end + 1)
        if end < 0:
            end = len(text)
            break
    return start + 1, end


def _suffix(
    after: list[str], suffix_budget: int, count_line: Callable[[str], int]
) -> tuple[str, int]:
    """The lines after the cursor that fit `suffix_budget` tokens, and their count."""
    suffix_lines: list[str] = []
    suffix_tokens = 0
    for line in after:
        too_long = len(line) > suffix_budget * _MAX_CHARS_PER_TOKEN
        n = suffix_budget + 1 if too_long else count_line(line)
        if suffix_tokens + n > suffix_budget:
            if not suffix_lines:
                head = _head_within(line, suffix_budget, count_line)
                suffix_lines.append(head)
                suffix_tokens += count_line(head) if head else 0
            break
        suffix_lines.append(line)
        suffix_tokens += n
    return "".join(suffix_lines), suffix_tokens


def held_window(
    text: str,
    start: int,
    cursor: int,
    budget: int,
    count_line: Callable[[str], int],
    suffix_share: float = 0.2,
    slack: float = 0.5,
    reach: int = 200_000,
) -> Window | None:
    """The window whose prefix starts at `start`, an earlier window's start, while it fits
    `budget` plus `slack` of it; None once it does not, and the start must move.

    Holding the start while the user types keeps the prompt ahead of the cursor unchanged, so
    the engine re-evaluates only what was typed; the slack lets a few lines be typed before
    the start has to move, which is then by whole aligned lines, as `cursor_window` chooses.
    """
    if not 0 <= start <= cursor or cursor - start > reach:
        return None
    hi = min(len(text), cursor + reach)
    suffix, suffix_tokens = _suffix(
        _split_keepends(text[cursor:hi]), int(budget * suffix_share), count_line
    )
    limit = int(budget * (1 + slack)) - suffix_tokens
    prefix = text[start:cursor]
    prefix_tokens = 0
    for line in _split_keepends(prefix):
        if len(line) > limit * _MAX_CHARS_PER_TOKEN:
            return None
        prefix_tokens += count_line(line)
        if prefix_tokens > limit:
            return None
    return Window(prefix, suffix, start, cursor + len(suffix), prefix_tokens, suffix_tokens)


def cursor_window(
    text: str,
    cursor: int,
    budget: int,
    count_line: Callable[[str], int],
    suffix_share: float = 0.2,
    align: int = 16,
    reach: int = 200_000,
) -> Window:
    """Choose the prefix and suffix around `cursor` that fit `budget` tokens.

    `reach` bounds how many characters on each side are even looked at, so a 10 MB file costs
    no more than a small one.
    """
    # Snapped so that the line numbering the alignment uses does not move while typing.
    lo = max(0, (cursor - reach) // reach * reach)
    hi = min(len(text), cursor + reach)
    before = _split_keepends(text[lo:cursor])
    after = _split_keepends(text[cursor:hi])
    cursor_head = before.pop() if before and not before[-1].endswith(("\n", "\r")) else ""

    suffix, suffix_tokens = _suffix(after, int(budget * suffix_share), count_line)

    prefix_budget = budget - suffix_tokens
    # Counting is bounded by characters first: no line needs more characters than this to
    # fill the whole budget.
    longest = prefix_budget * _MAX_CHARS_PER_TOKEN
    head_tokens = count_line(cursor_head[-longest:]) if cursor_head else 0
    cut_head = len(cursor_head) > longest or head_tokens > prefix_budget
    if cut_head:
        cursor_head = _tail_within(cursor_head, prefix_budget, count_line)
        head_tokens = count_line(cursor_head) if cursor_head else 0
    prefix_tokens = head_tokens
    taken = 0
    # Once the cursor line itself was cut, earlier lines would leave a gap in the prefix.
    for line in [] if cut_head else reversed(before):
        if len(line) > longest:
            break
        n = count_line(line)
        if prefix_tokens + n > prefix_budget:
            break
        prefix_tokens += n
        taken += 1
    first = len(before) - taken
    aligned = -(-first // align) * align
    if first > 0 and aligned < len(before) and aligned - first <= taken // 2:
        # Trim to an aligned first line so small edits near the cursor do not move the start
        # of the prompt; but never give up more than half the lines above the cursor for
        # that: a short window (an arrival's) would keep a line or two of its budget.
        for line in before[first:aligned]:
            prefix_tokens -= count_line(line)
        first = aligned
    elif first == 0 and lo > 0 and before:
        prefix_tokens -= count_line(before[0])
        first = 1  # the line at the reach boundary may be partial
    prefix_lines = before[first:]
    prefix = "".join(prefix_lines) + cursor_head
    return Window(
        prefix=prefix,
        suffix=suffix,
        start=cursor - len(prefix),
        end=cursor + len(suffix),
        prefix_tokens=prefix_tokens,
        suffix_tokens=suffix_tokens,
    )
