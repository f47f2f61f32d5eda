"""A loopback stand-in for the Hugging Face Hub endpoint that `hf_hub_download` talks to.

It answers HEAD and GET on `/{repo}/resolve/{revision}/{file}` with the headers huggingface_hub
requires (X-Repo-Commit, ETag, Content-Length) and honours `Range: bytes=N-` for resumed
downloads. It can cut the first GET short to exercise resumption.
"""

from __future__ import annotations

import hashlib
import re
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

COMMIT = "0123456789abcdef0123456789abcdef01234567"
_RESOLVE = re.compile(r"/(?P<repo>[^/]+/[^/]+)/resolve/(?P<revision>[^/]+)/(?P<file>.+)")
_RANGE = re.compile(r"bytes=(\d+)-$")


@dataclass
class HubStub:
    """Serves `files[(repo, file)]`; records every request as (method, path, Range header)."""

    files: dict[tuple[str, str], bytes]
    cut_first_get_after: int | None = None
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> HubStub:
        handler = type("BoundHandler", (_Handler,), {"stub": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    def gets(self) -> list[tuple[str, str, str | None]]:
        return [request for request in self.requests if request[0] == "GET"]


def closed_port_url() -> str:
    """A loopback URL on which nothing listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    stub: HubStub

    def do_HEAD(self) -> None:
        self._serve(send_body=False)

    def do_GET(self) -> None:
        self._serve(send_body=True)

    def log_message(self, format: str, *args: object) -> None:
        """Keep test output quiet."""

    def _serve(self, send_body: bool) -> None:
        range_header = self.headers.get("Range")
        self.stub.requests.append((self.command, self.path, range_header))
        match = _RESOLVE.fullmatch(unquote(self.path))
        content = match and self.stub.files.get((match["repo"], match["file"]))
        if content is None:
            self._not_found()
            return
        start = int(_RANGE.match(range_header)[1]) if range_header else 0
        body = content[start:]
        self.send_response(206 if start else 200)
        self.send_header("X-Repo-Commit", COMMIT)
        self.send_header("ETag", f'"{hashlib.sha256(content).hexdigest()}"')
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(content) - 1}/{len(content)}")
        self.end_headers()
        if send_body:
            self._send_body(body)

    def _send_body(self, body: bytes) -> None:
        cut = self.stub.cut_first_get_after
        if cut is None:
            self.wfile.write(body)
            return
        self.stub.cut_first_get_after = None
        self.wfile.write(body[:cut])
        self.close_connection = True

    def _not_found(self) -> None:
        self.send_response(404)
        self.send_header("X-Error-Code", "EntryNotFound")
        self.send_header("Content-Length", "0")
        self.end_headers()
