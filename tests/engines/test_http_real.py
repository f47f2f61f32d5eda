"""HttpEngine against llama-cpp-python's real OpenAI-style server running the default model.

Needs the `server` extra (`pip install -e '.[server]'`).
"""

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lsp_server.engines.base import GenerationParams, GenerationStats
from lsp_server.engines.http import HttpEngine
from lsp_server.errors import EngineError
from lsp_server.prompts import build_prompt

pytestmark = pytest.mark.model
pytest.importorskip("uvicorn", reason="needs the server extra: pip install -e '.[server]'")

PREFIX = "def is_even(n: int) -> bool:\n    "
SUFFIX = "\n\n\nprint(is_even(4))\n"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """`python -m llama_cpp.server` on loopback; the batch matches LlamaCppEngine's default."""

    def __init__(self, model: Path, port: int, log: Path) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self._args = [
            sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--n_ctx", "2048",
            "--n_threads", "2", "--n_batch", "32", "--n_ubatch", "32", "--host", "127.0.0.1",
            "--port", str(port),
        ]  # fmt: skip
        self._log = log
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with self._log.open("ab") as out:
            self.process = subprocess.Popen(self._args, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"llama_cpp.server exited: {self._log.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", int(self.url.rsplit(":", 1)[1])), 1):
                    return
            except OSError:
                time.sleep(0.3)
        pytest.fail("llama_cpp.server did not start within 120 s")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(30)


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
    from lsp_server.engines.llama_cpp import LlamaCppEngine

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
