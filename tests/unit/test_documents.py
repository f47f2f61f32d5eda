"""Tests for lsp_server.documents: position conversion, incremental edits, and their trees."""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lsprotocol.types import PositionEncodingKind

from lsp_server.errors import DocumentError
from lsp_server.text.documents import Change, DocumentStore, Encoding, Pos, Snapshot
from lsp_server.text.languages import parser_for
from lsp_server.text.line_index import utf8

URI = "file:///work/example.py"
LINE_BREAK = re.compile(r"\r\n|\r|\n")


def open_doc(text: str, encoding: Encoding = "utf-16", language_id: str = "python") -> Snapshot:
    return DocumentStore(encoding).open(URI, language_id, 1, text)


def node_records(node) -> list[tuple]:
    records = [(node.type, node.start_byte, node.end_byte, node.start_point, node.end_point)]
    for child in node.children:
        records += node_records(child)
    return records


def assert_tree_is_fresh(snapshot: Snapshot) -> None:
    """The incrementally updated tree is the tree a fresh parse of the text gives."""
    assert snapshot.tree is not None and snapshot.language is not None
    fresh = parser_for(snapshot.language).parse(utf8(snapshot.text))
    assert str(snapshot.tree.root_node) == str(fresh.root_node)
    assert node_records(snapshot.tree.root_node) == node_records(fresh.root_node)


def assert_lines_are_right(snapshot: Snapshot) -> None:
    """Every line's text, start offset and start byte agree with a plain split of the text."""
    text = snapshot.text
    lines = LINE_BREAK.split(text)
    starts = [0, *(m.end() for m in LINE_BREAK.finditer(text))]
    assert snapshot.line_count == len(lines)
    for line, (content, start) in enumerate(zip(lines, starts, strict=True)):
        assert snapshot.line_text(line) == content
        assert snapshot.offset_at(Pos(line, 0)) == start
        assert snapshot.byte_offset(start) == len(utf8(text[:start]))
        assert snapshot.pos_at(start) == Pos(line, 0)


# Position conversion


@pytest.mark.parametrize(
    ("encoding", "after_emoji", "end"),
    [("utf-16", 3, 4), ("utf-8", 5, 6), ("utf-32", 2, 3)],
)
def test_surrogate_pair_counts_per_encoding(encoding: Encoding, after_emoji: int, end: int) -> None:
    doc = open_doc("a😀b", encoding)
    assert doc.offset_at(Pos(0, after_emoji)) == 2
    assert doc.pos_at(2) == Pos(0, after_emoji)
    assert doc.pos_at(3) == Pos(0, end)
    assert doc.byte_offset(2) == 5


def test_position_inside_a_surrogate_pair_means_its_start() -> None:
    doc = open_doc("a😀b")
    assert doc.offset_at(Pos(0, 2)) == 1


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-32"])
def test_lone_surrogates_are_characters_of_their_own(encoding: Encoding) -> None:
    doc = open_doc("a\udfffb\ud800c", encoding)
    width = 3 if encoding == "utf-8" else 1
    for offset, units in enumerate([0, 1, 1 + width, 2 + width, 2 + 2 * width, 3 + 2 * width]):
        assert doc.pos_at(offset) == Pos(0, units)
        assert doc.offset_at(Pos(0, units)) == offset


def test_utf8_multibyte_characters() -> None:
    doc = open_doc("é中😀x", "utf-8")
    assert [doc.offset_at(Pos(0, n)) for n in (0, 2, 5, 9, 10)] == [0, 1, 2, 3, 4]
    assert [doc.pos_at(n) for n in range(5)] == [Pos(0, n) for n in (0, 2, 5, 9, 10)]
    assert [doc.byte_offset(n) for n in range(5)] == [0, 2, 5, 9, 10]
    # Inside a multibyte sequence means the start of that character.
    assert doc.offset_at(Pos(0, 1)) == 0
    assert doc.offset_at(Pos(0, 4)) == 1
    assert doc.offset_at(Pos(0, 8)) == 2


def test_utf16_counts_bmp_characters_as_one_unit() -> None:
    doc = open_doc("中文x = 1\n")
    assert doc.offset_at(Pos(0, 2)) == 2
    assert doc.byte_offset(2) == 6


