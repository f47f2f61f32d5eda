"""The copilotInlineEdit handler alone: params checked, answers and errors in the shapes
copilot-language-server's clients read, ranges from the answer's own snapshot."""

from types import SimpleNamespace

import pytest
from pygls.exceptions import JsonRpcInvalidParams
from pygls.protocol import _dict_to_object

from lsp_server.lsp import inline_edits
from lsp_server.lsp.fix_actions import ContentModified
from lsp_server.text.documents import Change, Pos
from tests.unit.test_next_edit_service import END, RENAMED, URI, ChatEngine, service_for


def server_with(answers: list[str]):
    engine = ChatEngine(answers)
    service, documents = service_for(engine)
    return SimpleNamespace(next_edits=service), documents, engine


def params(version, line: int = 0, character: int = 13, **extra) -> dict:
    document = {"uri": URI, "version": version}
    return {"textDocument": document, "position": {"line": line, "character": character}, **extra}


async def test_the_answer_has_copilots_shape() -> None:
    ls, documents, _ = server_with([f"{RENAMED}{END}"])
    # As pygls hands a custom method's params over: nested namedtuples.
    wire = _dict_to_object(params(2, context={"triggerKind": 2}))
    result = await inline_edits.inline_edit(ls, wire)
    (edit,) = result["edits"]
    assert set(edit) == {"text", "textDocument", "range"}
    assert edit["textDocument"] == {"uri": URI, "version": 2}
    assert edit["range"] == {
        "start": {"line": 1, "character": 16},
        "end": {"line": 2, "character": 15},
    }
    assert edit["text"] == "who)\n    return who"


async def test_no_edit_is_an_empty_list() -> None:
    ls, _, _ = server_with([f"{RENAMED.replace('return who', 'return (who')}{END}"])
    assert await inline_edits.inline_edit(ls, params(2)) == {"edits": []}


async def test_a_stale_version_is_content_modified_and_bad_params_invalid() -> None:
    ls, documents, _ = server_with([])
    documents.change(URI, 3, [Change("#", Pos(2, 0), Pos(2, 0))])
    with pytest.raises(ContentModified):
        await inline_edits.inline_edit(ls, params(2))
    for bad in (
        None,
        [],
        {"position": {"line": 0, "character": 0}},
        {"textDocument": {"uri": URI, "version": "3"}, "position": {"line": 0, "character": 0}},
        {"textDocument": {"uri": URI}, "position": {"line": 0}},
        {"textDocument": {"uri": URI}, "position": {"line": True, "character": 0}},
        params(3, line=-1),
        params(3, line=99),  # past the document's end
        {**params(3), "textDocument": {"uri": "file:///w/other.py", "version": 1}},
    ):
        with pytest.raises(JsonRpcInvalidParams):
            await inline_edits.inline_edit(ls, bad)


def test_did_show_accepts_what_the_clients_send() -> None:
    ls, _, _ = server_with([])
    for shown in ({"item": {"command": None}}, {"item": {}}, {"item": []}, None):
        assert inline_edits.did_show_inline_edit(ls, _dict_to_object(shown)) is None


async def test_the_server_feeds_its_edit_history_from_did_change() -> None:
    from lsprotocol import types

    from lsp_server.config import Settings
    from lsp_server.lsp import sync
    from lsp_server.lsp.server import create_server

    ls = create_server(Settings(diagnostics=False))
    item = types.TextDocumentItem(
        uri=URI, language_id="python", version=1, text="def f(a):\n    return a\n"
    )
    sync.did_open(ls, types.DidOpenTextDocumentParams(item))
    rename = types.TextDocumentContentChangePartial(
        types.Range(types.Position(0, 6), types.Position(0, 7)), "b"
    )
    document = types.VersionedTextDocumentIdentifier(version=2, uri=URI)
    sync.did_change(ls, types.DidChangeTextDocumentParams(document, [rename]))
    (hunk,) = ls.next_edits.history.recent()
    assert (hunk.line, hunk.before, hunk.after) == (0, "def f(a):", "def f(b):")
    sync.did_close(ls, types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(URI)))
    assert ls.next_edits.history.recent() == []
    ls.scheduler.shutdown()
