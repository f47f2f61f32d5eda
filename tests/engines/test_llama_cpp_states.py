"""LlamaCppEngine keeps the prompts of recently left files: switching back restores them.

Runs the real default model.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest

from lsp_server.completion.prompts import Prompt, Segment, build_prompt
from lsp_server.engines.base import GenerationParams, GenerationStats
from lsp_server.engines.llamacpp.engine import LlamaCppEngine
from lsp_server.engines.llamacpp.kv_sequence import (
    MAX_SAVED_BYTES,
    MAX_SAVED_STATES,
    MAX_SHIFT_DRIFT,
    MIN_SAVED_TOKENS,
)

pytestmark = pytest.mark.model

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def engine(model_path: Path) -> Iterator[LlamaCppEngine]:
    loaded = LlamaCppEngine(model_path, n_threads=2)
    yield loaded
    loaded.close()


def prompt_of(engine: LlamaCppEngine, name: str, chars: int = 1_500):
    text = (ROOT / "lsp_server" / name).read_text()
    cut = text.index("\n", chars // 2) + 1
    return build_prompt(engine.template, text[:cut], text[cut:chars])


def complete(engine: LlamaCppEngine, prompt) -> tuple[str, GenerationStats]:
    stats = GenerationStats()
    pieces = engine.stream(prompt, GenerationParams(max_tokens=12), lambda: False, stats)
    return "".join(pieces), stats


def test_an_empty_prompt_yields_nothing_and_the_engine_keeps_working(
    engine: LlamaCppEngine,
) -> None:
    text, stats = complete(engine, Prompt((Segment(""),)))
    assert (text, stats.prompt_tokens, stats.stop_reason) == ("", 0, "empty prompt")
    after, stats = complete(engine, prompt_of(engine, "completion/type_through.py"))
    assert after and stats.generated_tokens > 0


def test_switching_back_to_a_file_restores_its_prompt(engine: LlamaCppEngine) -> None:
    first = prompt_of(engine, "runtime/scheduler.py")
    other = prompt_of(engine, "completion/type_through.py")
    text, cold = complete(engine, first)
    assert cold.evaluated_tokens > 200
    complete(engine, other)
    again, warm = complete(engine, first)
    # Only the last prompt token is re-run, for fresh logits; the answer is the same.
    assert warm.evaluated_tokens == 1
    assert warm.reused_tokens == warm.prompt_tokens - 1
    assert again == text


def test_a_short_prompt_displaced_by_a_preparation_is_restored(engine: LlamaCppEngine) -> None:
    # A short arrival's window, then the whole prompt prepared in the pause; the next key
    # wants the short window back.
    short = prompt_of(engine, "runtime/idle.py", chars=400)
    text, cold = complete(engine, short)
    assert MIN_SAVED_TOKENS <= cold.prompt_tokens < 128
    assert engine.prepare(prompt_of(engine, "config.py"), lambda: False)
    again, warm = complete(engine, short)
    assert warm.evaluated_tokens == 1
    assert again == text


def test_saved_prompts_stay_within_their_bounds(engine: LlamaCppEngine) -> None:
    names = [
        "runtime/scheduler.py",
        "completion/type_through.py",
        "config.py",
        "text/documents.py",
        "completion/prompts.py",
        "completion/trigger.py",
    ]
    for name in names:
        complete(engine, prompt_of(engine, name, chars=800))
    sequence = engine._main
    assert len(sequence._saved) <= MAX_SAVED_STATES
    assert 0 < sequence.saved_bytes <= MAX_SAVED_BYTES
    # The oldest went first: the first file's prompt is re-evaluated, the last ones restored.
    _, oldest = complete(engine, prompt_of(engine, names[0], chars=800))
    assert oldest.evaluated_tokens > 100
    _, recent = complete(engine, prompt_of(engine, names[-2], chars=800))
    assert recent.evaluated_tokens == 1


def test_switching_back_to_the_oldest_saved_prompt_when_the_store_is_full(
    engine: LlamaCppEngine,
) -> None:
    names = [
        "runtime/scheduler.py",
        "completion/type_through.py",
        "config.py",
        "text/documents.py",
        "completion/prompts.py",
    ]
    for name in names:
        complete(engine, prompt_of(engine, name, chars=800))
    assert len(engine._main._saved) == MAX_SAVED_STATES
    # Saving the current prompt evicts the oldest, which is the one being switched back to.
    _, back = complete(engine, prompt_of(engine, names[0], chars=800))
    assert back.evaluated_tokens == 1


@pytest.fixture(scope="module")
def moving(model_path: Path) -> Iterator[LlamaCppEngine]:
    loaded = LlamaCppEngine(model_path, n_threads=2, shift_kv=True)
    yield loaded
    loaded.close()


def prompt_at_line(engine: LlamaCppEngine, row: int):
    lines = (ROOT / "lsp_server" / "runtime/scheduler.py").read_text().splitlines(keepends=True)
    return build_prompt(engine.template, "".join(lines[20:row]), "".join(lines[row : row + 12]))


def test_moving_the_cursor_down_a_line_moves_the_cached_prompt(moving: LlamaCppEngine) -> None:
    complete(moving, prompt_at_line(moving, 56))
    _, step = complete(moving, prompt_at_line(moving, 57))
    # Suffix first: the line crossed leaves the front of the suffix and joins the prefix;
    # everything between stays cached, moved back by that line's tokens.
    assert step.shifted_tokens > 200
    assert step.evaluated_tokens < 40
    assert 0 < moving._main.drift <= MAX_SHIFT_DRIFT


def test_refresh_recomputes_moved_cells_to_the_exact_answer(moving: LlamaCppEngine) -> None:
    moving._main.truncate(0)  # no drift left from the tests before: the next step moves cells
    complete(moving, prompt_at_line(moving, 67))
    complete(moving, prompt_at_line(moving, 68))
    assert moving._main.exact < moving._main.prompt_length
    assert moving.refresh(lambda: False) > 200
    assert moving._main.exact == moving._main.prompt_length and moving._main.drift == 0
    refreshed, warm = complete(moving, prompt_at_line(moving, 68))
    assert warm.evaluated_tokens == 1
    moving._main.truncate(0)
    recomputed, _ = complete(moving, prompt_at_line(moving, 68))
    assert refreshed == recomputed


def test_a_refresh_cut_short_keeps_the_moved_cells(moving: LlamaCppEngine) -> None:
    complete(moving, prompt_at_line(moving, 62))
    complete(moving, prompt_at_line(moving, 63))
    held = list(moving._main.tokens)
    assert moving.refresh(lambda: True) == 0
    assert moving._main.tokens == held
    _, again = complete(moving, prompt_at_line(moving, 63))
    assert again.evaluated_tokens == 1


class PollsUntil:
    """A cancellation flag that turns true on its n-th poll, counting every poll."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.polls = 0

    def __call__(self) -> bool:
        self.polls += 1
        return self.polls >= self.n


def test_cancelling_stops_a_prompt_batch_midway_and_leaves_the_cache_consistent(
    engine: LlamaCppEngine,
) -> None:
    prompt = prompt_of(engine, "completion/generate.py", chars=3_000)
    engine._main.truncate(0)
    expected, _ = complete(engine, prompt)
    engine._main.truncate(0)
    cancelled = PollsUntil(100)
    stats = GenerationStats()
    assert list(engine.stream(prompt, GenerationParams(max_tokens=12), cancelled, stats)) == []
    assert stats.stop_reason == "cancelled"
    # Polled from inside llama.cpp's first batch (one poll per graph operation), which left
    # no cells behind: the cache holds exactly the tokens it says.
    assert cancelled.polls == 100
    assert stats.evaluated_tokens == 0
    assert engine._main.tokens == []
    again, after = complete(engine, prompt)
    assert after.reused_tokens == 0
    assert again == expected
