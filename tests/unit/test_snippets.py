"""Tests for lsp_server.context.snippets: recent edits, buffer chunks and similarity ranking."""

from lsp_server.context.snippets import (
    CHUNK_LINES,
    BufferChunks,
    Chunk,
    RecentEdits,
    cursor_text,
    identifier_tokens,
    jaccard,
    similar_snippets,
    visible_lines,
)


def numbered(n: int, word: str = "line") -> str:
    return "\n".join(f"{word}_{i} = {i}" for i in range(n))


def chunk(text: str, uri: str = "file:///a.py", line: int = 0) -> Chunk:
    return Chunk(uri, line, text, identifier_tokens(text))


def same(uri: str) -> str:
    return uri


def test_identifier_tokens_and_jaccard():
    assert identifier_tokens("def area(r): return math.pi * r_2") == {
        "def",
        "area",
        "return",
        "math",
        "pi",
        "r_2",
    }
    a = frozenset({"a1", "b1"})
    assert jaccard(a, frozenset({"b1", "c1"})) == 1 / 3
    assert jaccard(a, a) == 1
    assert jaccard(frozenset(), a) == 0


# --- RecentEdits ------------------------------------------------------------------------------


def test_an_edit_becomes_a_chunk_of_lines_around_it():
    text = numbered(100)
    edits = RecentEdits()
    edits.record("u", text, 50, 50)
    [got] = edits.chunks()
    assert got.uri == "u"
    # Nine lines above the edit, ten below.
    assert got.line == 41
    assert got.text == "\n".join(text.split("\n")[41:61])
    assert "line_50" in got.tokens


def test_edits_near_each_other_are_one_place_and_the_newest_text_wins():
    edits = RecentEdits()
    edits.record("u", numbered(100), 50, 50)
    edits.record("u", numbered(100, "word"), 52, 53)
    [got] = edits.chunks()
    assert "word_51" in got.text
    assert "line_51" not in got.text


def test_edits_far_apart_are_separate_chunks_newest_first():
    edits = RecentEdits()
    text = numbered(200)
    edits.record("u", text, 10, 10)
    edits.record("u", text, 150, 150)
    got = edits.chunks()
    assert [c.line for c in got] == [141, 1]


def test_an_edit_of_the_same_place_again_replaces_the_older_chunk():
    edits = RecentEdits()
    text = numbered(200)
    edits.record("u", text, 10, 10)
    edits.record("u", text, 150, 150)
    edits.record("u", numbered(200, "new"), 12, 12)
    got = edits.chunks()
    assert [c.line for c in got] == [3, 141]
    assert "new_12" in got[0].text


def test_the_ring_is_bounded_per_document_and_in_documents():
    edits = RecentEdits(per_document=3, documents=2)
    text = numbered(1000)
    for line in range(0, 1000, 100):
        edits.record("a", text, line, line)
    assert len(edits.chunks()) == 3
    edits.record("b", text, 0, 0)
    edits.record("c", text, 0, 0)
    assert {c.uri for c in edits.chunks()} == {"b", "c"}
    edits.forget("c")
    assert {c.uri for c in edits.chunks()} == {"b"}


def test_a_long_edit_is_kept_up_to_two_chunks_long_and_short_files_whole():
    edits = RecentEdits()
    edits.record("u", numbered(200), 10, 150)
    [got] = edits.chunks()
    assert got.text.count("\n") + 1 == 2 * CHUNK_LINES
    edits.record("short", "a = 1\nb = 2", 1, 1)
    assert edits.chunks()[0].text == "a = 1\nb = 2"


def test_an_edit_past_the_end_or_of_blank_lines_leaves_nothing():
    edits = RecentEdits()
    edits.record("u", "a = 1\n", 40, 40)
    edits.record("v", "\n\n\n", 1, 1)
    assert edits.chunks() == []


# --- BufferChunks -----------------------------------------------------------------------------


def test_buffers_are_cut_into_chunks():
    buffers = BufferChunks()
    got = buffers.chunks("u", numbered(45))
    assert [c.line for c in got] == [0, 20, 40]
    assert got[1].text.split("\n")[0] == "line_20 = 20"
    assert got[2].text.count("\n") == 4


def test_buffers_are_cut_only_up_to_max_lines_and_blank_chunks_dropped():
    buffers = BufferChunks(max_lines=30)
    assert [c.line for c in buffers.chunks("u", numbered(100))] == [0, 20]
    assert buffers.chunks("u", "\n" * 50) == []


def test_line_tokens_are_cached_and_bounded():
    buffers = BufferChunks(cached=10)
    first = buffers.chunks("u", numbered(100))
    assert buffers.cached_lines == 10
    assert buffers.chunks("u", numbered(100)) == first


# --- similarity -------------------------------------------------------------------------------


def test_similar_snippets_rank_by_shared_identifiers():
    query = "total = compute_area(width, height)"
    chunks = [
        chunk("def unrelated(): pass", line=0),
        chunk("def compute_area(width, height):\n    return width * height", line=20),
        chunk("height = 1\nother_thing = 2", line=40),
    ]
    got = similar_snippets(query, chunks, kind="open-buffer", path_of=lambda u: "a.py")
    assert [s.line for s in got] == [20, 40]
    assert got[0].path == "a.py"
    assert got[0].kind == "open-buffer"
    assert got[0].score > got[1].score


def test_chunks_already_visible_and_repeats_are_dropped():
    shown = "def compute_area(width, height):\n    return width * height\n"
    query = "compute_area(width, height)"
    changed = shown.replace("height\n", "height * 2\n")
    chunks = [chunk(shown), chunk(shown, line=40), chunk(changed, line=60)]
    got = similar_snippets(
        query, chunks, kind="k", path_of=same, visible=visible_lines("x = 1\n" + shown)
    )
    assert [s.line for s in got] == [60]
    got = similar_snippets(query, chunks, kind="k", path_of=same)
    assert [s.line for s in got] == [0, 60]


def test_limit_and_min_score():
    chunks = [chunk(f"alpha beta gamma_{i}", line=i) for i in range(10)]
    got = similar_snippets("alpha beta", chunks, kind="k", path_of=same, limit=3)
    assert len(got) == 3
    assert similar_snippets("zzz", chunks, kind="k", path_of=same) == []


def test_cursor_text_takes_lines_around_the_cursor():
    text = "\n".join(f"l{i}" for i in range(40))
    cursor = text.index("l20") + 1
    assert cursor_text(text, cursor, before=2, after=1).split("\n") == ["l18", "l19", "l20", "l21"]
    assert cursor_text(text, 0, before=2, after=0) == "l0"
    assert cursor_text(text, len(text), before=1, after=3) == "l38\nl39"
    at_line_end = text.index("\nl21")
    assert cursor_text(text, at_line_end, before=0, after=1) == "l20\nl21"
