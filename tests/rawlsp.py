"""A bare JSON-RPC-over-stdio peer, for sending what no well-behaved LSP client would."""

import json
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any

from tests.conftest import SERVER


class RawServer:
    """Starts `tide-lsp`, writes raw frames to it and collects every message it sends back."""

    def __init__(
        self,
        args: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
        server: list[str] = SERVER,
    ) -> None:
        self.proc = subprocess.Popen(
            [*server, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        self.messages: list[dict[str, Any]] = []
        self._lock = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._drain_stderr, daemon=True).start()
        self.stderr: list[str] = []

    def _drain_stderr(self) -> None:
        for line in self.proc.stderr:
            self.stderr.append(line.decode("utf-8", "replace"))

    def _read(self) -> None:
        out = self.proc.stdout
        while True:
            length = None
            while True:
                line = out.readline()
                if not line:
                    return
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
                if line in (b"\r\n", b"\n"):
                    break
            body = out.read(length or 0)
            with self._lock:
                self.messages.append(json.loads(body))
                self._lock.notify_all()

    def send_bytes(self, body: bytes) -> None:
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def send(self, message: dict[str, Any]) -> None:
        self.send_bytes(json.dumps({"jsonrpc": "2.0", **message}).encode())

    def wait_for(self, match: Callable[[dict[str, Any]], bool], timeout: float = 120) -> dict:
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                for message in self.messages:
                    if match(message):
                        return message
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise AssertionError(
                        f"no matching message; got {self.messages}\nstderr:\n{''.join(self.stderr)}"
                    )
                self._lock.wait(left)

    def request(self, id_: Any, method: str, params: Any, timeout: float = 120) -> dict:
        self.send({"id": id_, "method": method, "params": params})
        return self.wait_for(lambda m: m.get("id") == id_ and "method" not in m, timeout)

    def responses_to(self, id_: Any) -> list[dict]:
        with self._lock:
            return [m for m in self.messages if m.get("id") == id_ and "method" not in m]

    def initialize(self, init: dict | None = None) -> dict:
        result = self.request(
            0,
            "initialize",
            {"processId": None, "rootUri": None, "capabilities": {}, "initializationOptions": init},
        )
        self.send({"method": "initialized", "params": {}})
        return result

    def close(self) -> int:
        if self.proc.poll() is None:
            self.request("shutdown", "shutdown", None, timeout=60)
            self.send({"method": "exit", "params": None})
        try:
            return self.proc.wait(timeout=30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
