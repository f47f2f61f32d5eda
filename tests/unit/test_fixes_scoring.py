"""Tests for lsp_server.fixes.scoring: chunking, the score cache, and the prose filter."""

from lsp_server.engines.base import TokenScore
from lsp_server.fixes.scoring import ScoreCache, chunk_lines, code_scores, score_document
from lsp_server.text.documents import DocumentStore

SOURCE = '''import os


def first():
    """A docstring
    over two lines."""
    return 1  # a comment


def second():
    return "short"
'''


def snapshot(text: str, language: str = "python"):
    return DocumentStore().open("file:///t/x.py", language, 1, text)


def test_chunks_cover_the_document_and_cut_between_top_level_nodes():
    snap = snapshot(SOURCE)
    assert chunk_lines(snap, max_lines=80) == [(0, snap.line_count)]
    small = chunk_lines(snap, max_lines=5)
    assert small[0][0] == 0 and small[-1][1] == snap.line_count
    assert all(a < b for a, b in small)
    assert all(b == c for (_, b), (c, _) in zip(small, small[1:], strict=False))
    # The first cut falls where the second top-level node starts.
    assert small[0] == (0, 3)


def test_a_node_longer_than_a_chunk_is_cut_every_max_lines():
    text = "def f():\n" + "".join(f"    x{i} = {i}\n" for i in range(30))
    chunks = chunk_lines(snapshot(text), max_lines=10)
    assert chunks[:3] == [(0, 10), (10, 20), (20, 30)]
    assert chunks[-1][1] == snapshot(text).line_count


def test_plain_text_is_chunked_by_lines():
    snap = snapshot("a\n" * 25, "plaintext")
    assert chunk_lines(snap, max_lines=10) == [(0, 10), (10, 20), (20, 26)]


def test_code_scores_drop_comments_and_docstrings_but_keep_short_strings():
    snap = snapshot(SOURCE)
    spans = [
        (SOURCE.index("A docstring"), "docstring"),
        (SOURCE.index("# a comment"), "comment"),
        (SOURCE.index('"short"'), "string"),
        (SOURCE.index("return 1"), "code"),
    ]
    scores = [TokenScore(at, at + 3, -1.0) for at, _ in spans]
    kept = {s.start for s in code_scores(snap, scores)}
    assert kept == {at for at, kind in spans if kind in ("string", "code")}


class CountingEngine:
    """Scores every character with its position, counting calls; plain data, no model."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def score(self, text, cancelled):
        self.calls.append(text)
        return [TokenScore(i, i + 1, -float(i)) for i in range(1, len(text))]


def test_scores_are_cached_by_chunk_text_and_shifted_to_document_offsets():
    engine = CountingEngine()
    cache = ScoreCache()
    text = "def a():\n    return 1\n\n\ndef b():\n    return 2\n"
    snap = snapshot(text)
    first = score_document(engine, snap, cache, lambda: False)
    assert first and engine.calls
    calls = len(engine.calls)
    again = score_document(engine, snap, cache, lambda: False)
    assert again == first and len(engine.calls) == calls
    assert all(0 <= s.start < s.end <= len(text) for s in first)


def test_cancelled_scoring_returns_none():
    class Cancelling(CountingEngine):
        def score(self, text, cancelled):
            return None

    assert score_document(Cancelling(), snapshot(SOURCE), ScoreCache(), lambda: True) is None


def test_cache_is_bounded():
    cache = ScoreCache(capacity=2)
    for key in "abc":
        cache.put(key, [])
    assert cache.get("a") is None and cache.get("c") == []


def test_function_name_of_a_line():
    from lsp_server.fixes.candidates import function_name

    snap = snapshot(SOURCE)
    assert function_name(snap, 6) == "first"
    assert function_name(snap, 10) == "second"
    assert function_name(snap, 0) is None
