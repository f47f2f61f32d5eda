"""Where a multi-line completion ends, decided line by line while the model streams.

`SyntaxCut` has `LineCut`'s protocol (`feed(piece) -> bool`, `.text`), so generation stops as
soon as the end is known. Each line is judged when its line break arrives, in this order: it
repeats the suffix's next line (stop before it); it leaves the cursor line's indentation scope
(stop before it, unless it closes a bracket or block the suffix leaves open); it closes more
brackets than the completion opened (cut before a closer the suffix already has, else after the
line); the statement begun on the cursor line ended before it, by a parse of prefix +
completion + suffix (cut after the statement); `max_lines`. Stop sequences cut at once.
"""

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass

import tree_sitter

from ..text.brackets import CLOSERS, bracket_depth, bracket_trace
from ..text.languages import LanguageInfo
from ..text.line_index import utf8
from ..text.parsed_text import ParsedText
from .edit import LINE_BREAK, Edit, line_around

# What may follow a closing bracket and still belong to the closing: `});`, `],`.
_CLOSING_RUN = CLOSERS | {";", ","}
_TRAILING_SPACE = re.compile(r"[ \t]+(?=[\r\n]|\Z)")
_WORD = re.compile(r"\w")


@dataclass(frozen=True)
class _Verdict:
    """How much of one line stays in the completion, and whether the completion ends there."""

    keep: int
    stop: bool


def _indent(line: str) -> int:
    expanded = line.expandtabs(4)
    return len(expanded) - len(expanded.lstrip())


def _next_nonblank_line(text: str) -> str | None:
    """The first non-blank line of `text` after its first line."""
    start: int | None = None
    for match in LINE_BREAK.finditer(text):
        if start is not None and text[start : match.start()].strip():
            return text[start : match.start()]
        start = match.end()
    if start is not None and text[start:].strip():
        return text[start:]
    return None


