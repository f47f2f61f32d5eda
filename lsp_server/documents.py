"""Open documents kept in step with incremental edits, and LSP position conversion.

Tide keeps its own buffers rather than pygls's TextDocument: LSP ends lines only at "\\n",
"\\r\\n" and "\\r" (pygls also splits at form feed and U+2028), a position's character counts
code units of the negotiated encoding, and tree-sitter wants UTF-8 byte offsets.

The store is changed only on the asyncio thread. Each change yields a new immutable Snapshot
that worker threads may read: a snapshot's tree is never edited, because edits go to a copy.
"""

import logging
import re
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import InitVar, dataclass, field, replace
from typing import Literal, get_args

import tree_sitter

from lsp_server.errors import DocumentError
from lsp_server.languages import LanguageInfo, language_for, parser_for

logger = logging.getLogger(__name__)

Encoding = Literal["utf-8", "utf-16", "utf-32"]

# Codec and bytes per code unit for each position encoding. Lone surrogates, which LSP clients
# can send for binary files, pass through every codec as "surrogatepass".
_CODECS: dict[str, tuple[str, int]] = {
    "utf-8": ("utf-8", 1),
    "utf-16": ("utf-16-le", 2),
    "utf-32": ("utf-32-le", 4),
}
_LINE_BREAK = re.compile(r"\r\n?|\n")
_LINE_BREAK_BYTES = re.compile(rb"\r\n?|\n")

_Point = tuple[int, int]
# The arguments of tree_sitter.Tree.edit.
_TreeEdit = tuple[int, int, int, _Point, _Point, _Point]


@dataclass(frozen=True)
class Pos:
    """An LSP position: zero-based line, and character in code units of the encoding."""

    line: int
    character: int


@dataclass(frozen=True)
class Change:
    """One content change; without start and end it replaces the whole document."""

    text: str
    start: Pos | None = None
    end: Pos | None = None


@dataclass(frozen=True)
class _Edit:
    """Where one change replaced text, in code points and in UTF-8 bytes."""

    start: int
    old_end: int
    new_end: int
    start_byte: int
    old_end_byte: int
    new_end_byte: int


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


