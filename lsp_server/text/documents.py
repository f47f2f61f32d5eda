"""Open documents kept in step with incremental edits, each with its syntax tree.

Tide keeps its own buffers rather than pygls's TextDocument: LSP ends lines only at "\\n",
"\\r\\n" and "\\r" (pygls also splits at form feed and U+2028), and positions count code units
of the negotiated encoding; `line_index` does that conversion.

The store is changed only on the asyncio thread. Each change yields a new immutable Snapshot
that worker threads may read: a snapshot's tree is never edited, because edits go to a copy.
"""

import logging
from collections.abc import Sequence
from dataclasses import InitVar, dataclass, field, replace
from typing import get_args

import tree_sitter

from lsp_server.errors import DocumentError
from lsp_server.text.languages import LanguageInfo, language_for, parser_for
from lsp_server.text.line_index import Encoding, LineIndex, Point, Pos, TextEdit, utf8

logger = logging.getLogger(__name__)

# The arguments of tree_sitter.Tree.edit.
_TreeEdit = tuple[int, int, int, Point, Point, Point]


@dataclass(frozen=True)
class Change:
    """One content change; without start and end it replaces the whole document."""

    text: str
    start: Pos | None = None
    end: Pos | None = None


@dataclass(frozen=True)
class Snapshot:
    """An immutable view of one document at one version; safe to read from any thread."""

    uri: str
    version: int
    language_id: str
    text: str
    tree: tree_sitter.Tree | None
    language: LanguageInfo | None
    encoding: Encoding = "utf-16"
    # The store hands over the line index it patched; anyone else gets one built from text.
    _index: InitVar[LineIndex | None] = None
    _text: LineIndex = field(init=False, repr=False, compare=False)

    def __post_init__(self, _index: LineIndex | None) -> None:
        object.__setattr__(self, "_text", _index or LineIndex.of(self.text))

    @property
    def line_count(self) -> int:
        """Lines in the document; text ending in a line break has an empty last line."""
        return self._text.line_count

    def offset_at(self, pos: Pos) -> int:
        """Index into text for an LSP position; a character past the line's end means its end."""
        return self._text.offset_at(pos, self.encoding)

    def pos_at(self, offset: int) -> Pos:
        """The LSP position, in this snapshot's encoding, of an index into text."""
        return self._text.pos_at(offset, self.encoding)

    def byte_offset(self, offset: int) -> int:
        """The UTF-8 byte offset, as tree-sitter counts, of an index into text."""
        return self._text.byte_offset(offset)

    def line_text(self, line: int) -> str:
        """The line's text without its line ending."""
        start, end = self._text.line_span(line)
        return self.text[start:end]

    def node_at(self, offset: int) -> tree_sitter.Node | None:
        """The smallest named node holding the character at or just before offset.

        Just before wins a tie, so at the end of a word being typed the word's node is found.
        """
        if self.tree is None:
            return None
        byte = self.byte_offset(offset)
        root = self.tree.root_node
        at = root.named_descendant_for_byte_range(byte, byte)
        if byte == 0:
            return at
        before = root.named_descendant_for_byte_range(byte - 1, byte - 1)
        found = [node for node in (before, at) if node is not None]
        return min(found, key=lambda node: node.end_byte - node.start_byte, default=None)