class SyntaxCut:
    """Streaming cut for completions that may span lines.

    `prefix` is the document up to the cursor and `suffix` what follows it (the window's
    suffix will do); `language` and `parser` may be None for plain text, which leaves the
    rules that need no syntax tree. `document`, the whole document (beginning with `prefix`)
    with its tree, spares a parse of prefix + suffix.
    """

    def __init__(
        self,
        prefix: str,
        suffix: str,
        language: LanguageInfo | None,
        parser: tree_sitter.Parser | None,
        stops: tuple[str, ...] = (),
        max_lines: int = 16,
        document: ParsedText | None = None,
    ) -> None:
        language_stops = language.stop_sequences if language else ()
        self._stops = tuple(stop for stop in (*language_stops, *stops) if stop)
        self._stop_span = max((len(stop) for stop in self._stops), default=0)
        self._max_lines = max(1, max_lines)
        self._closing_keywords = language.closing_keywords if language else ()
        self._line_prefix = line_around(prefix, len(prefix))[0]
        self._base = bracket_depth(self._line_prefix)
        # Lines that start deeper than this are inside a bracket the cursor line or the
        # completion opened, where indentation means nothing (continuation lines).
        self._floor = min([0, *(depth for _, depth in bracket_trace(self._line_prefix))])
        self._scope = _indent(self._line_prefix) if self._line_prefix.strip() else None
        next_line = _next_nonblank_line(suffix)
        self._next_line = next_line.rstrip() if next_line is not None else None
        # The suffix's first text, which may already close what the completion would close;
        # its indentation is None when it is on the cursor line.
        line_suffix = line_around(suffix, 0)[1]
        if line_suffix.strip():
            self._head, self._head_indent = line_suffix.lstrip(), None
        elif next_line is not None:
            self._head, self._head_indent = next_line.lstrip(), _indent(next_line)
        else:
            self._head, self._head_indent = "", None
        self._statement = _StatementEnd.of(
            prefix, suffix, self._line_prefix, language, parser, document
        )
        self.raw = ""
        self.done = False
        self._generated = 0
        self._scanned = 0  # where in raw the next unjudged line starts
        self._end = 0  # where in raw the accepted completion ends
        self._lead = ""  # the line break the completion starts with
        self._body_start = 0
        self._started = False
        self._lines = 0

    def feed(self, piece: str) -> bool:
        """Add streamed text; True once the completion is complete."""
        self._generated += len(piece)
        if self.done:
            return True
        search_from = max(0, len(self.raw) - self._stop_span + 1)
        self.raw += piece
        found = [at for at in (self.raw.find(s, search_from) for s in self._stops) if at >= 0]
        if found:
            self.raw = self.raw[: min(found)]
            self._end = min(self._end, len(self.raw))
            self._judge_lines(final=True)
            self.done = True
        else:
            self._judge_lines(final=False)
            self.done = self.done or self._dedent_ahead()
        return self.done

    @property
    def text(self) -> str:
        """The completion so far, as it would end if the stream ended now."""
        settled = self
        if not self.done:
            # The unfinished last line is judged as if the stream had ended, on a copy, so that
            # reading the answer mid-stream changes nothing.
            settled = copy.copy(self)
            settled._judge_lines(final=True)
        body = _TRAILING_SPACE.sub("", settled.raw[settled._body_start : settled._end]).rstrip()
        return settled._lead + body if body.strip() else ""

    @property
    def discarded(self) -> int:
        """Characters the model generated that the completion leaves out."""
        return self._generated - len(self.text)

    def _judge_lines(self, final: bool) -> None:
        for match in LINE_BREAK.finditer(self.raw, self._scanned):
            if not final and match.group() == "\r" and match.end() == len(self.raw):
                break  # the "\n" of a "\r\n" may be in the next piece
            self._accept(self.raw[self._scanned : match.start()], match.group())
            if self.done:
                return
        if final and self._scanned < len(self.raw):
            self._accept(self.raw[self._scanned :], "")

    def _dedent_ahead(self) -> bool:
        """Whether the unfinished line already leaves the scope: its first character is
        dedented, outside any bracket opened since the cursor line began, and begins no closer."""
        partial = self.raw[self._scanned :]
        stripped = partial.lstrip()
        if not stripped or not self._started or self._scope is None:
            return False
        if _indent(partial) >= self._scope or stripped[0] in CLOSERS:
            return False
        if any(k.startswith(stripped[: len(k)]) for k in self._closing_keywords):
            return False
        line_at = len(self._line_prefix) + self._scanned
        depth_at_line, _ = self._brackets(self.raw[: self._scanned], line_at)
        return depth_at_line <= self._floor

    def _accept(self, line: str, line_break: str) -> None:
        start = self._scanned
        self._scanned = start + len(line) + len(line_break)
        first = not self._started
        self._started = True
        if first and line_break and not line.strip():
            # The completion starts on a fresh line below the cursor.
            self._lead = line_break
            self._body_start = self._end = self._scanned
            return
        document_line = self._line_prefix + line if first else line
        if self._scope is None and document_line.strip():
            self._scope = _indent(document_line)
        verdict = self._judge(line, document_line, first, start)
        self._end = start + verdict.keep
        if verdict.stop:
            self.done = True
            return
        self._lines += 1
        cut = self._statement.cut(self.raw[: self._end]) if self._statement else None
        if cut is not None:
            self._end = cut
            self.done = True
        elif self._lines >= self._max_lines:
            self.done = True

    def _judge(self, line: str, document_line: str, first: bool, start: int) -> _Verdict:
        """The verdict on the line at `start` in raw; `document_line` is the line as the
        document would hold it, after the cursor line's text when it is the first."""
        whole = _Verdict(len(line), stop=False)
        if not document_line.strip() or self._scope is None:
            return whole
        if document_line.rstrip() == self._next_line:
            return _Verdict(0, stop=True)
        line_at = len(self._line_prefix) + start
        depth_at_line, over = self._brackets(self.raw[: start + len(line)], line_at)
        stripped = line.lstrip()
        leading = len(line) - len(stripped)
        if not first and depth_at_line <= self._floor and _indent(line) < self._scope:
            keyword = self._closing_keyword(stripped)
            if keyword:
                closed = self._provided(keyword, _indent(line))
                return _Verdict(0 if closed else len(line), stop=True)
            if over != leading:
                return _Verdict(0, stop=True)
        if over is not None:
            return self._close(line, over, _indent(document_line))
        return whole

    def _brackets(self, candidate: str, line_at: int) -> tuple[int, int | None]:
        """The bracket depth where the line starts, and where in it the completion first
        closes a bracket it did not open (None if nowhere)."""
        depth_at_line = 0
        for index, depth in bracket_trace(self._line_prefix + candidate):
            if index < line_at:
                depth_at_line = depth
            elif depth < self._base:
                return depth_at_line, index - line_at
        return depth_at_line, None

    def _close(self, line: str, over: int, indent: int) -> _Verdict:
        """Cut before the first closer from `over` on that the suffix already has; else keep
        the line, whose rest (` {`, `):`, ` || fallback;`) finishes what the closers end."""
        end = over
        while end < len(line) and line[end] in _CLOSING_RUN:
            if line[end] in CLOSERS and self._provided(line[end], indent):
                return _Verdict(end, stop=True)
            end += 1
        return _Verdict(len(line), stop=True)

    def _closing_keyword(self, stripped: str) -> str:
        for keyword in self._closing_keywords:
            if stripped.startswith(keyword) and not _WORD.match(stripped[len(keyword) :]):
                return keyword
        return ""

    def _provided(self, closer: str, indent: int) -> bool:
        """Whether the suffix starts with `closer` for the block a line at `indent` closes.

        A closer on the cursor line always counts; one on a later line counts unless it is
        indented less, when it closes an outer block.
        """
        if not self._head.startswith(closer):
            return False
        if closer[-1].isalnum() and _WORD.match(self._head[len(closer) :]):
            return False
        return self._head_indent is None or self._head_indent >= indent