@pytest.mark.parametrize(
    ("text", "lines"),
    [
        ("a\r\nb\r\nc", ["a", "b", "c"]),
        ("a\rb\rc", ["a", "b", "c"]),
        ("a\nb\r\nc\rd\n", ["a", "b", "c", "d", ""]),
        ("\r\n\r\n", ["", "", ""]),
        ("\n\r", ["", "", ""]),
        ("", [""]),
    ],
)
def test_line_endings(text: str, lines: list[str]) -> None:
    doc = open_doc(text)
    assert [doc.line_text(n) for n in range(doc.line_count)] == lines
    assert_lines_are_right(doc)


@pytest.mark.parametrize("separator", ["\f", "\u2028", "\u2029", "\x0b", "\x1c", "\x85"])
def test_only_cr_and_lf_end_lines(separator: str) -> None:
    doc = open_doc(f"a{separator}b\nc")
    assert doc.line_count == 2
    assert doc.line_text(0) == f"a{separator}b"
    assert doc.offset_at(Pos(1, 0)) == 4
    assert doc.pos_at(4) == Pos(1, 0)


def test_mixed_endings_convert_both_ways() -> None:
    text = "one\r\ntwo\rthree\nfour"
    doc = open_doc(text)
    for offset in range(len(text) + 1):
        pos = doc.pos_at(offset)
        if text[offset - 1 : offset + 1] == "\r\n":
            # Between "\r" and "\n" is still the end of the line.
            assert pos == Pos(0, 3)
        else:
            assert doc.offset_at(pos) == offset


def test_character_past_the_line_end_means_the_end() -> None:
    doc = open_doc("ab\r\ncd")
    assert doc.offset_at(Pos(0, 99)) == 2
    assert doc.offset_at(Pos(1, 99)) == 6
    assert open_doc("é\n", "utf-8").offset_at(Pos(0, 99)) == 1


def test_line_past_the_end_raises_with_line_and_count() -> None:
    doc = open_doc("a\nb\n")
    with pytest.raises(DocumentError, match=r"line 3 .* 3 lines"):
        doc.offset_at(Pos(3, 0))
    with pytest.raises(DocumentError, match="line 7"):
        doc.line_text(7)


@pytest.mark.parametrize("pos", [Pos(-1, 0), Pos(0, -1)])
def test_negative_position_raises(pos: Pos) -> None:
    with pytest.raises(DocumentError, match="negative"):
        open_doc("abc").offset_at(pos)


@pytest.mark.parametrize("offset", [-1, 4])
def test_offset_outside_the_text_raises(offset: int) -> None:
    doc = open_doc("abc")
    with pytest.raises(DocumentError, match="outside"):
        doc.pos_at(offset)
    with pytest.raises(DocumentError, match="outside"):
        doc.byte_offset(offset)


def test_snapshot_built_from_plain_data_works() -> None:
    doc = Snapshot("file:///x.txt", 3, "plaintext", "a\r\nb", None, None, "utf-8")
    assert doc.offset_at(Pos(1, 1)) == 4
    assert doc.node_at(0) is None


# Incremental changes


def test_change_sequence_keeps_the_tree_fresh() -> None:
    store = DocumentStore()
    store.open(URI, "python", 1, "def f(x):\n    return x\n")
    steps = [
        (
            Change("    y = x * 2\n", Pos(1, 0), Pos(1, 0)),
            "def f(x):\n    y = x * 2\n    return x\n",
        ),
        (Change("", Pos(0, 6), Pos(0, 7)), "def f():\n    y = x * 2\n    return x\n"),
        (Change("a, b", Pos(0, 6), Pos(0, 6)), "def f(a, b):\n    y = x * 2\n    return x\n"),
        (Change("pass\n", Pos(1, 4), Pos(2, 12)), "def f(a, b):\n    pass\n\n"),
        (Change("class C:\n    x = 1\n"), "class C:\n    x = 1\n"),
        (Change("😀", Pos(1, 8), Pos(1, 9)), "class C:\n    x = 😀\n"),
        (Change("'", Pos(1, 10), Pos(1, 10)), "class C:\n    x = 😀'\n"),
    ]
    for version, (change, expected) in enumerate(steps, start=2):
        doc = store.change(URI, version, [change])
        assert doc.text == expected
        assert doc.version == version
        assert_tree_is_fresh(doc)
        assert_lines_are_right(doc)


def test_several_changes_apply_in_order() -> None:
    store = DocumentStore()
    store.open(URI, "python", 1, "a = 1\nb = 2\n")
    doc = store.change(
        URI,
        2,
        [
            Change("x", Pos(0, 0), Pos(0, 1)),
            Change("\nc = 3", Pos(1, 5), Pos(1, 5)),
            Change("y", Pos(2, 0), Pos(2, 1)),
        ],
    )
    assert doc.text == "x = 1\nb = 2\ny = 3\n"
    assert_tree_is_fresh(doc)


