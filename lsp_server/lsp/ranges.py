"""Offsets into a snapshot's text as LSP ranges, in the encoding the snapshot was made for."""

from lsprotocol import types

from ..text.documents import Snapshot


def lsp_range(snapshot: Snapshot, start: int, end: int) -> types.Range:
    a, b = snapshot.pos_at(start), snapshot.pos_at(end)
    return types.Range(types.Position(a.line, a.character), types.Position(b.line, b.character))
