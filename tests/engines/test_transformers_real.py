"""TransformersEngine on the default model, loaded from its GGUF (dequantized, about a minute).

Needs the `transformers` extra (`pip install -e '.[transformers]'`).
"""

from collections.abc import Iterator
from pathlib import Path

import pytest

from lsp_server.completion.prompts import build_prompt
from lsp_server.engines.base import GenerationParams, GenerationStats
from lsp_server.errors import ModelError

pytestmark = pytest.mark.model
pytest.importorskip("transformers", reason="needs the transformers extra")
pytest.importorskip("accelerate", reason="needs the transformers extra")

from lsp_server.engines.transformers_engine import TransformersEngine  # noqa: E402

PREFIX = "def is_even(n: int) -> bool:\n    "
SUFFIX = "\n\n\nprint(is_even(4))\n"


@pytest.fixture(scope="module")
def engine(model_path: Path) -> Iterator[TransformersEngine]:
    loaded = TransformersEngine(model_path, n_ctx=2048)
    print(f"\ntransformers loaded the GGUF in {loaded.load_seconds:.1f}s on {loaded.device}")
    yield loaded
    loaded.close()


def complete(engine, prompt, max_tokens: int = 24, **params) -> tuple[str, GenerationStats]:
    stats = GenerationStats()
    options = GenerationParams(max_tokens=max_tokens, **params)
    return "".join(engine.stream(prompt, options, lambda: False, stats)), stats


def test_template_and_tokenizer(engine: TransformersEngine) -> None:
    assert engine.template.family == "qwen2.5-coder"
    assert engine.is_single_token("<|fim_prefix|>")
    assert not engine.is_single_token("def")
    # A marker inside the user's text is plain text, never the control token.
    assert len(engine.tokenize("x = '<|fim_middle|>'")) > 3


def test_greedy_fim_is_sensible_and_matches_llama_cpp(
    engine: TransformersEngine, model_path: Path
) -> None:
    from lsp_server.engines.llamacpp.engine import LlamaCppEngine

    prompt = build_prompt(engine.template, PREFIX, SUFFIX)
    text, stats = complete(engine, prompt)
    print(f"\ntransformers: {text!r} ({stats})")
    assert "n % 2 == 0" in text
    local = LlamaCppEngine(model_path, n_threads=2)
    try:
        expected, _ = complete(local, prompt)
        assert local.prompt_tokens(prompt) == engine.prompt_tokens(prompt)
    finally:
        local.close()
    print(f"llama.cpp:    {expected!r}")
    if text != expected:
        ours = [engine._tokenizer.decode([t]) for t in engine.tokenize(text)]
        theirs = [engine._tokenizer.decode([t]) for t in engine.tokenize(expected)]
        first = next(
            i for i, (a, b) in enumerate(zip(ours + [""], theirs + [""], strict=False)) if a != b
        )
        pytest.fail(
            f"first differing token #{first}: transformers {ours[first : first + 3]}, "
            f"llama.cpp {theirs[first : first + 3]}"
        )


def test_kv_cache_reuse_keeps_the_answer(engine: TransformersEngine) -> None:
    first = build_prompt(engine.template, PREFIX, SUFFIX)
    text, _ = complete(engine, first, max_tokens=8)
    longer = build_prompt(engine.template, PREFIX + "return", SUFFIX)
    reused_text, reused = complete(engine, longer, max_tokens=8)
    assert reused.reused_tokens > 0
    assert reused.evaluated_tokens < reused.prompt_tokens
    engine._main.truncate(0)
    fresh_text, fresh = complete(engine, longer, max_tokens=8)
    assert fresh.reused_tokens == 0
    assert reused_text == fresh_text
    assert text


def test_cancellation_stops_within_a_token(engine: TransformersEngine) -> None:
    prompt = build_prompt(engine.template, "# primes below 1000\nprimes = [2, 3, 5, ", "")
    received: list[str] = []
    stats = GenerationStats()
    for piece in engine.stream(
        prompt, GenerationParams(max_tokens=64), lambda: len(received) >= 2, stats
    ):
        received.append(piece)
    assert stats.stop_reason == "cancelled"
    assert len(received) == 2 and stats.generated_tokens == 2
    before = GenerationStats()
    assert list(engine.stream(prompt, GenerationParams(), lambda: True, before)) == []
    assert before.stop_reason == "cancelled" and before.generated_tokens == 0


def test_score_flags_the_wrong_parity(engine: TransformersEngine) -> None:
    text = "def is_even(n):\n    return n % 2 == 1\n"
    scores = engine.score(text, lambda: False)
    assert scores is not None
    pieces = [(text[s.start : s.end], round(s.logprob, 2)) for s in scores]
    print(f"\n{pieces}")
    one = next(s for s in scores if text[s.start : s.end] == "1")
    others = [s.logprob for s in scores if s is not one and s.start > text.index("return")]
    assert one.logprob < -3
    assert one.logprob < min(others) - 1, pieces
    assert engine.score(text, lambda: True) is None


def test_chat_prompt_keeps_user_text_plain(engine: TransformersEngine) -> None:
    prompt = engine.chat_prompt("Fix the code.", "s = '<|im_end|>'")
    assert prompt is not None
    assert [s.special for s in prompt.segments] == [True, False, True]
    assert prompt.segments[0].text.endswith("<|im_start|>user\n")
    assert prompt.segments[2].text.startswith("<|im_end|>")
    tokens = engine.prompt_tokens(prompt)
    im_end = engine._tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert tokens.count(im_end) == 2  # the system turn's and the user turn's, not the user's text


def test_missing_hub_model_offline_is_a_model_error() -> None:
    with pytest.raises(ModelError, match="tide-tests/no-such-model"):
        TransformersEngine("tide-tests/no-such-model", local_files_only=True)
