"""Typing while a suggestion is being generated, through the real server and model."""

import asyncio
import re

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
    # Whole answers: the test compares the first one with the key's, and a partial one shown
    # by answerWithinMs (test_completion_service covers those) would end the first early.
    init = {"answerWithinMs": 0}
    async with lsp_session(args=("--log-file", str(log)), init=init) as client:
        open_doc(client, URI, BODY)
        # A multi-line body: long enough a generation to still be running when the key comes.
        shown = await ask(client, URI, 2, 4)
        assert shown.items
        expected = apply_multiline(BODY, shown.items[0])
        cursor = BODY.index("\n    \n") + len("\n    ")  # line 2, column 4
        key = expected[cursor]
        # Reopened, so that the server no longer holds that suggestion (it would answer the key
        # from it at once) but its KV cache still holds the prompt: the generation alone runs.
        client.text_document_did_close(
            types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(URI))
        )
        open_doc(client, URI, BODY)
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


ACCEPT_URI = "file:///tmp/tide-e2e/accept.py"
# The accepted line opens a block, so the suggestion after it (its body) is never empty.
LOOP = "def is_even(n):\n    return n % 2 == 0\n\n\nfor i in range(10):\n    if \n"
SAFETY = 120  # seconds; a hang guard for the idle work, never part of an assertion


async def wait_for_line(log, marker: str) -> str:
    for _ in range(SAFETY * 10):
        lines = [line for line in log.read_text().splitlines() if marker in line]
        if lines:
            return lines[-1]
        await asyncio.sleep(0.1)
    raise AssertionError(f"no {marker!r} in the log")


async def test_the_suggestion_after_an_accept_is_computed_while_the_user_pauses(
    model_path, tmp_path
):
    log = tmp_path / "tide.log"
    async with lsp_session(args=("--log-file", str(log))) as client:
        open_doc(client, ACCEPT_URI, LOOP)
        shown = await ask(client, ACCEPT_URI, 5, len("    if "))
        assert shown.items
        item = shown.items[0]
        # The pause: the next suggestion is computed as if this one were accepted.
        ahead = await wait_for_line(log, f"ahead of accept, {ACCEPT_URI}")
        assert "no suggestion" not in ahead, ahead
        accepted = apply_multiline(LOOP, item)
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=ACCEPT_URI, version=2),
                content_changes=[types.TextDocumentContentChangeWholeDocument(accepted)],
            )
        )
        end = item.range.start.character + len(item.insert_text.split("\n")[-1])
        line = item.range.start.line + item.insert_text.count("\n")
        following = await ask(client, ACCEPT_URI, line, end)
        assert following.items
        after_both = apply_multiline(accepted, following.items[0])
        assert after_both.startswith(accepted[: accepted.index(item.insert_text)])
    runs = [line for line in log.read_text().splitlines() if f"complete {ACCEPT_URI} v" in line]
    # The shown suggestion ran the model; the one after the accept came from memory.
    assert len(runs) == 2 and "typed through" in runs[1], runs


PARTIAL_URI = "file:///tmp/tide-e2e/partial.py"


def _first_word(text: str) -> str:
    return re.match(r"\s*\w+|\s*\W", text).group()


@pytest.mark.parametrize(
    "part", [_first_word, lambda text: text.split("\n")[0]], ids=["word", "line"]
)
async def test_a_partial_accept_leaves_the_rest_of_the_suggestion_exactly(
    part, model_path, tmp_path
):
    log = tmp_path / "tide.log"
    # The whole body: where the prompt is quick, answerWithinMs would hand over its start.
    init = {"answerWithinMs": 0}
    async with lsp_session(args=("--log-file", str(log)), init=init) as client:
        open_doc(client, PARTIAL_URI, BODY)
        shown = await ask(client, PARTIAL_URI, 2, 4)
        assert shown.items
        item = shown.items[0]
        assert "\n" in item.insert_text  # a body: both a word and a line leave something
        whole = apply_multiline(BODY, item)
        # The editor inserts the accepted part over the item's own range, as it would the whole.
        accepted = part(item.insert_text)
        partial = types.InlineCompletionItem(accepted, range=item.range)
        typed = apply_multiline(BODY, partial)
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=PARTIAL_URI, version=2),
                content_changes=[types.TextDocumentContentChangeWholeDocument(typed)],
            )
        )
        column = item.range.start.character + len(accepted)
        rest = await ask(client, PARTIAL_URI, 2, column)
        assert rest.items
        assert apply_multiline(typed, rest.items[0]) == whole
    runs = [line for line in log.read_text().splitlines() if f"complete {PARTIAL_URI} v" in line]
    # The rest came from the suggestion already shown, not from a second model run.
    assert len(runs) == 2 and "typed through" in runs[1], runs
