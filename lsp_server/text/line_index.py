"""Where a text's lines start, and converting between LSP positions, code points and bytes.

LSP ends lines only at "\\n", "\\r\\n" and "\\r"; a position's character counts code units of
the negotiated encoding; tree-sitter wants UTF-8 byte offsets and rows that start only after
"\\n". An edit patches the index near the change instead of rescanning the whole text.
"""

import re
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from lsp_server.errors import DocumentError

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

# tree-sitter's (row, byte column).
Point = tuple[int, int]


@dataclass(frozen=True)
class Pos:
    """An LSP position: zero-based line, and character in code units of the encoding."""

    line: int
    character: int


@dataclass(frozen=True)
class TextEdit:
    """Where one change replaced text, in code points and in UTF-8 bytes."""

    start: int
    old_end: int
    new_end: int
    start_byte: int
    old_end_byte: int
    new_end_byte: int


def utf8(text: str) -> bytes:
    """UTF-8 in which a lone surrogate (an editor may send one) encodes instead of raising."""
    return text.encode("utf-8", "surrogatepass")


@dataclass(frozen=True)
class LineIndex:
    """A string and where each of its lines starts, in code points and in UTF-8 bytes."""

    value: str
    starts: list[int]
    # The very same list as starts while the text is ASCII, where bytes and code points agree.
    byte_starts: list[int]

    @classmethod
    def of(cls, value: str) -> "LineIndex":
        starts = [0, *(m.end() for m in _LINE_BREAK.finditer(value))]
        if value.isascii():
            return cls(value, starts, starts)
        byte_starts = [0, *(m.end() for m in _LINE_BREAK_BYTES.finditer(utf8(value)))]
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
        return self.byte_starts[line] + len(utf8(self.value[self.starts[line] : offset]))

    def ts_point(self, offset: int) -> Point:
        """tree-sitter's (row, byte column): unlike LSP, it starts rows only after "\\n"."""
        row = self.value.count("\n", 0, offset)
        row_start = self.value.rfind("\n", 0, offset) + 1
        return row, len(utf8(self.value[row_start:offset]))

    def replaced(self, start: int, end: int, insert: str) -> tuple["LineIndex", TextEdit]:
        """This text with [start, end) replaced by insert, its line index patched, not rebuilt."""
        value = self.value[:start] + insert + self.value[end:]
        start_byte = self.byte_offset(start)
        edit = TextEdit(
            start=start,
            old_end=end,
            new_end=start + len(insert),
            start_byte=start_byte,
            old_end_byte=self.byte_offset(end),
            new_end_byte=start_byte + len(utf8(insert)),
        )
        # Line breaks next to the edit can merge or split ("\r" + "\n"), so rescan from one
        # character before it to one after.
        low = max(0, start - 1)
        window = value[low : edit.new_end + 2]
        starts = _patched_starts(self.starts, low, end, edit.new_end, _LINE_BREAK.finditer(window))
        if value.isascii():
            return LineIndex(value, starts, starts), edit
        low_byte = start_byte - len(utf8(value[low:start]))
        byte_starts = _patched_starts(
            self.byte_starts,
            low_byte,
            edit.old_end_byte,
            edit.new_end_byte,
            _LINE_BREAK_BYTES.finditer(utf8(window)),
        )
        return LineIndex(value, starts, byte_starts), edit

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
