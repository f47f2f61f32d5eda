"""The model's log-probabilities for a document, scored in chunks and cached by content.

A document is cut into chunks along its top-level syntax nodes (whole lines, a few dozen at a
time), and each chunk is scored on its own: an edit re-scores only the chunk it touched, and a
chunk's scores are found again by its text wherever it moves in the file.
"""

import bisect
from collections import OrderedDict
from collections.abc import Callable

from ..engines.base import Engine, TokenScore
from ..text.documents import Pos, Snapshot

MAX_CHUNK_LINES = 80


def chunk_lines(snapshot: Snapshot, max_lines: int = MAX_CHUNK_LINES) -> list[tuple[int, int]]:
    """Line ranges [first, last) covering the document, cut between top-level nodes."""
    total = snapshot.line_count
    if snapshot.tree is None:
        return [(a, min(a + max_lines, total)) for a in range(0, total, max_lines)]
    # A chunk ends where a top-level node starts, growing node by node up to max_lines; a
    # single node longer than that is cut every max_lines.
    children = snapshot.tree.root_node.children
    rows = sorted({c.start_point.row for c in children if c.start_point.row > 0} | {total})
    chunks: list[tuple[int, int]] = []
    first = last = 0
    for row in rows:
        if row - first > max_lines and last > first:
            chunks.append((first, last))
            first = last
        while row - first > max_lines:
            chunks.append((first, first + max_lines))
            first += max_lines
        last = row
    if last > first:
        chunks.append((first, last))
    return chunks


class ScoreCache:
    """Token scores per chunk text; bounded, least recently used first out."""

    def __init__(self, capacity: int = 512) -> None:
        self._capacity = capacity
        self._scores: OrderedDict[str, list[TokenScore]] = OrderedDict()

    def get(self, text: str) -> list[TokenScore] | None:
        scores = self._scores.get(text)
        if scores is not None:
            self._scores.move_to_end(text)
        return scores

    def put(self, text: str, scores: list[TokenScore]) -> None:
        self._scores[text] = scores
        self._scores.move_to_end(text)
        while len(self._scores) > self._capacity:
            self._scores.popitem(last=False)


def score_document(
    engine: Engine, snapshot: Snapshot, cache: ScoreCache, cancelled: Callable[[], bool]
) -> list[TokenScore] | None:
    """Scores for the whole document in document offsets; None if cancelled part way."""
    scores: list[TokenScore] = []
    for first, last in chunk_lines(snapshot):
        start = snapshot.offset_at(Pos(first, 0))
        end = snapshot.offset_at(Pos(last, 0)) if last < snapshot.line_count else len(snapshot.text)
        text = snapshot.text[start:end]
        if not text.strip():
            continue
        chunk = cache.get(text)
        if chunk is None:
            chunk = engine.score(text, cancelled)
            if chunk is None:
                return None
            cache.put(text, chunk)
        scores.extend(TokenScore(s.start + start, s.end + start, s.logprob) for s in chunk)
    return scores


def code_scores(snapshot: Snapshot, scores: list[TokenScore]) -> list[TokenScore]:
    """The scores of the tokens that can hold a bug the model would notice.

    Left out: prose (comments, docstrings and other multi-line strings), imports, and the
    headers of definitions (`def name(params) -> type:`). All are surprising to the model by
    nature, new names above all, and say nothing about bugs.
    """
    if snapshot.tree is None or snapshot.language is None:
        return scores
    prose = set(snapshot.language.comment_types)
    strings = set(snapshot.language.string_types)
    spans: list[tuple[int, int]] = []
    stack = [snapshot.tree.root_node]
    while stack:
        node = stack.pop()
        if (
            node.type in prose
            or "import" in node.type
            or (node.type in strings and node.start_point.row != node.end_point.row)
        ):
            spans.append((node.start_byte, node.end_byte))
            continue
        body = node.child_by_field_name("body")
        if body is not None and _is_definition(node.type):
            spans.append((node.start_byte, body.start_byte))
        stack.extend(node.children)
    if not spans:
        return scores
    spans.sort()
    starts = [a for a, _ in spans]
    kept = []
    for score in scores:
        byte = snapshot.byte_offset(score.start)
        at = bisect.bisect_right(starts, byte) - 1
        if at >= 0 and byte < spans[at][1]:
            continue
        kept.append(score)
    return kept


def _is_definition(node_type: str) -> bool:
    return any(word in node_type for word in ("function", "class", "method", "def"))
