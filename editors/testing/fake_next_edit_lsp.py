"""A stand-in for tide-lsp in the editor tests of next-edit suggestions: the real model rarely
proposes an edit on demand, this one always does, by a fixed rule.

    .venv/bin/python fake_next_edit_lsp.py RECORD.json

An LSP server on stdio (pygls, full document sync) that records every message the editor sends
in RECORD.json (`{"messages": [{"method", "params"}]}`, rewritten after each one), so a test sees
what the editor sent (`textDocument/didShowInlineEdit` above all).

- `textDocument/copilotInlineEdit`: an edit that replaces the last `items` in the document with
  `products` (`{edits: []}` when there is none), for the version asked about; for an older version
  when the document holds the line `# nextedit: stale`, so the client must drop it.
- `textDocument/inlineCompletion`: `_hint = 1` at the cursor when the text before the cursor ends
  with `ghost`, else no items.
"""

import json
import os
import re
import sys
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol

RECORD = sys.argv[1]
messages: list[dict[str, Any]] = []


def save() -> None:
    # A temporary file of this process's own: an editor restarting its server may run two.
    tmp = f"{RECORD}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        json.dump({"messages": messages}, f)
    os.replace(tmp, RECORD)


class RecordingProtocol(LanguageServerProtocol):
    # The JSON as it came, before pygls turns the params of custom methods into namedtuples.
    def structure_message(self, data: dict[str, Any]) -> Any:
        if "method" in data:
            messages.append({"method": data["method"], "params": data.get("params")})
            save()
        return super().structure_message(data)


server = LanguageServer(
    "fake-next-edit",
    "1",
    protocol_cls=RecordingProtocol,
    text_document_sync_kind=types.TextDocumentSyncKind.Full,
)


def position_of(text: str, offset: int) -> dict[str, int]:
    # The tests' documents are ASCII, so a character is a UTF-16 code unit.
    before = text[:offset]
    return {"line": before.count("\n"), "character": offset - (before.rfind("\n") + 1)}


@server.feature("textDocument/copilotInlineEdit")
def inline_edit(ls: LanguageServer, params: Any) -> dict[str, Any]:
    doc = ls.workspace.get_text_document(params.textDocument.uri)
    found = list(re.finditer(r"\bitems\b", doc.source))
    if not found:
        return {"edits": []}
    version = getattr(params.textDocument, "version", None)
    if version is None:
        version = doc.version
    if re.search(r"^# nextedit: stale$", doc.source, re.M):
        version -= 1
    last = found[-1]
    edit_range = {
        "start": position_of(doc.source, last.start()),
        "end": position_of(doc.source, last.end()),
    }
    document = {"uri": doc.uri, "version": version}
    return {"edits": [{"text": "products", "textDocument": document, "range": edit_range}]}


@server.feature("textDocument/didShowInlineEdit")
def did_show_inline_edit(ls: LanguageServer, params: Any) -> None:
    """Recorded with every message; a handler keeps pygls from logging it as unknown."""


# pygls advertises inline completion only when given its options.
@server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
def inline_completion(
    ls: LanguageServer, params: types.InlineCompletionParams
) -> types.InlineCompletionList:
    doc = ls.workspace.get_text_document(params.text_document.uri)
    lines = doc.lines
    pos = params.position
    line = lines[pos.line] if pos.line < len(lines) else ""
    items = []
    if line[: pos.character].endswith("ghost"):
        # An empty range at the cursor: without one VS Code replaces the word there ("ghost").
        at_cursor = types.Range(start=pos, end=pos)
        items.append(types.InlineCompletionItem(insert_text="_hint = 1", range=at_cursor))
    return types.InlineCompletionList(items=items)


if __name__ == "__main__":
    save()
    server.start_io()