def test_whole_document_replace_then_ranged_edit() -> None:
    store = DocumentStore()
    store.open(URI, "python", 1, "old = 1\n")
    doc = store.change(URI, 2, [Change("new = 2\n"), Change("3", Pos(0, 6), Pos(0, 7))])
    assert doc.text == "new = 3\n"
    assert_tree_is_fresh(doc)


@pytest.mark.parametrize(
    ("text", "change", "expected_lines"),
    [
        ("a\rb", Change("\n", Pos(1, 0), Pos(1, 0)), ["a", "b"]),
        ("a\r\nb", Change("", Pos(0, 1), Pos(1, 0)), ["ab"]),
        ("a\rx\nb", Change("", Pos(1, 0), Pos(1, 1)), ["a", "b"]),
        ("a\r\nb", Change("\r", Pos(0, 1), Pos(0, 1)), ["a", "", "b"]),
        ("a\nb", Change("\r", Pos(0, 1), Pos(0, 1)), ["a", "b"]),
        ("a\r\r\nb", Change("", Pos(1, 0), Pos(2, 0)), ["a", "b"]),
        ("a\r\r\nb", Change("", Pos(0, 1), Pos(1, 0)), ["a", "b"]),
        ("ab", Change("\r\n\r", Pos(0, 1), Pos(0, 1)), ["a", "", "b"]),
        ("a\r", Change("\n", Pos(1, 0), Pos(1, 0)), ["a", ""]),
    ],
)
def test_edits_that_join_or_split_line_endings(
    text: str, change: Change, expected_lines: list[str]
) -> None:
    store = DocumentStore()
    store.open(URI, "python", 1, text)
    doc = store.change(URI, 2, [change])
    assert [doc.line_text(n) for n in range(doc.line_count)] == expected_lines
    assert_lines_are_right(doc)
    assert_tree_is_fresh(doc)


def test_edit_on_a_line_after_a_lone_cr_keeps_tree_points_right() -> None:
    store = DocumentStore()
    store.open(URI, "javascript", 1, "a;\rb;\r\nc;\n")
    doc = store.change(URI, 2, [Change("bb", Pos(1, 0), Pos(1, 1))])
    assert doc.text == "a;\rbb;\r\nc;\n"
    assert_tree_is_fresh(doc)


def test_non_ascii_edit_patches_byte_offsets() -> None:
    store = DocumentStore()
    store.open(URI, "python", 1, "x = 1\ny = 2\nz = 3\n")
    doc = store.change(URI, 2, [Change("'é😀'", Pos(0, 4), Pos(0, 5))])
    assert doc.byte_offset(doc.offset_at(Pos(2, 0))) == len(utf8("x = 'é😀'\ny = 2\n"))
    assert_lines_are_right(doc)
    doc = store.change(URI, 3, [Change("1", Pos(0, 4), Pos(0, 9))])
    assert doc.text == "x = 1\ny = 2\nz = 3\n"
    assert_lines_are_right(doc)
    assert_tree_is_fresh(doc)


def test_change_uses_the_store_encoding() -> None:
    store = DocumentStore("utf-8")
    store.open(URI, "python", 1, "s = 'é'\n")
    doc = store.change(URI, 2, [Change("e", Pos(0, 5), Pos(0, 7))])
    assert doc.text == "s = 'e'\n"


@pytest.mark.parametrize(
    "bad",
    [
        Change("x", Pos(5, 0), Pos(5, 0)),
        Change("x", Pos(0, -1), Pos(0, 0)),
        Change("x", Pos(1, 0), Pos(0, 0)),
        Change("x", Pos(0, 0), None),
    ],
)
def test_invalid_change_leaves_the_document_as_it_was(bad: Change) -> None:
    store = DocumentStore()
    before = store.open(URI, "python", 1, "a = 1\nb = 2\n")
    records = node_records(before.tree.root_node)
    with pytest.raises(DocumentError):
        store.change(URI, 2, [Change("c", Pos(0, 0), Pos(0, 1)), bad])
    assert store.get(URI) is before
    assert before.text == "a = 1\nb = 2\n"
    assert node_records(before.tree.root_node) == records


def test_old_snapshot_keeps_its_own_tree() -> None:
    store = DocumentStore()
    before = store.open(URI, "python", 1, "a = 1\n")
    records = node_records(before.tree.root_node)
    after = store.change(URI, 2, [Change("xyz = ", Pos(0, 0), Pos(0, 0))])
    assert node_records(before.tree.root_node) == records
    assert after.tree is not before.tree
    assert before.line_text(0) == "a = 1"
    assert before.version == 1


