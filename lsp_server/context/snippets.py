"""Snippets of code worth showing the model, from recent edits and open buffers.

Both sources are cut into chunks of about twenty lines and ranked by how many identifiers they
share with the text around the cursor (Jaccard similarity of identifier sets), after the "ring
buffer chunks" of llama.vscode and Continue. Chunks the prompt already shows are dropped.
"""

import re
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ..completion.window import lines_span

CHUNK_LINES = 20

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# A chunk with more than this share of its lines already in the prompt is dropped.
_VISIBLE_SHARE = 0.5
# An edit this close to the last one (in lines) continues it rather than starting a new one.
_NEARBY_LINES = CHUNK_LINES // 2


@dataclass(frozen=True)
class Snippet:
    """A piece of a workspace file to show the model, with how much it is worth showing.

    `path` is workspace-relative, `line` the zero-based line the text starts at, `kind` where it
    came from: "definition", "recent-edit" or "open-buffer".
    """

    path: str
    text: str
    score: float
    kind: str
    line: int = 0


@dataclass(frozen=True)
class Chunk:
    """A run of lines of one document, with its identifiers."""

    uri: str
    line: int
    text: str
    tokens: frozenset[str]


def identifier_tokens(text: str) -> frozenset[str]:
    """The identifiers in text; single letters say too little to count."""
    return frozenset(t for t in _IDENTIFIER.findall(text) if len(t) > 1)


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    """Size of the intersection over size of the union; 0 for two empty sets."""
    if not a or not b:
        return 0.0
    shared = len(a & b)
    return shared / (len(a) + len(b) - shared)


def _lines_at(text: str, first: int, count: int) -> str:
    """`count` lines of text from line `first` (LSP numbering), without a final line break."""
    start = 0
    for _ in range(first):
        found = text.find("\n", start)
        if found < 0:
            return ""
        start = found + 1
    end = start
    for _ in range(count):
        found = text.find("\n", end)
        if found < 0:
            return text[start:]
        end = found + 1
    return text[start : end - 1]


@dataclass
class _Pending:
    """The edit still under way in a document: its range widens while typing stays near."""

    text: str
    start: int
    end: int


