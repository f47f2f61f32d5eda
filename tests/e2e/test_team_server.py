"""A team's completion server failing under the real `tide-lsp`: restarted mid-answer, too slow,
behind a key, behind a certificate, not there at start. Each request is answered, with an error
that names the server; the status says what happened and comes back by itself; the API key
never reaches the log.

The server is llama-cpp-python's real OpenAI-style server running the default model (the
`server` extra), except where a server must be made to hang: the stand-in on loopback.
"""

import asyncio
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.conftest import apply_item, inline, lsp_session, open_doc, server_env
from tests.engines.llama_server import Server, free_port
from tests.unit.http_stand_in import StandIn

pytestmark = [pytest.mark.model, pytest.mark.asyncio]
pytest.importorskip("uvicorn", reason="needs the server extra: pip install -e '.[server]'")

URI = "file:///tmp/tide-team/numbers.py"
# A line the model goes on with for hundreds of tokens: time to stop the server mid-answer.
NUMBERS = "values = [" + ", ".join(str(i) for i in range(1, 40)) + ", "
CODE = "def is_even(n: int) -> bool:\n    return n % 2 == 0\n\n\n" + NUMBERS
KEY = "team-key-4b1d9e"


def states(client: LanguageClient) -> list[tuple[str, str]]:
    return [(s.state, s.message or "") for s in client.tide_statuses]


async def until(check: Callable[[], bool], what: str, limit_s: float = 90) -> None:
    deadline = time.monotonic() + limit_s
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"never saw {what}")
        await asyncio.sleep(0.1)


def last_state(client: LanguageClient) -> str:
    return client.tide_statuses[-1].state if client.tide_statuses else ""


async def numbers_completion(client: LanguageClient):
    return await inline(client, URI, CODE.count("\n"), len(NUMBERS))


def settings(url: str, **extra) -> dict:
    # A short answer and a long limit: these tests are about failures, not a slow machine.
    # Whole answers: a partial one shown by answerWithinMs would end a request before the
    # server can be stopped under it.
    base = {
        "maxTokens": 24,
        "serverTimeout": 120,
        "answerWithinMs": 0,
        "precompute": False,
        "diagnostics": False,
    }
    return {"model": url, **base, **extra}


async def test_server_restarted_mid_answer(model_path: Path, tmp_path: Path) -> None:
    server = Server(model_path, free_port(), tmp_path / "server.log")
    server.start()
    try:
        init = settings(server.url, maxTokens=600, serverTimeout=120)
        async with lsp_session(init=init) as client:
            await until(lambda: last_state(client) == "ready", "the engine ready")
            open_doc(client, URI, CODE)
            answer = asyncio.ensure_future(numbers_completion(client))
            await asyncio.sleep(2.5)
            assert not answer.done(), "the completion ended before the server could be stopped"
            server.kill()
            with pytest.raises(Exception, match=server.url) as failure:
                await asyncio.wait_for(answer, 30)
            assert "closed" in str(failure.value) or "reach" in str(failure.value)
            await until(lambda: last_state(client) == "error", "the status turn to error")
            assert server.url in client.tide_statuses[-1].message
            # Back without anything from the user: the status first, then completions.
            server.start()
            await until(lambda: last_state(client) == "ready", "the status recover", 60)
            result = await numbers_completion(client)
            assert result.items and result.items[0].insert_text.strip()
    finally:
        server.kill()


async def test_a_server_that_does_not_answer_is_answered_within_the_limit(tmp_path: Path) -> None:
    stand_in = StandIn(flavor="openai")
    stand_in.hold = threading.Event()
    stand_in.pieces = ["40, 41", ", 42"]
    try:
        init = settings(stand_in.url, serverTimeout=2, engine="http")
        async with lsp_session(init=init) as client:
            await until(lambda: last_state(client) == "ready", "the engine ready")
            open_doc(client, URI, CODE)
            with pytest.raises(Exception, match=r"did not answer within 2s"):
                await asyncio.wait_for(numbers_completion(client), 30)
            await until(lambda: last_state(client) == "error", "the status turn to error")
            # The server answers again: so does Tide, and the status says so.
            stand_in.hold.set()
            result = await numbers_completion(client)
            assert result.items and result.items[0].insert_text
            await until(lambda: last_state(client) == "ready", "the status recover")
    finally:
        stand_in.hold.set()
        stand_in.stop()