def test_document_grows_past_the_parse_limit_and_back() -> None:
    store = DocumentStore(max_parse_bytes=20)
    store.open(URI, "python", 1, "x = 1\n")
    big = store.change(URI, 2, [Change("y = 'a long string'\n", Pos(1, 0), Pos(1, 0))])
    assert big.tree is None
    assert big.node_at(0) is None
    assert big.offset_at(Pos(1, 3)) == 9
    small = store.change(URI, 3, [Change("", Pos(1, 0), Pos(2, 0))])
    assert_tree_is_fresh(small)


def test_multibyte_text_over_the_limit_in_bytes_gets_no_tree() -> None:
    store = DocumentStore(max_parse_bytes=12)
    assert store.open(URI, "python", 1, "s = '中文'").tree is not None
    assert store.open(URI, "python", 1, "s = '中文中'").tree is None


# Large, binary and plain-text documents


def test_ten_megabyte_document() -> None:
    line = "    total = compute(alpha, béta) + other  # commént 😀\r\n"
    text = line * (10_000_000 // len(line))
    store = DocumentStore()
    doc = store.open(URI, "python", 1, text)
    assert doc.tree is None
    last = doc.line_count - 2
    offset = doc.offset_at(Pos(last, 54))
    assert text[offset - 1] == "😀"
    assert doc.pos_at(offset) == Pos(last, 54)
    assert doc.byte_offset(offset) == len(utf8(text[:offset]))
    doc = store.change(URI, 2, [Change("x", Pos(1, 4), Pos(1, 9))])
    assert doc.line_text(1) == "    x = compute(alpha, béta) + other  # commént 😀"
    assert doc.line_text(last) == line.rstrip("\r\n")
    assert doc.offset_at(Pos(last + 1, 0)) == len(doc.text)
    assert doc.byte_offset(len(doc.text)) == len(utf8(doc.text))


def test_binary_content_does_not_break_anything() -> None:
    text = "\x00\x01\x7f\xff\ufffe\ud800 \udfff\x1b[0m\r\x00\n"
    store = DocumentStore()
    doc = store.open(URI, "python", 1, text)
    assert_lines_are_right(doc)
    assert doc.byte_offset(len(text)) == len(utf8(text))
    assert doc.pos_at(6) == Pos(0, 6)
    doc.node_at(5)
    doc = store.change(URI, 2, [Change("\x00\ud801", Pos(0, 5), Pos(0, 7))])
    assert doc.text == "\x00\x01\x7f\xff\ufffe\x00\ud801\udfff\x1b[0m\r\x00\n"
    assert_lines_are_right(doc)
    assert_tree_is_fresh(doc)


def test_unknown_language_is_plain_text() -> None:
    store = DocumentStore()
    store.open("file:///notes.txt", "plaintext", 1, "héllo\r\nworld")
    doc = store.change("file:///notes.txt", 2, [Change("W", Pos(1, 0), Pos(1, 1))])
    assert doc.language is None
    assert doc.tree is None
    assert doc.node_at(3) is None
    assert doc.text == "héllo\r\nWorld"
    assert doc.offset_at(Pos(1, 2)) == 9
    assert_lines_are_right(doc)


def test_language_comes_from_the_uri_when_the_id_is_unknown() -> None:
    doc = DocumentStore().open("file:///main.go", "golang-custom", 1, "package main\n")
    assert doc.language is not None
    assert doc.language.id == "go"
    assert doc.language_id == "golang-custom"


# Nodes


def test_node_at_prefers_the_word_just_typed() -> None:
    doc = open_doc("foo(bar)\n")
    node = doc.node_at(3)
    assert node is not None and node.text == b"foo"
    node = doc.node_at(4)
    assert node is not None and node.text == b"bar"
    node = doc.node_at(7)
    assert node is not None and node.text == b"bar"


def test_node_at_start_of_a_line_finds_the_word_that_follows() -> None:
    doc = open_doc("x = 1\nfoo\n")
    node = doc.node_at(6)
    assert node is not None and node.text == b"foo"


def test_node_at_uses_bytes_after_multibyte_text() -> None:
    doc = open_doc("s = '😀'; name\n")
    node = doc.node_at(12)
    assert node is not None and node.text == b"name"


def test_node_at_document_edges() -> None:
    doc = open_doc("")
    node = doc.node_at(0)
    assert node is not None and node.type == "module"
    doc = open_doc("x")
    node = doc.node_at(1)
    assert node is not None and node.text == b"x"


# The store


def test_store_bookkeeping() -> None:
    store = DocumentStore()
    store.open(URI, "python", 4, "x = 1\n")
    assert URI in store
    assert store.uris() == [URI]
    assert store.get(URI).version == 4
    store.close(URI)
    assert URI not in store
    store.close(URI)
    with pytest.raises(DocumentError, match=f"document not open: {URI}"):
        store.get(URI)
    with pytest.raises(DocumentError, match="document not open"):
        store.change(URI, 5, [Change("y")])


def test_encoding_negotiated_after_open_applies_to_snapshots() -> None:
    store = DocumentStore()
    store.open(URI, "python", 1, "é = 1\n")
    store.encoding = PositionEncodingKind.Utf8
    assert store.encoding == "utf-8"
    doc = store.get(URI)
    assert doc.encoding == "utf-8"
    assert doc.pos_at(1) == Pos(0, 2)


def test_unknown_encoding_is_refused() -> None:
    with pytest.raises(ValueError, match="utf-7"):
        DocumentStore("utf-7")  # type: ignore[arg-type]


# Random edits

FRAGMENTS = [
    "def f(x):\n",
    "    return x\n",
    "class C:\n",
    "if a:\n",
    "    pass\n",
    "x = [1, 2]\n",
    "'s'",
    '"""',
    "(",
    ")",
    ":",
    "#",
    " ",
    "    ",
    "\n",
    "\r\n",
    "\r",
    "é",
    "中",
    "😀",
    "\x00",
    "\ud800",
    "\f",
    "\u2028",
    "y",
]
pieces = st.lists(st.sampled_from(FRAGMENTS), max_size=12).map("".join)


# A batch is one didChange: (where, length, insert), where picks the start in whatever text the
# previous change left.
batches = st.lists(
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 12), pieces), min_size=1, max_size=3),
    min_size=1,
    max_size=4,
)