class RecentEdits:
    """A bounded ring of the last edited places per document, as chunks of lines around them.

    Typing in one place keeps only a reference to the newest text; the chunk is cut when the
    edits move elsewhere or chunks are asked for, so a keystroke costs no line scanning.
    """

    def __init__(self, per_document: int = 8, documents: int = 16) -> None:
        self.per_document = per_document
        self.documents = documents
        self._rings: OrderedDict[str, deque[Chunk]] = OrderedDict()
        self._pending: dict[str, _Pending] = {}

    def record(self, uri: str, text: str, start_line: int, end_line: int) -> None:
        """Note an edit of lines start_line..end_line; text is the whole document after it."""
        pending = self._pending.get(uri)
        if pending is not None and (
            start_line <= pending.end + _NEARBY_LINES and end_line >= pending.start - _NEARBY_LINES
        ):
            pending.text = text
            pending.start = min(pending.start, start_line)
            pending.end = max(pending.end, end_line)
        else:
            self._flush(uri)
            self._pending[uri] = _Pending(text, start_line, end_line)
        self._rings.setdefault(uri, deque(maxlen=self.per_document))
        self._rings.move_to_end(uri)
        while len(self._rings) > self.documents:
            evicted, _ = self._rings.popitem(last=False)
            self._pending.pop(evicted, None)

    def forget(self, uri: str) -> None:
        """Drop what is known of a document (it was closed or deleted)."""
        self._rings.pop(uri, None)
        self._pending.pop(uri, None)

    def chunks(self) -> list[Chunk]:
        """Every remembered chunk, the most recently edited document and place first."""
        for uri in list(self._pending):
            self._flush(uri)
        return [chunk for uri in reversed(self._rings) for chunk in reversed(self._rings[uri])]

    def _flush(self, uri: str) -> None:
        pending = self._pending.pop(uri, None)
        ring = self._rings.get(uri)
        if pending is None or ring is None:
            return
        span = pending.end - pending.start + 1
        count = min(max(span, CHUNK_LINES), 2 * CHUNK_LINES)
        first = max(0, pending.start - (count - span) // 2)
        text = _lines_at(pending.text, first, count)
        if not text.strip():
            return
        last = first + text.count("\n")
        # A newer edit of the same place replaces the older one.
        for old in [c for c in ring if c.line <= last and c.line + c.text.count("\n") >= first]:
            ring.remove(old)
        ring.append(Chunk(uri, first, text, identifier_tokens(text)))


class BufferChunks:
    """Open buffers cut into chunks, their identifiers cached across keystrokes.

    A keystroke changes one chunk; a new line shifts the chunks after it, whose lines are
    still known. Both caches forget their oldest entries first.
    """

    def __init__(self, max_lines: int = 10_000, cached: int = 50_000) -> None:
        self.max_lines = max_lines
        self._cached = cached
        self._chunk_tokens: dict[str, frozenset[str]] = {}
        self._line_tokens: dict[str, frozenset[str]] = {}

    @property
    def cached_lines(self) -> int:
        """How many lines' identifiers are remembered."""
        return len(self._line_tokens)

    def chunks(self, uri: str, text: str) -> list[Chunk]:
        """The buffer's first max_lines lines in chunks of CHUNK_LINES lines."""
        lines = text.split("\n", self.max_lines)[: self.max_lines]
        out: list[Chunk] = []
        for first in range(0, len(lines), CHUNK_LINES):
            part = lines[first : first + CHUNK_LINES]
            joined = "\n".join(part)
            tokens = self._chunk_tokens.get(joined)
            if tokens is None:
                tokens = frozenset().union(*(self._tokens(line) for line in part))
                _bounded_put(self._chunk_tokens, joined, tokens, self._cached // CHUNK_LINES)
            if tokens:
                out.append(Chunk(uri, first, joined, tokens))
        return out

    def _tokens(self, line: str) -> frozenset[str]:
        tokens = self._line_tokens.get(line)
        if tokens is None:
            tokens = identifier_tokens(line)
            _bounded_put(self._line_tokens, line, tokens, self._cached)
        return tokens


def _bounded_put(
    cache: dict[str, frozenset[str]], key: str, value: frozenset[str], cap: int
) -> None:
    cache[key] = value
    if len(cache) > cap:
        del cache[next(iter(cache))]


def visible_lines(text: str) -> frozenset[str]:
    """The non-blank lines of the text the prompt already shows, stripped."""
    return frozenset(line.strip() for line in text.split("\n") if line.strip())


def _is_visible(chunk: Chunk, visible: frozenset[str]) -> bool:
    lines = [line.strip() for line in chunk.text.split("\n") if line.strip()]
    if not lines:
        return True
    return sum(line in visible for line in lines) > _VISIBLE_SHARE * len(lines)


def similar_snippets(
    query: str,
    chunks: Iterable[Chunk],
    *,
    kind: str,
    path_of: Callable[[str], str],
    visible: frozenset[str] = frozenset(),
    limit: int = 8,
    min_score: float = 0.05,
) -> list[Snippet]:
    """The chunks most like the query text, best first, leaving out those already visible.

    Of chunks with the same text only the first is kept, so pass the most recent first.
    """
    wanted = identifier_tokens(query)
    scored = [(jaccard(wanted, chunk.tokens), chunk) for chunk in chunks]
    # Stable: of equal scores (and so of equal texts) the earlier chunk comes first.
    scored.sort(key=lambda pair: -pair[0])
    seen: set[str] = set()
    ranked: list[Snippet] = []
    for score, chunk in scored:
        if score < min_score or len(ranked) == limit:
            break
        if chunk.text in seen or _is_visible(chunk, visible):
            continue
        seen.add(chunk.text)
        ranked.append(Snippet(path_of(chunk.uri), chunk.text, score, kind, chunk.line))
    return ranked


def cursor_text(text: str, cursor: int, before: int = 15, after: int = 5) -> str:
    """The lines around the cursor that similarity and symbol lookups start from."""
    start, end = lines_span(text, cursor, before, after)
    return text[start:end]
