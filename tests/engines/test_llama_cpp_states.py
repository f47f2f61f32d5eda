"""LlamaCppEngine keeps the prompts of recently left files: switching back restores them.

Runs the real default model.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest

from lsp_server.engines.base import GenerationParams, GenerationStats
from lsp_server.engines.llama_cpp import MAX_SAVED_BYTES, MAX_SAVED_STATES, LlamaCppEngine
from lsp_server.prompts import build_prompt

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


def test_switching_back_to_a_file_restores_its_prompt(engine: LlamaCppEngine) -> None:
    first = prompt_of(engine, "scheduler.py")
    other = prompt_of(engine, "cache.py")
    text, cold = complete(engine, first)
    assert cold.evaluated_tokens > 200
    complete(engine, other)
    again, warm = complete(engine, first)
    # Only the last prompt token is re-run, for fresh logits; the answer is the same.
    assert warm.evaluated_tokens == 1
    assert warm.reused_tokens == warm.prompt_tokens - 1
    assert again == text


def test_saved_prompts_stay_within_their_bounds(engine: LlamaCppEngine) -> None:
    names = ["scheduler.py", "cache.py", "config.py", "documents.py", "prompts.py", "triggers.py"]
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
