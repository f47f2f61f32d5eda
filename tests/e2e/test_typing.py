"""Typing while a suggestion is being generated, through the real server and model."""

import asyncio

import pytest
from lsprotocol import types

from tests.conftest import lsp_session, open_doc
from tests.e2e.test_quality import BODY, apply_multiline, ask

pytestmark = pytest.mark.model

URI = "file:///tmp/tide-e2e/typing.py"


def key_at(line: int, column: int, key: str) -> types.DidChangeTextDocumentParams:
    at = types.Position(line, column)
    return types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=URI, version=2),
        content_changes=[types.TextDocumentContentChangePartial(types.Range(at, at), key)],
    )


async def test_a_key_typed_during_a_generation_is_answered_from_it(model_path, tmp_path):
    log = tmp_path / "tide.log"
    async with lsp_session(args=("--log-file", str(log))) as client:
        open_doc(client, URI, BODY)
        # A multi-line body: long enough a generation to still be running when the key comes.
        shown = await ask(client, URI, 2, 4)
        assert shown.items
        expected = apply_multiline(BODY, shown.items[0])
        cursor = BODY.index("\n    \n") + len("\n    ")  # line 2, column 4
        key = expected[cursor]
        first = asyncio.ensure_future(ask(client, URI, 2, 4))
        await asyncio.sleep(0.3)  # the next key, while the generation runs
        client.text_document_did_change(key_at(2, 4, key))
        second = await ask(client, URI, 2, 5)
        assert apply_multiline(BODY, (await first).items[0]) == expected
        typed = BODY[:cursor] + key + BODY[cursor:]
        assert second.items
        assert apply_multiline(typed, second.items[0]) == expected
    written = log.read_text()
    assert "waited for the generation in flight" in written
    runs = [line for line in written.splitlines() if f"complete {URI} v" in line]
    # The first suggestion, the generation the key found in flight, and the key's answer.
    assert len(runs) == 3 and "typed through" in runs[2], runs
