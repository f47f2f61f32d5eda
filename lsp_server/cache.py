"""Answers for text the user is typing through.

When the characters typed since the last suggestion are exactly its next characters, the rest
of that suggestion is still the model's answer: serving it costs no model run at all.
"""

from dataclasses import dataclass

from .postprocess import line_around

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


class TypeThroughCache:
    """One remembered suggestion per document."""

    def __init__(self, after_chars: int = AFTER_CHARS) -> None:
        self._shown: dict[str, Shown] = {}
        self._after_chars = after_chars

    def remember(self, uri: str, text: str, cursor: int, completion: str) -> None:
        if not completion:
            self._shown.pop(uri, None)
            return
        line_prefix, _ = line_around(text, cursor)
        after = text[cursor : cursor + self._after_chars]
        self._shown[uri] = Shown(uri, cursor, len(text), line_prefix, after, completion)

    def forget(self, uri: str) -> None:
        self._shown.pop(uri, None)

    def lookup(self, uri: str, text: str, cursor: int) -> str | None:
        """The rest of the last suggestion, if the user has typed its beginning and no more."""
        shown = self._shown.get(uri)
        if shown is None:
            return None
        typed = cursor - shown.cursor
        if typed <= 0 or typed >= len(shown.completion) or len(text) != shown.length + typed:
            return None
        if text[shown.cursor : cursor] != shown.completion[:typed]:
            return None
        if text[cursor : cursor + len(shown.after)] != shown.after:
            return None
        line_prefix, _ = line_around(text, cursor)
        if line_prefix != shown.line_prefix + shown.completion[:typed]:
            return None
        return shown.completion[typed:]
