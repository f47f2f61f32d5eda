"""Greedy decoding that copies a draft: speculative decoding whose draft is text the output
mostly repeats (the region a next-edit rewrite starts from), so it needs no second model.

After each chosen token, the draft's next tokens are evaluated with it in one batch, and
kept for as long as each is the token greedy decoding picks from the row before it; the first
that is not is dropped from the KV cache with everything after it, and the row's own choice goes
on. Where the output departs from the draft, tokens are generated one at a time until its last
few tokens are found in the draft again, from where the draft is proposed once more. What comes
out is what plain greedy decoding gives, token for token, in fewer model calls; each call reads
every weight once, so a batch costs less per token than tokens one at a time (on a two-core CPU,
about half: the arithmetic, not the memory, bounds it there).
"""

import logging
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

from .base import GenerationParams, GenerationStats
from .generation import engine_run

log = logging.getLogger(__name__)

Logits = TypeVar("Logits")

MATCH_TOKENS = 3  # the output's last tokens that must recur in the draft to resynchronise


class DraftCursor:
    """Where in the draft the output goes on, or None while the two differ.

    A rewrite starts in step with its draft (`at` 0); a completion drafting from its own prompt
    starts out of step and waits for its last tokens to recur there, the latest occurrence
    first (`near` the draft's end), since code repeats most what was written just before.
    """

    def __init__(self, tokens: list[int], at: int | None = 0, near: int = 0) -> None:
        self.tokens = tokens
        self.at = at
        self.near = near
        self._starts: dict[tuple[int, ...], list[int]] = {}
        for i in range(len(tokens) - MATCH_TOKENS + 1):
            self._starts.setdefault(tuple(tokens[i : i + MATCH_TOKENS]), []).append(i)

    def follow(self, output: list[int]) -> None:
        """Step past the output's last token: in step with the draft, or found again in it."""
        token = output[-1]
        if self.at is not None and self.at < len(self.tokens) and self.tokens[self.at] == token:
            self.at += 1
            return
        if self.at is not None:
            self.near = self.at
        self.at = self._resync(output, self.near)

    def _resync(self, output: list[int], near: int) -> int | None:
        if len(output) < MATCH_TOKENS:
            return None
        starts = self._starts.get(tuple(output[-MATCH_TOKENS:]))
        if not starts:
            return None
        # The draft is copied in order, so the place after the last one wins a tie.
        best = min(starts, key=lambda s: (s + MATCH_TOKENS < near, abs(s - near)))
        return best + MATCH_TOKENS

    def proposal(self, limit: int) -> list[int]:
        if self.at is None or limit <= 0:
            return []
        return self.tokens[self.at : self.at + limit]


def generate_drafted(
    engine: str,
    params: GenerationParams,
    room: int,
    cancelled: Callable[[], bool],
    stats: GenerationStats,
    *,
    cursor: DraftCursor,
    batch: int,
    first_span: int | None = None,
    prefill: Callable[[], Logits | None],
    pick: Callable[[Logits, str], tuple[int, float]],
    is_end: Callable[[int], bool],
    piece: Callable[[int], str],
    advance: Callable[[list[int]], list[Logits]],
    rewind: Callable[[int], None],
) -> Iterator[str]:
    """Yield the greedy completion's text, one token's worth at a time, as
    `generation.generate` does, proposing the draft's tokens from `cursor` up to `batch - 1`
    at a time (`first_span` at first).

    `advance` evaluates tokens in one batch and returns the logits after each; `rewind` drops
    the last n tokens evaluated. `pick` must be greedy: with sampling, a row's choice would
    depend on how many tokens were proposed. Nothing is proposed until the healed text
    (`params.heal`) is produced, since a proposal's rows would be picked without its mask.
    """
    start = time.perf_counter()
    limit = min(params.max_tokens, room - 1)
    output: list[int] = []
    calls = copied = proposed = 0
    rest = params.heal
    # How many draft tokens to propose: doubled while the output keeps them all, cut to what
    # it kept when it leaves the draft, since a batch costs nearly its length in tokens.
    span = first_span or batch - 1
    with engine_run(engine, stats, start):
        try:
            logits = prefill()
            stats.prompt_ms = (time.perf_counter() - start) * 1000
            if logits is None:
                stats.stop_reason = "cancelled"
                return
            while True:
                token, logprob = pick(logits, rest)
                if is_end(token):
                    stats.stop_reason = "eos"
                    return
                stats.stop_reason = _count(token, logprob, output, stats, limit, cancelled)
                text = piece(token)
                rest = rest[len(text) :] if rest.startswith(text) else ""
                if text:
                    yield text
                if stats.stop_reason:
                    return
                cursor.follow(output)
                proposal = [] if rest else cursor.proposal(min(span, limit - len(output)))
                rows = advance([token, *proposal])
                calls += 1
                proposed += len(proposal)
                kept = 0
                for guess in proposal:
                    choice, logprob = pick(rows[kept], "")
                    if choice != guess or is_end(choice):
                        break
                    stats.stop_reason = _count(choice, logprob, output, stats, limit, cancelled)
                    kept += 1
                    copied += 1
                    text = piece(choice)
                    if text:
                        yield text
                    if stats.stop_reason:
                        return
                    cursor.follow(output)
                rewind(len(proposal) - kept)
                if proposal:
                    span = min(2 * span, batch - 1) if kept == len(proposal) else max(kept, 1)
                logits = rows[kept]
        finally:
            log.debug(
                "drafted: %d tokens in %d model calls, %d of the %d proposed from the draft of %d",
                len(output),
                calls,
                copied,
                proposed,
                len(cursor.tokens),
            )


def _count(
    token: int,
    logprob: float,
    output: list[int],
    stats: GenerationStats,
    limit: int,
    cancelled: Callable[[], bool],
) -> str:
    """Count a chosen token; the reason to stop after it, or ""."""
    output.append(token)
    stats.generated_tokens += 1
    stats.logprob += logprob
    if stats.generated_tokens >= limit:
        return "length"
    return "cancelled" if cancelled() else ""
