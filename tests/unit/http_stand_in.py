"""A tiny llama-server or OpenAI-style completion server on loopback, for the HTTP engine's
tests and the server's fault tests: each test sets its answers, its delays and its failures."""

import contextlib
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from lsp_server.completion.prompts import template_for_family

QWEN = template_for_family("qwen2.5-coder")


class StandIn:
    """A tiny llama-server or OpenAI-style server whose answers each test sets."""

    def __init__(self, flavor: str = "llama-server", port: int = 0) -> None:
        self.flavor = flavor
        self.markers = set(QWEN.signature) | {QWEN.prefix, QWEN.suffix, QWEN.middle}
        self.pieces: list[str] = ["return", " a", " +", " b"]
        self.interval = 0.0
        self.header_delay = 0.0
        self.hold: threading.Event | None = None  # set: the answer may start
        self.api_key: str | None = None  # set: requests must carry it
        self.slot = 0  # the slot llama-server says it used
        self.raw: list[bytes] = []  # every request line and header block received
        self.fail_status = 0
        self.die_after: int | None = None
        self.requests: list[tuple[str, dict]] = []
        self.disconnected = threading.Event()
        self.connections: set = set()
        self.server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Go away as a killed server would: kept-alive connections are cut too."""
        self.server.shutdown()
        self.server.server_close()
        for connection in list(self.connections):
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def setup(self) -> None:
                super().setup()
                # Headers and body go out in two writes; Nagle would hold the second back.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                stand_in.connections.add(self.connection)

            def finish(self) -> None:
                stand_in.connections.discard(self.connection)
                with contextlib.suppress(OSError):
                    super().finish()

            def send_json(self, status: int, body: object) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def refused(self) -> bool:
                stand_in.raw.append(str(self.requestline).encode() + bytes(self.headers))
                if stand_in.api_key is None:
                    return False
                if self.headers.get("Authorization") == f"Bearer {stand_in.api_key}":
                    return False
                self.send_json(401, {"error": {"message": "Invalid API Key"}})
                return True

            def do_GET(self) -> None:
                if self.refused():
                    return
                if self.path == "/health":
                    self.send_json(200, {"status": "ok"})
                elif self.path == "/props" and stand_in.flavor == "llama-server":
                    self.send_json(
                        200,
                        {
                            "default_generation_settings": {"n_ctx": 4096},
                            "model_path": "/models/stub-coder.gguf",
                            "chat_template": "{{ messages }}",
                        },
                    )
                elif self.path == "/v1/models":
                    self.send_json(200, {"object": "list", "data": [{"id": "stub-model"}]})
                else:
                    self.send_json(404, {"error": "not found"})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                if self.refused():
                    return
                stand_in.requests.append((self.path, body))
                if self.path == "/tokenize" and stand_in.flavor == "llama-server":
                    self.tokenize(body)
                elif self.path == "/apply-template" and stand_in.flavor == "llama-server":
                    parts = [
                        f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n"
                        for m in body["messages"]
                    ]
                    self.send_json(200, {"prompt": "".join(parts) + "<|im_start|>assistant\n"})
                elif self.path == "/completion" and not body.get("stream"):
                    # llama-server's whole answer at once, with the slot that served it.
                    self.send_json(200, {"content": " ", "stop": True, "id_slot": stand_in.slot})
                elif self.path in ("/v1/completions", "/infill", "/completion"):
                    self.complete(self.path != "/v1/completions")
                else:
                    self.send_json(404, {"error": "not found"})

            def tokenize(self, body: dict) -> None:
                text = body["content"]
                if body.get("parse_special") and text in stand_in.markers:
                    tokens = [{"id": 1, "piece": text}] if body.get("with_pieces") else [1]
                else:
                    tokens = [ord(c) for c in text[::3]]
                self.send_json(200, {"tokens": tokens})

            def complete(self, native: bool) -> None:
                time.sleep(stand_in.header_delay)
                if stand_in.hold is not None:
                    stand_in.hold.wait()
                if stand_in.fail_status:
                    self.send_json(stand_in.fail_status, {"error": "model exploded: out of KV"})
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                try:
                    self.end_headers()  # the client may have given up during the delay
                    for i, piece in enumerate(stand_in.pieces):
                        if stand_in.die_after is not None and i == stand_in.die_after:
                            self.connection.close()
                            return
                        chunk = (
                            {"content": piece, "stop": False, "id_slot": -1}
                            if native
                            else {"choices": [{"text": piece, "finish_reason": None}]}
                        )
                        self.event(chunk)
                        time.sleep(stand_in.interval)
                    if native:
                        timings = {
                            "cache_n": 10,
                            "prompt_n": 5,
                            "prompt_ms": 12.5,
                            "predicted_n": len(stand_in.pieces),
                            "predicted_ms": 30.0,
                        }
                        # As llama-server: the slot only in the last chunk.
                        last = {"content": "", "stop": True, "stop_type": "eos"}
                        self.event({**last, "timings": timings, "id_slot": stand_in.slot})
                    else:
                        self.event({"choices": [{"text": "", "finish_reason": "stop"}]})
                        usage = {"prompt_tokens": 17, "completion_tokens": len(stand_in.pieces)}
                        self.event({"choices": [], "usage": usage})
                        self.wfile.write(b"data: [DONE]\n\n")
                        self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    stand_in.disconnected.set()

            def event(self, chunk: dict) -> None:
                self.wfile.write(b": ping\n\n")
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.flush()

        return Handler
