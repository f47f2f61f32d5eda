"""The token-by-token loop shared by the engines that run their own (llama.cpp, ctransformers,
transformers): token healing, the stop rules and the statistics live here once, and each engine
supplies only how it evaluates tokens and turns them into text.
"""

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

from ..errors import EngineError
from .base import GenerationParams, GenerationStats

Logits = TypeVar("Logits")


def room_for(tokens: list[int], n_ctx: int) -> int:
    """Tokens left for the completion; an EngineError when the prompt leaves none."""
    room = n_ctx - len(tokens)
    if room <= 1:
        raise EngineError(f"prompt of {len(tokens)} tokens does not fit the context of {n_ctx}")
    return room


@contextlib.contextmanager
def engine_run(engine: str, stats: GenerationStats, start: float) -> Iterator[None]:
    """Around a token loop: a failure of the engine's own library becomes an EngineError
    naming `engine`, and the stats get a stop reason and the generation time however it ends."""
    try:
        yield
    except EngineError:
        raise
    except Exception as exc:
        raise EngineError(f"{engine} failed while generating: {exc}") from exc
    finally:
        if not stats.stop_reason:
            stats.stop_reason = "done"
        stats.generate_ms = (time.perf_counter() - start) * 1000 - stats.prompt_ms


def generate(
    engine: str,
    params: GenerationParams,
    room: int,
    cancelled: Callable[[], bool],
    stats: GenerationStats,
    *,
    prefill: Callable[[], Logits | None],
    pick: Callable[[Logits, str, str], tuple[int, float]],
    is_end: Callable[[int], bool],
    piece: Callable[[int], str],
    advance: Callable[[int], Logits],
) -> Iterator[str]:
    """Yield the completion's text, one token's worth at a time.

    `prefill` evaluates the prompt (None when cancelled); `pick` chooses a token from logits
    given the healed text still to produce and the rest of the text the completion must not
    begin with (`params.avoid`, while it follows it), and returns its log-probability;
    `piece` is the token's text as it becomes final; `advance` evaluates the chosen token.
    Any failure of the engine's own library becomes an EngineError naming `engine`.
    """
    start = time.perf_counter()
    with engine_run(engine, stats, start):
        logits = prefill()
        stats.prompt_ms = (time.perf_counter() - start) * 1000
        if logits is None:
            stats.stop_reason = "cancelled"
            return
        rest, shunned = params.heal, params.avoid
        while True:
            token, logprob = pick(logits, rest, shunned)
            if is_end(token):
                stats.stop_reason = "eos"
                return
            stats.generated_tokens += 1
            stats.logprob += logprob
            text = piece(token)
            rest = rest[len(text) :] if rest.startswith(text) else ""
            shunned = shunned[len(text) :] if text and shunned.startswith(text) else ""
            if text:
                yield text
            if stats.generated_tokens >= min(params.max_tokens, room - 1):
                stats.stop_reason = "length"
                return
            if cancelled():
                stats.stop_reason = "cancelled"
                return
            logits = advance(token)