class DocumentStore:
    """The open documents by URI; changed only on the asyncio thread."""

    def __init__(self, encoding: Encoding = "utf-16", max_parse_bytes: int = 4_000_000) -> None:
        self.encoding = encoding
        self.max_parse_bytes = max_parse_bytes
        self._documents: dict[str, Snapshot] = {}
        self._reported_unparsed: set[str] = set()

    @property
    def encoding(self) -> Encoding:
        """The position encoding negotiated at initialize; new snapshots use it."""
        return self._encoding

    @encoding.setter
    def encoding(self, value: str) -> None:
        # Compared with == so that lsprotocol's PositionEncodingKind members are accepted too.
        for name in get_args(Encoding):
            if value == name:
                self._encoding: Encoding = name
                return
        raise ValueError(f"unknown position encoding: {value!r}")

    def open(self, uri: str, language_id: str, version: int, text: str) -> Snapshot:
        """Start tracking a document; opening it again replaces it."""
        language = language_for(language_id, uri)
        tree = self._parse(uri, language, text, None)
        snapshot = Snapshot(uri, version, language_id, text, tree, language, self.encoding)
        self._documents[uri] = snapshot
        return snapshot

    def change(self, uri: str, version: int, changes: Sequence[Change]) -> Snapshot:
        """Apply changes in order, each relative to the text the previous one left.

        If any change is invalid, DocumentError is raised and the document stays as it was.
        """
        current = self.get(uri)
        text = current._text
        # The old tree is edited only while every change so far was a ranged edit.
        base_tree = current.tree
        tree_edits: list[_TreeEdit] = []
        for change in changes:
            if change.start is None and change.end is None:
                text, base_tree = LineIndex.of(change.text), None
                continue
            start, end = _change_range(text, change, self.encoding)
            new_text, edit = text.replaced(start, end, change.text)
            if base_tree is not None:
                tree_edits.append(_tree_edit(text, new_text, edit))
            text = new_text
        if base_tree is not None:
            base_tree = base_tree.copy()
            for tree_edit in tree_edits:
                base_tree.edit(*tree_edit)
        tree = self._parse(uri, current.language, text.value, base_tree)
        snapshot = replace(
            current,
            version=version,
            text=text.value,
            tree=tree,
            encoding=self.encoding,
            _index=text,
        )
        self._documents[uri] = snapshot
        return snapshot

    def close(self, uri: str) -> None:
        """Stop tracking a document; closing one that is not open does nothing."""
        self._documents.pop(uri, None)
        self._reported_unparsed.discard(uri)

    def get(self, uri: str) -> Snapshot:
        """The latest snapshot of an open document."""
        snapshot = self._documents.get(uri)
        if snapshot is None:
            raise DocumentError(f"document not open: {uri}")
        if snapshot.encoding != self.encoding:
            snapshot = replace(snapshot, encoding=self.encoding, _index=snapshot._text)
            self._documents[uri] = snapshot
        return snapshot

    def find(self, uri: str) -> Snapshot | None:
        """The latest snapshot of a document, or None when it is not open."""
        return self.get(uri) if uri in self._documents else None

    def __contains__(self, uri: str) -> bool:
        return uri in self._documents

    def uris(self) -> list[str]:
        """URIs of the open documents."""
        return list(self._documents)

    def texts(self) -> tuple[tuple[str, str], ...]:
        """Every open document as (uri, text), taken now: immutable, so another thread may
        read it while the documents change."""
        return tuple((uri, snapshot.text) for uri, snapshot in self._documents.items())

    def _parse(
        self,
        uri: str,
        language: LanguageInfo | None,
        text: str,
        old_tree: tree_sitter.Tree | None,
    ) -> tree_sitter.Tree | None:
        if language is None:
            return None
        # A code point takes at least one byte, so a string that long needs no encoding.
        data = utf8(text) if len(text) <= self.max_parse_bytes else None
        if data is None or len(data) > self.max_parse_bytes:
            if uri not in self._reported_unparsed:
                self._reported_unparsed.add(uri)
                logger.info("%s is over %d bytes: no syntax tree", uri, self.max_parse_bytes)
            return None
        parser = parser_for(language)
        return parser.parse(data) if old_tree is None else parser.parse(data, old_tree)


def snapshot_with_text(snapshot: Snapshot, text: str) -> Snapshot:
    """The same document holding `text` instead, for looking ahead (never stored); parsed
    afresh when the original has a tree."""
    language = snapshot.language
    tree = None
    if snapshot.tree is not None and language is not None:
        tree = parser_for(language).parse(utf8(text))
    return replace(snapshot, text=text, tree=tree)


def _change_range(text: LineIndex, change: Change, encoding: Encoding) -> tuple[int, int]:
    if change.start is None or change.end is None:
        raise DocumentError("a document change needs both a start and an end, or neither")
    start = text.offset_at(change.start, encoding)
    end = text.offset_at(change.end, encoding)
    if start > end:
        raise DocumentError(
            f"a document change ends (line {change.end.line}, character {change.end.character})"
            f" before it starts (line {change.start.line}, character {change.start.character})"
        )
    return start, end


def _tree_edit(old: LineIndex, new: LineIndex, edit: TextEdit) -> _TreeEdit:
    return (
        edit.start_byte,
        edit.old_end_byte,
        edit.new_end_byte,
        old.ts_point(edit.start),
        old.ts_point(edit.old_end),
        new.ts_point(edit.new_end),
    )
