"""Shared fixtures: the real `tide-lsp` process and the real default model."""

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

ROOT = Path(__file__).resolve().parent.parent
SERVER = [sys.executable, "-m", "lsp_server", "--log-level", "debug"]


def failing_server(after: int) -> list[str]:
    """The real server whose engine fails after `after` generated pieces (tests/faulty_server)."""
    return [sys.executable, "-m", "tests.faulty_server", str(after), "--log-level", "debug"]


@pytest.fixture(scope="session")
def model_path() -> Path:
    """The default model, as `make test` pulled it into the cache."""
    from lsp_server import models

    spec = models.default_model()
    path = models.model_path(spec, models.cache_dir())
    if not path.exists():
        pytest.fail(f"default model missing at {path}: run `make model` first")
    return path


def server_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra)
    return env


@contextlib.asynccontextmanager
async def lsp_session(
    client_name: str = "visual-studio-code",
    *,
    args: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
    init: dict | None = None,
    root: Path = ROOT,
    server: list[str] = SERVER,
) -> AsyncIterator[LanguageClient]:
    """A real `tide-lsp` process driven by pytest-lsp's client with a real editor's capabilities."""
    config = ClientServerConfig(server_command=[*server, *args], server_env=env)
    client = await config.start()
    client.tide_statuses = []
    client.tide_generations = []

    @client.feature("tide/status")
    def on_status(params) -> None:
        client.tide_statuses.append(params)

    @client.feature("tide/generation")
    def on_generation(params) -> None:
        client.tide_generations.append(params)

    try:
        client.init_result = await client.initialize_session(
            types.InitializeParams(
                capabilities=client_capabilities(client_name),
                initialization_options=init,
                root_uri=root.as_uri(),
            )
        )
        yield client
        await asyncio.wait_for(client.shutdown_session(), 60)
    finally:
        # pygls' stop() only waits for the process; after a failed test it would wait forever.
        if client._server is not None and client._server.returncode is None:
            client._server.kill()
        await client.stop()


def open_doc(client: LanguageClient, uri: str, text: str, language: str = "python") -> None:
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id=language, version=1, text=text
            )
        )
    )


async def inline(client: LanguageClient, uri: str, line: int, character: int):
    return await client.text_document_inline_completion_async(
        types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=line, character=character),
            context=types.InlineCompletionContext(
                trigger_kind=types.InlineCompletionTriggerKind.Automatic
            ),
        )
    )


def apply_item(text: str, item: types.InlineCompletionItem) -> str:
    """The document after accepting an inline completion item (UTF-16 = code points here)."""
    lines = text.split("\n")
    r = item.range
    assert r is not None and r.start.line == r.end.line
    line = lines[r.start.line]
    lines[r.start.line] = line[: r.start.character] + item.insert_text + line[r.end.character :]
    return "\n".join(lines)