async def test_api_key_wrong_then_right_and_never_logged(model_path: Path, tmp_path: Path) -> None:
    server = Server(model_path, free_port(), tmp_path / "server.log", api_key=KEY)
    server.start()
    log = tmp_path / "tide.log"
    try:
        init = settings(server.url, apiKey="not-" + KEY)
        async with lsp_session(init=init, args=("--log-file", str(log))) as client:
            await until(lambda: last_state(client) == "error", "the refused key reported")
            message = client.tide_statuses[-1].message
            assert "refused the API key (HTTP 401)" in message and server.url in message
            open_doc(client, URI, CODE)
            with pytest.raises(Exception, match="refused the API key"):
                await numbers_completion(client)
            client.workspace_did_change_configuration(
                types.DidChangeConfigurationParams(settings={"tide": {"apiKey": KEY}})
            )
            await until(lambda: last_state(client) == "ready", "the right key accepted")
            result = await numbers_completion(client)
            assert result.items
        # From the environment, with no setting.
        async with lsp_session(
            init=settings(server.url),
            args=("--log-file", str(log)),
            env=server_env(TIDE_API_KEY=KEY),
        ) as client:
            await until(lambda: last_state(client) == "ready", "the key from the environment")
        text = log.read_text()
        assert "completion server" in text  # the log is the debug one, with the failure in it
        assert KEY not in text, "the API key reached the log"
    finally:
        server.kill()


async def test_certificate_that_does_not_verify(model_path: Path, tmp_path: Path) -> None:
    trustme = pytest.importorskip("trustme")
    authority = trustme.CA()
    issued = authority.issue_cert("127.0.0.1")
    chain, key, ca = tmp_path / "chain.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    issued.private_key_and_cert_chain_pem.write_to_path(str(key))
    issued.cert_chain_pems[0].write_to_path(str(chain))
    authority.cert_pem.write_to_path(str(ca))
    server = Server(model_path, free_port(), tmp_path / "server.log", api_key=KEY, tls=(chain, key))
    server.start()
    try:
        async with lsp_session(init=settings(server.url, apiKey=KEY)) as client:
            await until(lambda: last_state(client) == "error", "the certificate refused")
            message = client.tide_statuses[-1].message
            assert "does not verify" in message and server.url in message
            assert "nothing was sent" in message
            # The team's CA: the same server verifies.
            client.workspace_did_change_configuration(
                types.DidChangeConfigurationParams(settings={"tide": {"serverCaFile": str(ca)}})
            )
            await until(lambda: last_state(client) == "ready", "the server verified by its CA")
            open_doc(client, URI, CODE)
            result = await numbers_completion(client)
            assert result.items
    finally:
        server.kill()


async def test_unreachable_at_start_then_up(model_path: Path, tmp_path: Path) -> None:
    port = free_port()
    server = Server(model_path, port, tmp_path / "server.log")
    try:
        async with lsp_session(init=settings(server.url)) as client:
            await until(lambda: last_state(client) == "error", "the unreachable server reported")
            message = client.tide_statuses[-1].message
            assert "connection refused" in message and server.url in message
            open_doc(client, URI, CODE)
            with pytest.raises(Exception, match="connection refused"):
                await numbers_completion(client)
            # The user goes on typing; nothing of theirs is lost.
            client.text_document_did_change(
                types.DidChangeTextDocumentParams(
                    text_document=types.VersionedTextDocumentIdentifier(uri=URI, version=2),
                    content_changes=[
                        types.TextDocumentContentChangePartial(
                            range=types.Range(
                                types.Position(CODE.count("\n"), len(NUMBERS)),
                                types.Position(CODE.count("\n"), len(NUMBERS)),
                            ),
                            text="40, ",
                        )
                    ],
                )
            )
            server.start()
            await until(lambda: last_state(client) == "ready", "the server found by itself", 60)
            result = await inline(client, URI, CODE.count("\n"), len(NUMBERS) + 4)
            assert result.items
            # The suggestion fits the text with the edit made while the server was down.
            after = apply_item(CODE + "40, ", result.items[0])
            assert after.startswith(CODE + "40, ") and len(after) > len(CODE) + 4
            assert [s for s, _ in states(client)].count("error") == 1, states(client)
    finally:
        server.kill()
