"""Next-edit suggestions as plain data: the region, the edit history, the prompt, the edit."""

from lsp_server.next_edit.edit import (
    MAX_DOCUMENT_BYTES,
    NextEdit,
    applied,
    refusal,
    region_edit,
    rejection,
)
from lsp_server.next_edit.history import EditHistory, Hunk, line_hunk
from lsp_server.next_edit.prompts import (
    DEFAULT_LAYOUT,
    LAYOUTS,
    NextEditRequest,
    build_prompt,
    diff_text,
    layout_for,
    rewrite_from,
)
from lsp_server.next_edit.region import choose_region, region_at
from lsp_server.text.documents import DocumentStore

URI = "file:///w/calc.py"
LAYOUT = layout_for("qwen2.5-coder")


def snapshot_of(text: str, language: str = "python"):
    return DocumentStore().open(URI, language, 1, text)


def numbered(n: int) -> str:
    return "".join(f"x{i} = {i}\n" for i in range(n))


def test_the_region_is_ten_whole_lines_each_side_of_the_last_edit_near_the_cursor() -> None:
    snapshot = snapshot_of(numbered(60))
    region = choose_region(snapshot, cursor_line=30, last_edit_line=25)
    assert (region.first, region.last) == (15, 35)
    assert region.text == snapshot.text[region.start : region.end]
    assert region.text.startswith("x15 = 15") and region.text.endswith("x35 = 35")


def test_an_edit_far_from_the_cursor_leaves_the_region_at_the_cursor() -> None:
    snapshot = snapshot_of(numbered(100))
    region = choose_region(snapshot, cursor_line=80, last_edit_line=5)
    assert (region.first, region.last) == (70, 90)
    assert (choose_region(snapshot, 40, None).first, choose_region(snapshot, 40, None).last) == (
        30,
        50,
    )


def test_the_region_is_clipped_to_the_file() -> None:
    snapshot = snapshot_of(numbered(5))
    region = region_at(snapshot, 2)
    # The empty line after the final line break is left out.
    assert (region.first, region.last, region.start) == (0, 4, 0)
    assert region.text == snapshot.text.removesuffix("\n")
    assert region_at(snapshot_of("only"), 9).text == "only"


def test_a_burst_of_typing_in_one_place_is_one_hunk() -> None:
    history = EditHistory()
    texts = [
        "def f(a):\n    return a\n",
        "def f(ab):\n    return a\n",
        "def f(abc):\n    return a\n",
    ]
    for before, after in zip(texts, texts[1:], strict=False):
        history.record(URI, before, after, 0, 0)
    assert history.recent() == [Hunk(URI, 0, "def f(a):", "def f(abc):")]
    assert history.last_line(URI) == 0


def test_edits_in_two_places_are_two_hunks_oldest_first() -> None:
    history = EditHistory()
    base = numbered(40)
    one = base.replace("x1 = 1", "y1 = 1")
    two = one.replace("x30 = 30", "y30 = 30")
    history.record(URI, base, one, 1, 1)
    history.record(URI, one, two, 30, 30)
    assert history.recent() == [
        Hunk(URI, 1, "x1 = 1", "y1 = 1"),
        Hunk(URI, 30, "x30 = 30", "y30 = 30"),
    ]
    assert history.last_line(URI) == 30
    history.forget(URI)
    assert history.recent() == [] and history.last_line(URI) is None


def test_an_edit_undone_leaves_no_hunk() -> None:
    history = EditHistory()
    history.record(URI, "a\n", "ab\n", 0, 0)
    history.record(URI, "ab\n", "a\n", 0, 0)
    assert history.recent() == []
    assert line_hunk(URI, "a\nb\n", "a\n") == Hunk(URI, 1, "b", "")


def test_the_recent_edits_read_as_a_unified_diff() -> None:
    hunks = [Hunk(URI, 2, "def f(a):", "def f(b):"), Hunk(URI, 9, "", "import os")]
    assert diff_text(hunks, lambda uri: "calc.py") == (
        "--- a/calc.py\n+++ b/calc.py\n@@ -3,1 +3,1 @@\n-def f(a):\n+def f(b):\n"
        "--- a/calc.py\n+++ b/calc.py\n@@ -10,0 +10,1 @@\n+import os"
    )


def chat(system: str, user: str):
    from lsp_server.completion.prompts import Prompt, Segment

    return Prompt(
        (
            Segment(f"<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n", True),
            Segment(user),
            Segment("<|im_end|>\n<|im_start|>assistant\n", True),
        )
    )


def request_for(text: str, cursor_line: int, hunks=()) -> NextEditRequest:
    snapshot = snapshot_of(text)
    region = choose_region(snapshot, cursor_line, None)
    cursor = snapshot.text.index("\n", region.start)
    return NextEditRequest("calc.py", "python", text, region, cursor, hunks, lambda u: "calc.py")


def test_the_prompt_shows_the_edits_the_file_and_the_region_marked() -> None:
    text = numbered(80)
    hunks = [Hunk(URI, 40, "x40 = 40", "y40 = 40")]
    prompt = build_prompt(LAYOUT, request_for(text, 40, hunks), chat, len, 100_000)
    assert prompt is not None
    user = prompt.segments[1].text
    assert not prompt.segments[1].special and "-x40 = 40\n+y40 = 40" in user
    assert f"x29 = 29\n{LAYOUT.region_start}\nx30 = 30{LAYOUT.cursor}\n" in user
    assert f"x50 = 50\n{LAYOUT.region_end}\nx51 = 51" in user
    assert "x0 = 0" in user and "x66 = 66" not in user  # 30 lines above, 15 below at most
    # The reply is begun with the opening marker, so the model starts on the region.
    assert prompt.segments[-1].text == LAYOUT.region_start + "\n"


