"""The transport under the HTTP engine: JSON calls on one kept-alive connection, streams on a
connection each, server-sent events, and errors that name the URL.

Requests go to the configured URL only: `http.client` consults no proxy settings.
"""

import http.client
import json
import ssl
import urllib.parse
from collections.abc import Iterator
from typing import Any

from ...errors import EngineError

_ERROR_EXCERPT = 300


def sse_events(lines: Iterator[bytes]) -> Iterator[str]:
    """The data of each server-sent event; comments (pings) and other fields are skipped."""
    data: list[str] = []
    for raw in lines:
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if not line:
            if data:
                yield "\n".join(data)
                data = []
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
    if data:
        yield "\n".join(data)


def excerpt(body: bytes) -> str:
    text = body.decode("utf-8", "replace").strip().replace("\n", " ")
    return text if len(text) <= _ERROR_EXCERPT else text[:_ERROR_EXCERPT] + "..."


class HttpClient:
    """JSON over HTTP to one server, with errors turned into EngineError naming the URL."""

    def __init__(self, url: str, api_key: str | None, timeout_s: float) -> None:
        parts = urllib.parse.urlsplit(url if "://" in url else f"http://{url}")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise EngineError(f"not an http(s) URL: {url!r}")
        self.base = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._path = parts.path.rstrip("/")
        self._timeout = timeout_s
        self._headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._kept: http.client.HTTPConnection | None = None

    def connect(self) -> http.client.HTTPConnection:
        if self._https:
            return http.client.HTTPSConnection(
                self._host, self._port, timeout=self._timeout, context=ssl.create_default_context()
            )
        return http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)

    def failure(self, path: str, exc: BaseException) -> EngineError:
        where = self.base + path
        if isinstance(exc, TimeoutError):
            return EngineError(
                f"the completion server at {where} did not answer within {self._timeout:g}s"
            )
        if isinstance(exc, ConnectionRefusedError):
            return EngineError(f"cannot reach the completion server at {where}: connection refused")
        if isinstance(exc, (ConnectionError, http.client.IncompleteRead)):
            return EngineError(f"the completion server at {where} closed the connection: {exc}")
        return EngineError(f"cannot reach the completion server at {where}: {exc}")

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        """Status and body of a short call; a kept connection gone stale is redialled once."""
        payload = None if body is None else json.dumps(body).encode("utf-8")
        for attempt in (1, 2):
            fresh = self._kept is None
            if fresh:
                self._kept = self.connect()
            try:
                self._kept.request(method, self._path + path, payload, self._headers)
                response = self._kept.getresponse()
                data = response.read()
                if response.will_close:
                    self.drop()
                return response.status, data
            except (OSError, http.client.HTTPException) as exc:
                self.drop()
                stale = isinstance(
                    exc, (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)
                )
                if fresh or not stale or attempt == 2:
                    raise self.failure(path, exc) from exc
        raise AssertionError("unreachable")

    def json(self, method: str, path: str, body: Any = None) -> Any:
        status, data = self.request(method, path, body)
        if status != 200:
            raise EngineError(
                f"the completion server at {self.base + path} answered HTTP {status}: "
                f"{excerpt(data)}"
            )
        try:
            return json.loads(data)
        except ValueError as exc:
            raise EngineError(
                f"the completion server at {self.base + path} sent something that is not JSON: "
                f"{excerpt(data)}"
            ) from exc

    def optional_json(self, method: str, path: str, body: Any = None) -> Any | None:
        """The answer of an endpoint that not every server has; None where it is missing."""
        status, data = self.request(method, path, body)
        if status != 200:
            return None
        try:
            return json.loads(data)
        except ValueError:
            return None

    def stream(self, path: str, body: Any) -> tuple[http.client.HTTPConnection, Iterator[bytes]]:
        """A connection of its own streaming the answer's lines; closing it ends the stream."""
        conn = self.connect()
        headers = dict(self._headers, Accept="text/event-stream")
        try:
            conn.request("POST", self._path + path, json.dumps(body).encode("utf-8"), headers)
            response = conn.getresponse()
            if response.status != 200:
                raise EngineError(
                    f"the completion server at {self.base + path} answered HTTP "
                    f"{response.status}: {excerpt(response.read(4096))}"
                )
        except EngineError:
            conn.close()
            raise
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise self.failure(path, exc) from exc
        return conn, iter(response.readline, b"")

    def drop(self) -> None:
        if self._kept is not None:
            self._kept.close()
            self._kept = None
