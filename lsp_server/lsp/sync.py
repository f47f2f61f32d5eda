"""Documents kept in step with the editor: didOpen, didChange, didClose."""

from typing import TYPE_CHECKING, Any

from lsprotocol import types

from ..errors import DocumentError
from ..text.documents import Change, Pos

if TYPE_CHECKING:
    from .server import TideServer


def did_open(ls: "TideServer", params: types.DidOpenTextDocumentParams) -> None:
    doc = params.text_document
    snapshot = ls.documents.open(doc.uri, doc.language_id, doc.version, doc.text)
    ls.fixes.changed(snapshot, ls.settings)
    ls.context.saved_or_opened(snapshot)


def did_change(ls: "TideServer", params: types.DidChangeTextDocumentParams) -> None:
    doc = params.text_document
    changes = [_to_change(c) for c in params.content_changes]
    before = ls.documents.find(doc.uri)
    try:
        snapshot = ls.documents.change(doc.uri, doc.version, changes)
    except DocumentError as exc:
        ls.tell(f"ignored an edit to {doc.uri}: {exc}")
        return
    ls.fixes.changed(snapshot, ls.settings)
    spans: list[tuple[int, int]] = []
    for change in changes:
        if change.start is not None:
            last = change.start.line + change.text.count("\n")
            ls.context.changed(snapshot, change.start.line, last)
            spans.append((change.start.line, last))
    if before is not None:
        span = (min(s[0] for s in spans), max(s[1] for s in spans)) if spans else None
        ls.next_edits.changed(before, snapshot, span)


def did_close(ls: "TideServer", params: types.DidCloseTextDocumentParams) -> None:
    uri = params.text_document.uri
    ls.documents.close(uri)
    ls.fixes.closed(uri)
    ls.context.closed(uri)
    ls.next_edits.closed(uri)
    ls.completions.forget(uri)
    ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri, []))


def _to_change(change: Any) -> Change:
    if isinstance(change, types.TextDocumentContentChangePartial):
        r = change.range
        return Change(
            change.text, Pos(r.start.line, r.start.character), Pos(r.end.line, r.end.character)
        )
    return Change(change.text)