def ts_point(text: str, offset: int) -> tuple[int, int]:
    """tree-sitter's (row, byte column) of an offset, worked out the slow, obvious way."""
    before = text[:offset]
    return before.count("\n"), len(utf8(before.rpartition("\n")[2]))


def reference_tree_edit(text: str, start: int, end: int, insert: str) -> tuple:
    new_text = text[:start] + insert + text[end:]
    return (
        len(utf8(text[:start])),
        len(utf8(text[:end])),
        len(utf8(text[:start] + insert)),
        ts_point(text, start),
        ts_point(text, end),
        ts_point(new_text, start + len(insert)),
    )


@settings(max_examples=300, deadline=None)
@given(
    language_id=st.sampled_from(["python", "javascript", "rust"]),
    start_text=pieces,
    batches=batches,
    encoding=st.sampled_from(["utf-8", "utf-16", "utf-32"]),
)
def test_random_edits_keep_the_tree_right(
    language_id: str,
    start_text: str,
    batches: list[list[tuple[int, int, str]]],
    encoding: Encoding,
) -> None:
    store = DocumentStore(encoding)
    doc = store.open(URI, language_id, 0, start_text)
    text = start_text
    for version, batch in enumerate(batches, start=1):
        assert doc.tree is not None and doc.language is not None
        expected_tree = doc.tree.copy()
        changes = []
        for where, length, insert in batch:
            reference = Snapshot(URI, 0, language_id, text, None, None, encoding)
            start_pos = reference.pos_at(where % (len(text) + 1))
            end_pos = reference.pos_at(min(len(text), where % (len(text) + 1) + length))
            start, end = reference.offset_at(start_pos), reference.offset_at(end_pos)
            changes.append(Change(insert, start_pos, end_pos))
            expected_tree.edit(*reference_tree_edit(text, start, end, insert))
            text = text[:start] + insert + text[end:]
        expected_tree = parser_for(doc.language).parse(utf8(text), expected_tree)
        doc = store.change(URI, version, changes)
        assert doc.text == text
        assert_lines_are_right(doc)
        assert doc.tree is not None
        assert node_records(doc.tree.root_node) == node_records(expected_tree.root_node)
        # tree-sitter's error recovery can depend on the edit history (seen with 0.26), so
        # only error-free text must come out exactly as a fresh parse.
        if not parser_for(doc.language).parse(utf8(text)).root_node.has_error:
            assert_tree_is_fresh(doc)
