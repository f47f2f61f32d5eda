"""HttpEngine against llama-cpp-python's real OpenAI-style server running the default model.

Needs the `server` extra (`pip install -e '.[server]'`).
"""

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lsp_server.completion.prompts import build_prompt
from lsp_server.engines.base import GenerationParams, GenerationStats
from lsp_server.engines.remote.engine import HttpEngine
from lsp_server.errors import EngineError
from tests.engines.llama_server import Server, free_port

pytestmark = pytest.mark.model
pytest.importorskip("uvicorn", reason="needs the server extra: pip install -e '.[server]'")

PREFIX = "def is_even(n: int) -> bool:\n    "
SUFFIX = "\n\n\nprint(is_even(4))\n"


@pytest.fixture(scope="module")
def server(model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = Server(model_path, free_port(), tmp_path_factory.mktemp("llama-server") / "log")
    running.start()
    yield running
    running.kill()


def complete(engine, prompt, max_tokens: int = 24) -> tuple[str, GenerationStats]:
    stats = GenerationStats()
    params = GenerationParams(max_tokens=max_tokens)
    return "".join(engine.stream(prompt, params, lambda: False, stats)), stats


def test_greedy_fim_matches_llama_cpp(server: Server, model_path: Path) -> None:
    from lsp_server.engines.llamacpp.engine import LlamaCppEngine

    local = LlamaCppEngine(model_path, n_threads=2)
    try:
        prompt = build_prompt(local.template, PREFIX, SUFFIX)
        expected, _ = complete(local, prompt)
        expected_tokens = [local._piece(t) for t in local.tokenize(expected)]
    finally:
        local.close()

    engine = HttpEngine(server.url)
    assert engine.server_kind == "llama-cpp-python"
    assert engine.template.family == "qwen2.5-coder"
    assert engine.count_tokens(PREFIX) > 0
    start = time.perf_counter()
    text, stats = complete(engine, build_prompt(engine.template, PREFIX, SUFFIX))
    elapsed = time.perf_counter() - start
    print(f"\nllama.cpp in process: {expected!r}\nHTTP server: {text!r} ({elapsed:.2f}s, {stats})")
    assert "%" in text and "2" in text, text
    if text != expected:
        common = 0
        while common < min(len(text), len(expected)) and text[common] == expected[common]:
            common += 1
        pytest.fail(
            f"greedy outputs differ after {common} characters: server {text[common:]!r}, "
            f"in process {expected[common:]!r} (in-process tokens {expected_tokens})"
        )
    # llama-cpp-python reports no usage while streaming, so only the count of chunks is known.
    assert stats.generated_tokens > 0


def test_server_killed_mid_request_then_restarted(server: Server) -> None:
    engine = HttpEngine(server.url)
    prompt = build_prompt(engine.template, "# a long list of primes\nprimes = [2, 3, 5, ", "")
    stats = GenerationStats()
    pieces = engine.stream(prompt, GenerationParams(max_tokens=400), lambda: False, stats)
    received = [next(pieces)]
    server.kill()
    with pytest.raises(EngineError, match=server.url):
        received.extend(pieces)
    with pytest.raises(EngineError, match="connection refused"):
        complete(engine, prompt)
    server.start()
    text, _ = complete(engine, build_prompt(engine.template, PREFIX, SUFFIX))
    assert "%" in text, text