@dataclass(frozen=True)
class _Text:
    """A string and where each of its lines starts, in code points and in UTF-8 bytes."""

    value: str
    starts: list[int]
    # The very same list as starts while the text is ASCII, where bytes and code points agree.
    byte_starts: list[int]

    @classmethod
    def of(cls, value: str) -> "_Text":
        starts = [0, *(m.end() for m in _LINE_BREAK.finditer(value))]
        if value.isascii():
            return cls(value, starts, starts)
        byte_starts = [0, *(m.end() for m in _LINE_BREAK_BYTES.finditer(_utf8(value)))]
        return cls(value, starts, byte_starts)

    @property
    def line_count(self) -> int:
        return len(self.starts)

    def line_span(self, line: int) -> tuple[int, int]:
        """Start and end of the line's content, without its line ending."""
        if not 0 <= line < len(self.starts):
            raise DocumentError(
                f"line {line} is outside the document, which has {self.line_count} lines"
            )
        start = self.starts[line]
        if line + 1 == len(self.starts):
            return start, len(self.value)
        end = self.starts[line + 1]
        return start, end - (2 if self.value.startswith("\r\n", end - 2) else 1)

    def offset_at(self, pos: Pos, encoding: Encoding) -> int:
        if pos.line < 0 or pos.character < 0:
            raise DocumentError(f"position line {pos.line}, character {pos.character} is negative")
        start, end = self.line_span(pos.line)
        # Every code point takes at least one code unit, so the position is within this prefix.
        prefix_end = min(start + pos.character, end)
        if encoding == "utf-32" or self.value.isascii():
            return prefix_end
        return start + _units_to_chars(self.value[start:prefix_end], pos.character, encoding)

    def pos_at(self, offset: int, encoding: Encoding) -> Pos:
        line = self._line_of(offset)
        start, end = self.line_span(line)
        # An offset inside a line ending means the end of that line.
        offset = min(offset, end)
        if encoding == "utf-32" or self.value.isascii():
            return Pos(line, offset - start)
        codec, width = _CODECS[encoding]
        return Pos(line, len(self.value[start:offset].encode(codec, "surrogatepass")) // width)

    def byte_offset(self, offset: int) -> int:
        line = self._line_of(offset)
        if self.value.isascii():
            return offset
        return self.byte_starts[line] + len(_utf8(self.value[self.starts[line] : offset]))

    def ts_point(self, offset: int) -> _Point:
        """tree-sitter's (row, byte column): unlike LSP, it starts rows only after "\\n"."""
        row = self.value.count("\n", 0, offset)
        row_start = self.value.rfind("\n", 0, offset) + 1
        return row, len(_utf8(self.value[row_start:offset]))

    def replaced(self, start: int, end: int, insert: str) -> tuple["_Text", _Edit]:
        """This text with [start, end) replaced by insert, its line index patched, not rebuilt."""
        value = self.value[:start] + insert + self.value[end:]
        start_byte = self.byte_offset(start)
        edit = _Edit(
            start=start,
            old_end=end,
            new_end=start + len(insert),
            start_byte=start_byte,
            old_end_byte=self.byte_offset(end),
            new_end_byte=start_byte + len(_utf8(insert)),
        )
        # Line breaks next to the edit can merge or split ("\r" + "\n"), so rescan from one
        # character before it to one after.
        low = max(0, start - 1)
        window = value[low : edit.new_end + 2]
        starts = _patched_starts(self.starts, low, end, edit.new_end, _LINE_BREAK.finditer(window))
        if value.isascii():
            return _Text(value, starts, starts), edit
        low_byte = start_byte - len(_utf8(value[low:start]))
        byte_starts = _patched_starts(
            self.byte_starts,
            low_byte,
            edit.old_end_byte,
            edit.new_end_byte,
            _LINE_BREAK_BYTES.finditer(_utf8(window)),
        )
        return _Text(value, starts, byte_starts), edit

    def _line_of(self, offset: int) -> int:
        if not 0 <= offset <= len(self.value):
            raise DocumentError(
                f"offset {offset} is outside the document, which has {len(self.value)} characters"
            )
        return bisect_right(self.starts, offset) - 1


def _units_to_chars(prefix: str, units: int, encoding: Encoding) -> int:
    """How many code points of prefix its first `units` code units cover.

    A position inside a character (half a surrogate pair, part of a UTF-8 sequence) means the
    start of that character.
    """
    codec, width = _CODECS[encoding]
    data = prefix.encode(codec, "surrogatepass")
    cut = units * width
    if len(data) <= cut:
        return len(prefix)
    if encoding == "utf-8":
        while data[cut] & 0xC0 == 0x80:
            cut -= 1
    elif _is_surrogate_pair(data[cut - 2 : cut + 2]):
        cut -= 2
    return len(data[:cut].decode(codec, "surrogatepass"))


def _is_surrogate_pair(data: bytes) -> bool:
    """Whether two UTF-16-LE code units are a high surrogate followed by a low one."""
    high = int.from_bytes(data[:2], "little")
    low = int.from_bytes(data[2:], "little")
    return 0xD800 <= high <= 0xDBFF and 0xDC00 <= low <= 0xDFFF


def _patched_starts(
    starts: list[int], low: int, old_end: int, new_end: int, breaks: Iterable[re.Match]
) -> list[int]:
    """Line starts after replacing text up to old_end with text up to new_end.

    Starts at or before low are unchanged; breaks (matches in the new text from low) supply the
    starts up to one past new_end; later starts move by the change in length.
    """
    head = starts[: bisect_right(starts, low)]
    middle = [low + m.end() for m in breaks if low + m.end() <= new_end + 1]
    delta = new_end - old_end
    tail = [start + delta for start in starts[bisect_right(starts, old_end + 1) :]]
    return head + middle + tail


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
    _index: InitVar[_Text | None] = None
    _text: _Text = field(init=False, repr=False, compare=False)

    def __post_init__(self, _index: _Text | None) -> None:
        object.__setattr__(self, "_text", _index or _Text.of(self.text))

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
                text, base_tree = _Text.of(change.text), None
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
        data = _utf8(text) if len(text) <= self.max_parse_bytes else None
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
        tree = parser_for(language).parse(_utf8(text))
    return replace(snapshot, text=text, tree=tree)


def _change_range(text: _Text, change: Change, encoding: Encoding) -> tuple[int, int]:
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


def _tree_edit(old: _Text, new: _Text, edit: _Edit) -> _TreeEdit:
    return (
        edit.start_byte,
        edit.old_end_byte,
        edit.new_end_byte,
        old.ts_point(edit.start),
        old.ts_point(edit.old_end),
        new.ts_point(edit.new_end),
    )
