"""The recent edits as before/after pairs of lines, for showing the model as a diff.

The context service's recent edits keep only the text after each edit (what completions show
as snippets); a diff needs the text before it too. So each burst of typing in one place keeps
the document as it was when the burst began, and the burst becomes a hunk (the changed lines,
before and after) when the edits move elsewhere or the hunks are asked for. A keystroke costs
no diffing: only a reference to the newest text is kept.
"""

from collections import OrderedDict, deque
from dataclasses import dataclass

# An edit this close (in lines) to the burst under way continues it.
NEAR_LINES = 3


@dataclass(frozen=True)
class Hunk:
    """Changed lines of one document: `before` became `after`, starting at line `line`.

    Both are whole lines joined by "\\n", without a final line break; either may be empty
    (lines added, or removed).
    """

    uri: str
    line: int
    before: str
    after: str


@dataclass
class _Burst:
    base: str  # the document when the burst began
    latest: str
    first: int
    last: int


def _near(burst: _Burst, first: int, last: int) -> bool:
    return burst.first - NEAR_LINES <= last and first <= burst.last + NEAR_LINES


def line_hunk(uri: str, before: str, after: str) -> Hunk | None:
    """The one hunk turning before into after: their lines minus the common first and last
    lines; None when they are the same."""
    if before == after:
        return None
    old, new = before.split("\n"), after.split("\n")
    head = 0
    while head < min(len(old), len(new)) and old[head] == new[head]:
        head += 1
    tail = 0
    while tail < min(len(old), len(new)) - head and old[-1 - tail] == new[-1 - tail]:
        tail += 1
    removed = old[head : len(old) - tail]
    added = new[head : len(new) - tail]
    return Hunk(uri, head, "\n".join(removed), "\n".join(added))


class EditHistory:
    """The last hunks per document, for the documents edited most recently."""

    def __init__(self, per_document: int = 8, documents: int = 16) -> None:
        self.per_document = per_document
        self.documents = documents
        self._hunks: OrderedDict[str, deque[Hunk]] = OrderedDict()
        self._bursts: dict[str, _Burst] = {}

    def record(self, uri: str, before: str, after: str, first: int, last: int) -> None:
        """An edit of lines first..last turned the document `before` into `after`."""
        burst = self._bursts.get(uri)
        if burst is not None and _near(burst, first, last):
            burst.latest = after
            burst.first, burst.last = min(burst.first, first), max(burst.last, last)
        else:
            self._flush(uri)
            self._bursts[uri] = _Burst(before, after, first, last)
        self._hunks.setdefault(uri, deque(maxlen=self.per_document))
        self._hunks.move_to_end(uri)
        while len(self._hunks) > self.documents:
            evicted, _ = self._hunks.popitem(last=False)
            self._bursts.pop(evicted, None)

    def forget(self, uri: str) -> None:
        self._hunks.pop(uri, None)
        self._bursts.pop(uri, None)

    def last_line(self, uri: str) -> int | None:
        """The last line the latest edit of the document touched, if it was edited."""
        burst = self._bursts.get(uri)
        if burst is not None:
            return burst.last
        hunks = self._hunks.get(uri)
        if hunks:
            latest = hunks[-1]
            return latest.line + latest.after.count("\n")
        return None

    def recent(self, limit: int = 6) -> list[Hunk]:
        """The latest `limit` hunks across documents, oldest first, the burst under way in
        each document included."""
        found: list[Hunk] = []
        for uri in reversed(self._hunks):
            burst = self._bursts.get(uri)
            pending = line_hunk(uri, burst.base, burst.latest) if burst is not None else None
            ours = [*self._hunks[uri], *([pending] if pending is not None else [])]
            found.extend(reversed(ours))
            if len(found) >= limit:
                break
        return list(reversed(found[:limit]))

    def _flush(self, uri: str) -> None:
        burst = self._bursts.pop(uri, None)
        hunks = self._hunks.get(uri)
        if burst is None or hunks is None:
            return
        hunk = line_hunk(uri, burst.base, burst.latest)
        if hunk is not None:
            hunks.append(hunk)
