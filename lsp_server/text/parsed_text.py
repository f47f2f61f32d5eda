"""A text with its syntax tree, and the tree of that text with one span replaced, re-parsed
incrementally from the kept one: what checking a completion against the whole file costs once
per candidate.
"""

import tree_sitter

from .line_index import utf8


class ParsedText:
    """A text with its syntax tree, re-parsed with one span replaced incrementally: a
    3,000-line file takes about 15 ms to parse whole, an edit to it under 1 ms."""

    def __init__(
        self, text: str, parser: tree_sitter.Parser, tree: tree_sitter.Tree | None = None
    ) -> None:
        """`tree` must be `text`'s own (a document's kept tree); without one, it is parsed."""
        self.text = text
        self.data = utf8(text)
        self.parser = parser
        self.tree = tree if tree is not None else parser.parse(self.data)

    def byte_offset(self, offset: int) -> int:
        return len(utf8(self.text[:offset]))

    def replaced(self, start: int, end: int, new: str) -> tree_sitter.Tree:
        """The tree of the text with its characters [start, end) replaced by `new`."""
        start_byte = self.byte_offset(start)
        end_byte = start_byte + len(utf8(self.text[start:end]))
        inserted = utf8(new)
        start_point = self._point(start_byte)
        rows = inserted.count(b"\n")
        last_line = len(inserted) - (inserted.rfind(b"\n") + 1)
        new_end_point = (
            (start_point[0] + rows, last_line)
            if rows
            else (start_point[0], start_point[1] + last_line)
        )
        edited = self.tree.copy()
        edited.edit(
            start_byte=start_byte,
            old_end_byte=end_byte,
            new_end_byte=start_byte + len(inserted),
            start_point=start_point,
            old_end_point=self._point(end_byte),
            new_end_point=new_end_point,
        )
        return self.parser.parse(self.data[:start_byte] + inserted + self.data[end_byte:], edited)

    def _point(self, byte: int) -> tuple[int, int]:
        line_start = self.data.rfind(b"\n", 0, byte) + 1
        return self.data.count(b"\n", 0, byte), byte - line_start