def test_the_file_around_the_region_shrinks_to_fit_and_the_region_never_does() -> None:
    text = numbered(80)
    full = build_prompt(LAYOUT, request_for(text, 40), chat, len, 100_000)
    small = build_prompt(LAYOUT, request_for(text, 40), chat, len, len(full.text) - 100)
    assert small is not None and len(small.text) <= len(full.text) - 100
    assert "x30 = 30" in small.text and "x50 = 50" in small.text
    assert build_prompt(LAYOUT, request_for(text, 40), chat, len, 50) is None
    assert build_prompt(LAYOUT, request_for(text, 40), lambda s, u: None, len, 10**6) is None


def test_layouts_are_data_per_family() -> None:
    assert LAYOUTS[0].family == "qwen2.5-coder" and layout_for("qwen2.5-coder") is LAYOUTS[0]
    assert layout_for("starcoder2") is DEFAULT_LAYOUT


def test_the_rewrite_is_read_up_to_the_closing_marker() -> None:
    end = LAYOUT.region_end
    assert rewrite_from(f"a = 1\nb = 2\n{end}\nmore", LAYOUT, finished=False) == "a = 1\nb = 2"
    assert rewrite_from(f"a{LAYOUT.cursor} = 1\n", LAYOUT, finished=True) == "a = 1"
    # Cut short, the rewrite would delete the region's end: nothing is read from it.
    assert rewrite_from("a = 1\nb =", LAYOUT, finished=False) is None


def test_the_edit_is_the_minimal_replacement_and_none_when_nothing_changes() -> None:
    snapshot = snapshot_of("def f(a):\n    return a\n\nprint(f(1))\n")
    region = region_at(snapshot, 1)
    edit = region_edit(region, region.text.replace("return a", "return b"))
    assert edit is not None and snapshot.text[edit.start : edit.end] == "a" and edit.text == "b"
    assert region_edit(region, region.text) is None


def test_line_breaks_of_the_region_are_kept() -> None:
    snapshot = snapshot_of("a = 1\r\nb = 2\r\n")
    region = region_at(snapshot, 0)
    edit = region_edit(region, "a = 1\nb = 3")
    assert applied(snapshot.text, edit) == "a = 1\r\nb = 3\r\n"


def test_binary_and_huge_documents_are_refused() -> None:
    assert "binary" in refusal(snapshot_of("a = 1\x00\n"))
    assert "bytes" in refusal(snapshot_of("x" * (MAX_DOCUMENT_BYTES + 1), "plaintext"))
    assert refusal(snapshot_of("a = 1\n")) is None


def test_an_edit_that_adds_a_syntax_error_is_refused() -> None:
    snapshot = snapshot_of("def f(a):\n    return a\n")
    start = snapshot.text.index("a)")
    assert "syntax error" in rejection(
        snapshot, region_at(snapshot, 0), NextEdit(start, start + 1, "a, (")
    )
    assert (
        rejection(snapshot, region_at(snapshot, 0), NextEdit(start, start + 1, "b")) is not None
    )  # b is undefined
    both = snapshot.text.replace("(a)", "(b)").replace("return a", "return b")
    assert (
        rejection(snapshot, region_at(snapshot, 0), NextEdit(0, len(snapshot.text), both)) is None
    )


def test_a_region_that_does_not_parse_gets_only_an_edit_that_makes_it_parse() -> None:
    snapshot = snapshot_of("def f(a:\n    return a\n")
    start = snapshot.text.index("a:")
    assert rejection(snapshot, region_at(snapshot, 0), NextEdit(start, start + 1, "b")) is not None
    assert rejection(snapshot, region_at(snapshot, 0), NextEdit(start + 1, start + 1, ")")) is None


def test_a_closing_markdown_fence_is_no_part_of_the_rewrite() -> None:
    end = LAYOUT.region_end
    assert rewrite_from(f"```python\na = 1\n```\n{end}", LAYOUT, finished=False) == "a = 1"
    assert rewrite_from("a = 1\n```", LAYOUT, finished=True) == "a = 1"


def test_an_edit_that_takes_back_the_latest_edit_is_refused() -> None:
    snapshot = snapshot_of("def f(total):\n    return total\n")
    region = region_at(snapshot, 0)
    latest = Hunk(URI, 0, "def f(a):", "def f(total):")
    back = region_edit(region, "def f(a):\n    return total")
    assert rejection(snapshot, region, back, latest) == "it would take back the edit just made"
    onward = region_edit(region, "def f(total):\n    return total * 2")
    assert rejection(snapshot, region, onward, latest) is None


def test_an_edit_that_removes_most_of_the_region_is_refused() -> None:
    snapshot = snapshot_of(numbered(8))
    region = region_at(snapshot, 3)
    gone = region_edit(region, "x0 = 0")
    assert rejection(snapshot, region, gone) == "it removes most of the lines around the edit"
    one = region_edit(region, region.text.replace("x3 = 3\n", ""))
    assert rejection(snapshot, region, one) is None
