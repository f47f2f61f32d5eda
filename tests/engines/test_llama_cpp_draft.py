"""LlamaCppEngine with a draft: a next-edit rewrite decoded with its region as the draft is the
rewrite plain greedy decoding gives, character for character, in fewer model calls.

Runs the real default model.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest

from lsp_server.engines.base import GenerationParams, GenerationStats
from lsp_server.engines.llamacpp.engine import LlamaCppEngine
from lsp_server.next_edit.history import EditHistory
from lsp_server.next_edit.prompts import NextEditRequest, build_prompt, draft_for, layout_for
from lsp_server.next_edit.region import choose_region
from lsp_server.text.documents import Change, DocumentStore, Pos

pytestmark = pytest.mark.model

URI = "file:///w/calc.py"
TEXT = (
    "def total(items):\n"
    "    result = 0\n"
    "    for item in items:\n"
    "        result += item.price\n"
    "    return result\n"
)


@pytest.fixture(scope="module")
def engine(model_path: Path) -> Iterator[LlamaCppEngine]:
    loaded = LlamaCppEngine(model_path, n_threads=2)
    yield loaded
    loaded.close()


def rewrite_prompt(engine: LlamaCppEngine):
    store = DocumentStore()
    before = store.open(URI, "python", 1, TEXT)
    after = store.change(URI, 2, [Change("products", Pos(0, 10), Pos(0, 15))])
    history = EditHistory()
    history.record(URI, before.text, after.text, 0, 0)
    region = choose_region(after, 0, history.last_line(URI))
    request = NextEditRequest(
        "calc.py", "python", after.text, region, 18, history.recent(), lambda uri: "calc.py"
    )
    layout = layout_for(engine.template.family)
    prompt = build_prompt(layout, request, engine.chat_prompt, engine.count_tokens, 1500)
    return prompt, draft_for(layout, request)


def run(engine: LlamaCppEngine, prompt, draft: str) -> tuple[str, GenerationStats]:
    stats = GenerationStats()
    params = GenerationParams(max_tokens=96, background=True, draft=draft)
    return "".join(engine.stream(prompt, params, lambda: False, stats)), stats


def test_a_drafted_rewrite_is_the_greedy_rewrite(engine: LlamaCppEngine) -> None:
    prompt, region = rewrite_prompt(engine)
    plain, plain_stats = run(engine, prompt, "")
    drafted, drafted_stats = run(engine, prompt, region)
    assert drafted == plain
    assert drafted_stats.generated_tokens == plain_stats.generated_tokens
    assert drafted_stats.stop_reason == plain_stats.stop_reason
    # A draft the answer does not follow at all changes nothing either.
    unrelated, _ = run(engine, prompt, "while True:\n    pass\n" * 4)
    assert unrelated == plain
