"""`python -m llama_cpp.server` serving a model on loopback, for tests and benchmarks.

Needs the `server` extra (`pip install -e '.[server]'`).
"""

import socket
import subprocess
import sys
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """`python -m llama_cpp.server` on loopback; the batch matches LlamaCppEngine's default."""

    def __init__(
        self,
        model: Path,
        port: int,
        log: Path,
        *,
        api_key: str | None = None,
        tls: tuple[Path, Path] | None = None,  # the certificate chain's and the key's PEM files
    ) -> None:
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
        self._args = [
            sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--n_ctx", "2048",
            "--n_threads", "2", "--n_batch", "32", "--n_ubatch", "32", "--host", "127.0.0.1",
            "--port", str(port),
        ]  # fmt: skip
        if api_key:
            self._args += ["--api_key", api_key]
        if tls:
            self._args += ["--ssl_certfile", str(tls[0]), "--ssl_keyfile", str(tls[1])]
        self.port = port
        self._log = log
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with self._log.open("ab") as out:
            self.process = subprocess.Popen(self._args, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited: {self._log.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), 1):
                    return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError("llama_cpp.server did not start within 120 s")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(30)
