"""`tide-lsp --tcp HOST:PORT` serves the same protocol over a socket."""

import json
import socket
import subprocess
import time

import pytest

from tests.conftest import SERVER

pytestmark = pytest.mark.model


def _frame(message: dict) -> bytes:
    body = json.dumps({"jsonrpc": "2.0", **message}).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def _read_message(conn: socket.socket) -> dict:
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(1)
    header, _, _ = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in header.split(b"\r\n")
        if line.lower().startswith(b"content-length")
    )
    body = b""
    while len(body) < length:
        body += conn.recv(length - len(body))
    return json.loads(body)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_tcp_initialize_and_shutdown(model_path):
    port = _free_port()
    proc = subprocess.Popen([*SERVER, "--tcp", f"127.0.0.1:{port}"], stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                conn = socket.create_connection(("127.0.0.1", port), timeout=60)
                break
            except ConnectionRefusedError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        with conn:
            conn.sendall(_frame({"id": 1, "method": "initialize", "params": {"capabilities": {}}}))
            reply = _read_message(conn)
            assert reply["id"] == 1
            assert "inlineCompletionProvider" in reply["result"]["capabilities"]
            conn.sendall(_frame({"id": 2, "method": "shutdown", "params": None}))
            while _read_message(conn).get("id") != 2:
                pass
            conn.sendall(_frame({"method": "exit", "params": None}))
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_tcp_address_must_be_host_and_port():
    proc = subprocess.run(
        [*SERVER, "--tcp", "nonsense"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode != 0
    assert "HOST:PORT" in proc.stderr
