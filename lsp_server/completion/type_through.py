"""Answers for text the user is typing through.

When the characters typed since the last suggestion are exactly its next characters, the rest
of that suggestion is still the model's answer: serving it costs no model run at all. A
suggestion computed ahead, for the text as it will be once the shown one is accepted, is served
the same way from its own cursor on.
"""

import threading
from dataclasses import dataclass

from .edit import line_around

# How much text after the cursor must be unchanged for a remembered suggestion to still hold.
AFTER_CHARS = 2_000


@dataclass(frozen=True)
class Shown:
    """The last suggestion for a document, and the text around the cursor it was made for."""

    uri: str
    cursor: int
    length: int  # document length then
    line_prefix: str
    after: str  # the text after the cursor that the suggestion was made against
    completion: str  # what the suggestion inserts at the cursor
    ahead: bool = False  # computed before the user got there: good at its own cursor too


class TypeThroughCache:
    """Per document, the suggestion last shown and the one computed ahead of its accept."""

    def __init__(self, after_chars: int = AFTER_CHARS) -> None:
        self._shown: dict[str, Shown] = {}
        self._ahead: dict[str, Shown] = {}
        self._after_chars = after_chars
        # The server answers type-through on its event loop while the model's thread records
        # new suggestions.
        self._lock = threading.Lock()

    def _entry(self, uri: str, text: str, cursor: int, completion: str, ahead: bool) -> Shown:
        line_prefix, _ = line_around(text, cursor)
        after = text[cursor : cursor + self._after_chars]
        return Shown(uri, cursor, len(text), line_prefix, after, completion, ahead)

    def remember(self, uri: str, text: str, cursor: int, completion: str) -> None:
        """A new suggestion was shown; what was computed ahead of the last one is stale."""
        with self._lock:
            self._ahead.pop(uri, None)
            if not completion:
                self._shown.pop(uri, None)
                return
            self._shown[uri] = self._entry(uri, text, cursor, completion, ahead=False)

    def remember_ahead(self, uri: str, text: str, cursor: int, completion: str) -> None:
        """The suggestion for `text`, the document as accepting the shown suggestion makes it."""
        with self._lock:
            if completion:
                self._ahead[uri] = self._entry(uri, text, cursor, completion, ahead=True)

    def has_ahead(self, uri: str, text: str, cursor: int) -> bool:
        with self._lock:
            ahead = self._ahead.get(uri)
            return ahead is not None and self._matches(ahead, text, cursor) is not None

    def clear(self) -> None:
        with self._lock:
            self._shown.clear()
            self._ahead.clear()

    def forget(self, uri: str) -> None:
        with self._lock:
            self._shown.pop(uri, None)
            self._ahead.pop(uri, None)

    def lookup(self, uri: str, text: str, cursor: int) -> str | None:
        """The rest of the last suggestion, if the user has typed its beginning and no more;
        or of the one computed ahead, once the user has accepted the shown one (it becomes the
        shown one, and the next can be computed ahead of it)."""
        with self._lock:
            ahead = self._ahead.get(uri)
            rest = self._matches(ahead, text, cursor) if ahead is not None else None
            if rest is not None:
                self._shown[uri] = self._ahead.pop(uri)
                return rest
            shown = self._shown.get(uri)
            return self._matches(shown, text, cursor) if shown is not None else None

    def _matches(self, shown: Shown, text: str, cursor: int) -> str | None:
        typed = cursor - shown.cursor
        least = 0 if shown.ahead else 1
        if typed < least or typed >= len(shown.completion) or len(text) != shown.length + typed:
            return None
        if text[shown.cursor : cursor] != shown.completion[:typed]:
            return None
        if text[cursor : cursor + len(shown.after)] != shown.after:
            return None
        line_prefix, _ = line_around(text, cursor)
        if line_prefix != shown.line_prefix + shown.completion[:typed]:
            return None
        return shown.completion[typed:]