@dataclass(frozen=True)
class _StatementEnd:
    """Finds where the statement begun on the cursor line ends, once a completion finishes it.

    Only a statement begun before the cursor is a unit to finish: on a fresh line the cursor
    starts a block's body, which the indentation and bracket rules bound instead (cutting
    after its first statement would cut every function body to one line).
    """

    language: LanguageInfo
    document: ParsedText  # the prefix and what follows it
    cursor: int  # where the completion goes in the document: the prefix's length
    prefix_bytes: int
    anchor: int  # byte offset of the last character before the cursor on its line
    row: int

    @classmethod
    def of(
        cls,
        prefix: str,
        suffix: str,
        line_prefix: str,
        language: LanguageInfo | None,
        parser: tree_sitter.Parser | None,
        document: ParsedText | None = None,
    ) -> "_StatementEnd | None":
        """None when there is no grammar or no statement begun before the cursor."""
        head = line_prefix.rstrip()
        if language is None or parser is None or not head.strip():
            return None
        document = document or ParsedText(prefix + suffix, parser)
        prefix_bytes = document.byte_offset(len(prefix))
        anchor = prefix_bytes - len(utf8(prefix[len(prefix) - len(line_prefix) + len(head) - 1 :]))
        return cls(language, document, len(prefix), prefix_bytes, anchor, prefix.count("\n"))

    def cut(self, candidate: str) -> int | None:
        """Where in `candidate` to cut: after the statement, when text follows it there."""
        completion = utf8(candidate)
        tree = self.document.replaced(self.cursor, self.cursor, candidate)
        token = tree.root_node.descendant_for_byte_range(self.anchor, self.anchor + 1)
        statement = _statement_of(token, self.language)
        if statement is None or statement.has_error or statement.start_point.row != self.row:
            return None
        end = statement.end_byte - self.prefix_bytes
        if not 0 < end < len(completion) or not completion[end:].strip():
            return None
        return len(completion[:end].decode("utf-8", "surrogatepass"))


def _statement_of(node: tree_sitter.Node | None, language: LanguageInfo) -> tree_sitter.Node | None:
    """The ancestor of `node` that is a statement: a child of a block or of the root."""
    while node is not None and node.parent is not None:
        parent = node.parent
        if parent.parent is None or parent.type in language.block_openers:
            return node
        node = parent
    return None


def without_new_errors(
    document: ParsedText, completion: str, edit_for: Callable[[str], Edit | None]
) -> str:
    """The most lines of `completion` that leave the file with no new syntax error; "" if none.

    `edit_for` gives the edit that accepts a candidate (None when it makes none). The cut rules
    work line by line from brackets and indentation; this check on the whole file catches what
    they cannot see, such as a `}` the suffix needed for a block the expected line would have
    opened. No suggestion is better than one that breaks the file.
    """
    before = _error_count(document.tree)
    lines = completion.splitlines(keepends=True)
    for count in range(len(lines), 0, -1):
        kept = "".join(lines[:count])
        if count < len(lines):
            kept = kept.rstrip("\r\n")
        edit = edit_for(kept)
        if edit is not None:
            after = document.replaced(edit.start, edit.end, edit.text)
            if _error_count(after) <= before:
                return kept
    return ""


def _error_count(tree: tree_sitter.Tree) -> int:
    count = 0
    pending = [tree.root_node]
    while pending:
        node = pending.pop()
        if node.is_error or node.is_missing:
            count += 1
        # has_error covers the node's descendants, so clean subtrees are never walked.
        pending.extend(child for child in node.children if child.has_error)
    return count
