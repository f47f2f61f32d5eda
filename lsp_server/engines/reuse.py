"""Which of the tokens an engine already evaluated a new prompt can keep, and evaluating the rest.

Shared by the engines that keep a KV cache between requests.
"""

from collections.abc import Callable
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any

from .base import GenerationStats


def common_prefix(a: list[int], b: list[int]) -> int:
    common = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        common += 1
    return common


@dataclass(frozen=True)
class Run:
    """Cached tokens old[old_start:old_start+length] reappear as new[new_start:...]."""

    old_start: int
    new_start: int
    length: int


def moved_runs(old: list[int], new: list[int], keep: int, min_length: int) -> list[Run]:
    """Runs of `old` after the kept prefix that `new` repeats after it, in order, each at least
    `min_length` long.

    A keystroke at the cursor of a prefix-suffix-middle prompt changes a few tokens at the end
    of the prefix and leaves the suffix behind it intact, a token or two further on; moving the
    cursor down a line in a suffix-first prompt takes a line from the front of the suffix and
    appends it to the prefix; a window that drops its first lines moves everything back. The
    runs never take `new`'s last token, whose logits must be computed afresh.
    """
    if len(old) - keep < min_length or len(new) - 1 - keep < min_length:
        return []
    matcher = SequenceMatcher(None, old[keep:], new[keep:-1], autojunk=False)
    return [
        Run(keep + block.a, keep + block.b, block.size)
        for block in matcher.get_matching_blocks()
        if block.size >= min_length
    ]


def change(runs: list[Run], keep: int) -> int:
    """Tokens removed or inserted ahead of each run, past the kept prefix: how far the moved
    cells' context is from the one they were computed in."""
    total, old_at, new_at = 0, keep, keep
    for run in runs:
        total += (run.old_start - old_at) + (run.new_start - new_at)
        old_at, new_at = run.old_start + run.length, run.new_start + run.length
    return total


def evaluate_from(
    decode: Callable[[list[int]], Any],
    tokens: list[int],
    start: int,
    n_batch: int,
    cancelled: Callable[[], bool],
    stats: GenerationStats,
) -> Any | None:
    """Evaluate tokens[start:] a batch at a time with `decode` (which returns one row of logits
    per batch, or more); the last token's logits, or None if cancelled before a batch."""
    logits = None
    for i in range(start, len(tokens), n_batch):
        if cancelled():
            return None
        chunk = tokens[i : i + n_batch]
        logits = decode(chunk)
        stats.evaluated_tokens += len(chunk)
    return logits[-1] if logits is not None else None
