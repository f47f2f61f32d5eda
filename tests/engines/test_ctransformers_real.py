"""CTransformersEngine: what it refuses in the default model, and a tiny llama it can run.

No real code model of an architecture ctransformers knows is installable here, so the engine's
generation path runs on a two-layer llama with random weights written by the `gguf` package;
llama-cpp-python, given the same file, must agree with it token for token.
Needs the `ctransformers` extra (`pip install -e '.[ctransformers]'`).
"""

from pathlib import Path

import numpy as np
import pytest

from lsp_server.completion.prompts import build_prompt
from lsp_server.engines.base import GenerationParams, GenerationStats
from lsp_server.engines.ctransformers_engine import CTransformersEngine, read_gguf_vocab
from lsp_server.errors import EngineError, ModelError

pytestmark = pytest.mark.model
pytest.importorskip("ctransformers", reason="needs the ctransformers extra")

_FIM = ["▁<PRE>", "▁<SUF>", "▁<MID>", "▁<EOT>"]
_WORDS = ["▁", "▁def", "▁return", "def", "(", ")", ":", "▁x", "x", "▁1", "1", "▁+", "+", "▁="]


def write_tiny_llama(path: Path) -> Path:
    """A llama GGUF with CodeLlama's FIM tokens and random float32 weights (about 0.5 MB)."""
    import gguf

    pieces = ["<unk>", "<s>", "</s>", *(f"<0x{b:02X}>" for b in range(256)), *_FIM, *_WORDS]
    types = [2, 3, 3, *[6] * 256, *[3] * len(_FIM), *[1] * len(_WORDS)]
    n_vocab, n_embd, n_ff, n_head, n_layer = len(pieces), 64, 128, 4, 2
    rng = np.random.default_rng(0)
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_context_length(256)
    writer.add_embedding_length(n_embd)
    writer.add_block_count(n_layer)
    writer.add_feed_forward_length(n_ff)
    writer.add_rope_dimension_count(n_embd // n_head)
    writer.add_head_count(n_head)
    writer.add_head_count_kv(n_head)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(pieces)
    writer.add_token_scores([0.0] * (n_vocab - len(_WORDS)) + [-float(i) for i in range(14)])
    writer.add_token_types(types)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_unk_token_id(0)

    def weight(name: str, *shape: int) -> None:
        writer.add_tensor(name, (rng.standard_normal(shape) * 0.2).astype(np.float32))

    weight("token_embd.weight", n_vocab, n_embd)
    writer.add_tensor("output_norm.weight", np.ones(n_embd, np.float32))
    weight("output.weight", n_vocab, n_embd)
    for i in range(n_layer):
        writer.add_tensor(f"blk.{i}.attn_norm.weight", np.ones(n_embd, np.float32))
        writer.add_tensor(f"blk.{i}.ffn_norm.weight", np.ones(n_embd, np.float32))
        for name in ("attn_q", "attn_k", "attn_v", "attn_output"):
            weight(f"blk.{i}.{name}.weight", n_embd, n_embd)
        weight(f"blk.{i}.ffn_gate.weight", n_ff, n_embd)
        weight(f"blk.{i}.ffn_up.weight", n_ff, n_embd)
        weight(f"blk.{i}.ffn_down.weight", n_embd, n_ff)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


# One thread: with two, the 2023 ggml in ctransformers spends ~200 ms per evaluation waiting for
# its worker on a busy two-core machine, against 0.1 ms with one.


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_llama(tmp_path_factory.mktemp("tiny") / "tiny-llama.gguf")


def test_default_model_is_refused_for_its_architecture(model_path: Path) -> None:
    vocab = read_gguf_vocab(model_path)
    assert vocab is not None and vocab.architecture == "qwen2"
    with pytest.raises(
        EngineError,
        match="architecture 'qwen2' is not supported by ctransformers; "
        "engines that can run it: llama.cpp, transformers",
    ):
        CTransformersEngine(model_path)


def test_what_ctransformers_itself_says_about_the_default_model(model_path: Path) -> None:
    from ctransformers.llm import LLM, Config

    # Forced past the check, its 2023 llama.cpp fails without naming a reason.
    for model_type in (None, "llama"):
        with pytest.raises(RuntimeError, match=f"Failed to create LLM '{model_type or 'gguf'}'"):
            LLM(str(model_path), model_type, config=Config(context_length=512, threads=1))


def test_ggml_file_needs_a_model_type(tmp_path: Path) -> None:
    ggml = tmp_path / "model.bin"
    ggml.write_bytes(b"lmgg" + bytes(64))
    with pytest.raises(EngineError, match="needs its model_type"):
        CTransformersEngine(ggml)
    with pytest.raises(ModelError, match="not found"):
        CTransformersEngine(tmp_path / "missing.gguf")


def test_tiny_llama_streams_like_llama_cpp(tiny: Path) -> None:
    from lsp_server.engines.llamacpp.engine import LlamaCppEngine

    engine = CTransformersEngine(tiny, n_ctx=256, n_threads=1)
    try:
        assert engine.template.family == "codellama"
        prompt = build_prompt(engine.template, "def x(1):\n    return", "\n")
        stats = GenerationStats()
        pieces = list(engine.stream(prompt, GenerationParams(max_tokens=12), lambda: False, stats))
        ours = engine.prompt_tokens(prompt)
        again = GenerationStats()
        repeat = list(engine.stream(prompt, GenerationParams(max_tokens=12), lambda: False, again))
        assert repeat == pieces
        assert again.reused_tokens == len(ours) - 1
    finally:
        engine.close()
    local = LlamaCppEngine(tiny, n_ctx=256, n_threads=2)
    try:
        assert local.template.family == "codellama"
        theirs = local.prompt_tokens(prompt)
        expected = list(local.stream(prompt, GenerationParams(max_tokens=12), lambda: False,
                                     GenerationStats()))  # fmt: skip
    finally:
        local.close()
    print(f"\nctransformers {pieces!r} ({stats})\nllama.cpp     {expected!r}")
    assert ours == theirs
    assert "".join(pieces) == "".join(expected)


def test_tiny_llama_cancels_and_scores(tiny: Path) -> None:
    engine = CTransformersEngine(tiny, n_ctx=256, n_threads=1)
    try:
        prompt = build_prompt(engine.template, "x = 1 + ", "")
        received: list[str] = []
        stats = GenerationStats()
        params = GenerationParams(max_tokens=40, temperature=1.0, seed=7)
        for piece in engine.stream(prompt, params, lambda: stats.generated_tokens >= 2, stats):
            received.append(piece)
        assert stats.stop_reason in ("cancelled", "eos")
        assert stats.generated_tokens <= 2
        text = "def x(1): return x + 1"
        scores = engine.score(text, lambda: False)
        assert scores is not None and len(scores) == engine.count_tokens(text) - 1
        assert all(s.logprob < 0 for s in scores)
        assert "".join(text[s.start : s.end] for s in scores) == text[scores[0].start :]
        assert engine.score(text, lambda: True) is None
    finally:
        engine.close()
