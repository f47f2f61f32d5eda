"""The transport under the HTTP engine: JSON calls on one kept-alive connection, streams on a
connection each, server-sent events, and errors that name the URL.

Requests go to the configured URL only: `http.client` consults no proxy settings and follows no
redirects, so the API key goes nowhere else; an https:// URL is only ever spoken to over TLS
with a verified certificate.
"""

import contextlib
import http.client
import ipaddress
import json
import logging
import socket
import ssl
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from ...errors import EngineError

log = logging.getLogger(__name__)

_ERROR_EXCERPT = 300
# How often a stream's watchdog looks at the request's cancellation and deadline.
_WATCH_S = 0.05


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


class Stream:
    """One answer streaming on a connection of its own.

    A watchdog thread shuts the socket down when the request is cancelled or its deadline
    passes, so that a server that has gone silent (overloaded, or stopped mid-answer) cannot
    hold the engine's worker: the blocked read returns at once and `reason` says why.
    """

    def __init__(
        self, conn: http.client.HTTPConnection, cancelled: Callable[[], bool], deadline: float
    ) -> None:
        self.conn = conn
        self.reason = ""  # "cancelled" or "timeout" once the watchdog ended the stream
        self.lines: Iterator[bytes] = iter(())
        # Kept here: a response that closes its connection takes the socket off `conn`.
        self.sock: socket.socket | None = None
        self.response: http.client.HTTPResponse | None = None
        self._cancelled = cancelled
        self._deadline = deadline
        self._done = threading.Event()
        threading.Thread(target=self._watch, name="tide-http-watchdog", daemon=True).start()

    def _watch(self) -> None:
        while not self._done.wait(_WATCH_S):
            if self._cancelled():
                self.reason = "cancelled"
            elif time.monotonic() > self._deadline:
                self.reason = "timeout"
            else:
                continue
            self._shut()
            return

    def _shut(self) -> None:
        sock = self.sock or self.conn.sock
        if sock is not None:
            with contextlib.suppress(OSError):  # already closed by the other side
                sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._done.set()
        # Shutting the socket down is what makes the server drop the request at once, whoever
        # still holds a reference to it.
        self._shut()
        if self.response is not None:
            self.response.close()
        self.conn.close()


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class HttpClient:
    """JSON over HTTP to one server, with errors turned into EngineError naming the URL."""

    def __init__(
        self,
        url: str,
        api_key: str | None,
        timeout_s: float,
        ca_file: str | None = None,
    ) -> None:
        parts = urllib.parse.urlsplit(url if "://" in url else f"http://{url}")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise EngineError(f"not an http(s) URL: {url!r}")
        self.base = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._path = parts.path.rstrip("/")
        self.timeout_s = timeout_s
        self._has_key = bool(api_key)
        self._tls: ssl.SSLContext | None = None
        if self._https:
            try:
                self._tls = ssl.create_default_context(cafile=ca_file)
            except (OSError, ssl.SSLError) as exc:
                raise EngineError(f"cannot read the CA file {ca_file}: {exc}") from exc
        # A session id lets a load balancer in front of several servers keep one editor on one
        # replica, whose prompt cache holds its prompts; it says nothing about the user.
        self._headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "X-Tide-Session": uuid.uuid4().hex,
        }
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
            if not self._https and not _loopback(self._host):
                log.warning(
                    "the API key goes to %s over plain http: anyone on the network can read it; "
                    "use an https:// URL",
                    self.base,
                )
        self._kept: http.client.HTTPConnection | None = None

    def connect(self) -> http.client.HTTPConnection:
        if self._tls is not None:
            return http.client.HTTPSConnection(
                self._host, self._port, timeout=self.timeout_s, context=self._tls
            )
        return http.client.HTTPConnection(self._host, self._port, timeout=self.timeout_s)

    def failure(self, path: str, exc: BaseException) -> EngineError:
        where = self.base + path
        if isinstance(exc, ssl.SSLCertVerificationError):
            return EngineError(
                f"the certificate of the completion server at {where} does not verify "
                f"({exc.verify_message}); nothing was sent. Give the team's CA in the "
                "serverCaFile setting, or fix the server's certificate"
            )
        if isinstance(exc, ssl.SSLError):
            return EngineError(
                f"TLS with the completion server at {where} failed ({exc.reason or exc}); "
                "nothing was sent. Is it serving https?"
            )
        if isinstance(exc, TimeoutError):
            return EngineError(
                f"the completion server at {where} did not answer within {self.timeout_s:g}s"
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

    def refused(self, path: str, status: int, data: bytes) -> EngineError:
        where = self.base + path
        if status in (401, 403):
            problem = (
                "refused the API key"
                if self._has_key
                else "needs an API key (the apiKey setting or TIDE_API_KEY)"
            )
            return EngineError(f"the completion server at {where} {problem} (HTTP {status})")
        return EngineError(
            f"the completion server at {where} answered HTTP {status}: {excerpt(data)}"
        )

    def json(self, method: str, path: str, body: Any = None) -> Any:
        status, data = self.request(method, path, body)
        if status != 200:
            raise self.refused(path, status, data)
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
        if status in (401, 403):
            raise self.refused(path, status, data)
        if status != 200:
            return None
        try:
            return json.loads(data)
        except ValueError:
            return None

    def stream(self, path: str, body: Any, cancelled: Callable[[], bool]) -> Stream:
        """A connection of its own streaming the answer's lines, ended within the time limit;
        `Stream.close` ends it early."""
        stream = Stream(self.connect(), cancelled, time.monotonic() + self.timeout_s)
        headers = dict(self._headers, Accept="text/event-stream")
        try:
            stream.conn.connect()
            stream.sock = stream.conn.sock
            stream.conn.request(
                "POST", self._path + path, json.dumps(body).encode("utf-8"), headers
            )
            response = stream.response = stream.conn.getresponse()
            if response.status != 200:
                raise self.refused(path, response.status, response.read(4096))
        except EngineError:
            stream.close()
            raise
        except (OSError, http.client.HTTPException) as exc:
            stream.close()
            if stream.reason == "cancelled":
                return stream  # no lines: the caller reads the reason
            raise self.ended(path, stream, exc) from exc
        stream.lines = iter(response.readline, b"")
        return stream

    def ended(self, path: str, stream: Stream, exc: BaseException) -> EngineError:
        """Why a stream broke off: its deadline, or what the connection says."""
        if stream.reason == "timeout":
            return EngineError(
                f"the completion server at {self.base + path} did not answer within "
                f"{self.timeout_s:g}s (the serverTimeout setting)"
            )
        return self.failure(path, exc)

    def drop(self) -> None:
        if self._kept is not None:
            self._kept.close()
            self._kept = None
