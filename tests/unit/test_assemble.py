"""Tests for lsp_server.context.assemble: choosing snippets in budget, stably, as files."""

from pathlib import Path

import pytest

from lsp_server.completion.prompts import ContextFile, build_prompt, template_for_family
from lsp_server.context.assemble import (
    ContextGatherer,
    ContextRequest,
    as_files,
    choose_snippets,
    relative_path,
)
from lsp_server.context.snippets import RecentEdits, Snippet
from lsp_server.context.workspace import WorkspaceIndex


def snip(path: str, line: int, score: float, text: str | None = None, kind: str = "k") -> Snippet:
    return Snippet(path, text if text is not None else f"{path}:{line}", score, kind, line)


def by_chars(snippet: Snippet) -> int:
    return len(snippet.text)


def count(text: str) -> int:
    return len(text) // 4 + 1


# --- choose_snippets --------------------------------------------------------------------------


def test_best_first_within_budget():
    a, b, c = snip("a", 0, 0.9, "x" * 10), snip("b", 0, 0.8, "y" * 10), snip("c", 0, 0.7, "z" * 5)
    assert choose_snippets([c, b, a], 15, by_chars) == (a, c)
    assert choose_snippets([a], 5, by_chars) == ()


def test_overlapping_contained_and_repeated_text_is_taken_once():
    whole = snip("a.py", 10, 0.5, "def f():\n    return g()\n")
    inner = snip("a.py", 50, 0.9, "    return g()")  # a stale line number, but the same text
    overlapping = snip("a.py", 30, 0.8, "x\ny\nz")
    touching = snip("a.py", 32, 0.7, "z")
    repeated = snip("b.py", 0, 0.4, "x\ny\nz")
    other = snip("b.py", 9, 0.3, "w")
    chosen = choose_snippets([whole, inner, overlapping, touching, repeated, other], 99, by_chars)
    assert chosen == (inner, overlapping, other)
    # Containment counts either way round.
    assert choose_snippets([whole, inner], 99, by_chars) == (inner,)
    assert choose_snippets([inner, snip("a.py", 90, 1.0, "return")], 99, by_chars) == (
        snip("a.py", 90, 1.0, "return"),
    )


def test_the_previous_choice_stands_until_a_material_change():
    a, b, c = snip("a", 0, 0.9), snip("b", 0, 0.8), snip("c", 0, 0.7)
    previous = choose_snippets([a, b, c], 6, by_chars)
    assert previous == (a, b)
    # c now ranks a little better than b: not enough to change what the prompt starts with.
    c2 = snip("c", 0, 0.85)
    assert choose_snippets([a, b, c2], 6, by_chars, previous) == (a, b)
    # c ranks far better: the choice changes.
    c3 = snip("c", 0, 3.0)
    assert choose_snippets([a, b, c3], 6, by_chars, previous) == (c3, a)
    # Something chosen before is gone: the choice changes.
    assert choose_snippets([a, c2], 6, by_chars, previous) == (a, c2)
    # The budget shrank below the previous choice.
    assert choose_snippets([a, b, c2], 3, by_chars, previous) == (a,)


def test_a_kept_choice_carries_the_new_scores():
    a, b = snip("a", 0, 0.9), snip("b", 0, 0.8)
    previous = choose_snippets([a, b], 100, by_chars)
    a2 = snip("a", 0, 0.7)
    assert [s.score for s in choose_snippets([a2, b], 100, by_chars, previous)] == [0.7, 0.8]


# --- as_files ---------------------------------------------------------------------------------


def test_files_are_ordered_by_path_and_snippets_by_line():
    files = as_files(
        [
            snip("z.py", 0, 1.0, "def z(): pass"),
            snip("a.py", 30, 0.9, "def late(): pass\n"),
            snip("a.py", 0, 0.1, "def early(): pass"),
            snip("a.py", 3, 0.5, "def near(): pass"),
            snip("b.ts", 40, 0.5, "const b = 1;"),
            snip("b.ts", 0, 0.5, "const a = 1;"),
            snip("c.txt", 0, 0.5, "x"),
            snip("c.txt", 9, 0.5, "y"),
        ]
    )
    assert files == [
        ContextFile("a.py", "def early(): pass\n\ndef near(): pass\n# ...\ndef late(): pass"),
        ContextFile("b.ts", "const a = 1;\n// ...\nconst b = 1;"),
        ContextFile("c.txt", "x\n...\ny"),
        ContextFile("z.py", "def z(): pass"),
    ]
    assert as_files([]) == []


def test_relative_path(tmp_path):
    assert relative_path((tmp_path / "a" / "b.py").as_uri(), tmp_path) == "a/b.py"
    assert relative_path("file:///elsewhere/b.py", tmp_path) is None
    assert relative_path("untitled:Untitled-1", tmp_path) is None
    assert relative_path((tmp_path / "b.py").as_uri(), None) is None


# --- gather_context ---------------------------------------------------------------------------

GEOMETRY = '''import math


def area(radius: float) -> float:
    """Area of a circle."""
    return math.pi * radius * radius


def perimeter(radius: float) -> float:
    return 2 * math.pi * radius
'''

MAIN = """from .geometry import area


def report(radius):
    total = area(radius)
    return total
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "shapes").mkdir()
    (tmp_path / "shapes" / "__init__.py").write_text("")
    (tmp_path / "shapes" / "geometry.py").write_text(GEOMETRY)
    (tmp_path / "shapes" / "main.py").write_text(MAIN)
    return tmp_path


def request_for(root: Path, text: str, cursor: int, **kw) -> ContextRequest:
    uri = (root / "shapes" / "main.py").as_uri()
    return ContextRequest(uri, text, cursor, visible=text, **kw)


def test_context_for_a_relative_import_holds_the_definition(project):
    gatherer = ContextGatherer(WorkspaceIndex(project))
    cursor = MAIN.index("(radius)\n    return")
    files = gatherer.gather_context(request_for(project, MAIN, cursor), 500, count)
    assert [f.path for f in files] == ["shapes/geometry.py"]
    assert "def area(" in files[0].text
    assert "def perimeter(" not in files[0].text


def test_the_prompt_shows_the_definition_before_the_fim_block(project):
    gatherer = ContextGatherer(WorkspaceIndex(project))
    cursor = MAIN.index("(radius)\n    return")
    files = gatherer.gather_context(request_for(project, MAIN, cursor), 500, count)
    qwen = template_for_family("qwen2.5-coder")
    prompt = build_prompt(
        qwen, MAIN[:cursor], MAIN[cursor:], files=files, path="shapes/main.py", repo="project"
    )
    assert prompt.text.index("def area(") < prompt.text.index("<|fim_prefix|>")


def test_no_budget_no_context(project):
    gatherer = ContextGatherer(WorkspaceIndex(project))
    assert gatherer.gather_context(request_for(project, MAIN, 10), 0, count) == []
    assert gatherer.gather_context(request_for(project, MAIN, 10), 3, count) == []


def test_without_a_workspace_buffers_and_edits_still_count(tmp_path):
    other = "def compute_total(items):\n    return sum(item.price for item in items)\n"
    current = "def report(items):\n    total = compute_total(items)\n"
    edits = RecentEdits()
    edits.record(
        "file:///x/recent.py", "def recent_total(items): return compute_total(items)", 0, 0
    )
    gatherer = ContextGatherer(None, edits)
    request = ContextRequest(
        "file:///x/current.py",
        current,
        len(current),
        visible=current,
        open_buffers=(("file:///x/current.py", current), ("file:///x/other.py", other)),
    )
    files = gatherer.gather_context(request, 500, count)
    assert [f.path for f in files] == ["other.py", "recent.py"]
    kinds = {s.kind for s in gatherer.candidates(request)}
    assert kinds == {"open-buffer", "recent-edit"}


def test_the_choice_is_stable_across_small_cursor_moves(project):
    text = "from .geometry import area, perimeter\n\n\ny = area(1)\nz = perimeter(2)\n"
    on_area = text.index("(1)")
    on_perimeter = text.index("(2)")

    def gather(gatherer: ContextGatherer, cursor: int) -> list[ContextFile]:
        # The budget holds one definition, not both.
        return gatherer.gather_context(request_for(project, text, cursor), 40, count)

    gatherer = ContextGatherer(WorkspaceIndex(project), hysteresis=0.4)
    first = gather(gatherer, on_area)
    assert "def area(" in first[0].text
    # Alone, the cursor on the next line would choose the other definition...
    fresh = gather(ContextGatherer(WorkspaceIndex(project), hysteresis=0.4), on_perimeter)
    assert "def perimeter(" in fresh[0].text
    # ...but one line is not a material change for the gatherer that chose before.
    assert gather(gatherer, on_perimeter) == first
    gatherer.forget(request_for(project, text, 0).uri)
    assert gather(gatherer, on_perimeter) == fresh


def test_token_counts_are_cached(project):
    calls: list[str] = []

    def counting(text: str) -> int:
        calls.append(text)
        return count(text)

    gatherer = ContextGatherer(WorkspaceIndex(project))
    cursor = MAIN.index("(radius)\n    return")
    gatherer.gather_context(request_for(project, MAIN, cursor), 500, counting)
    seen = len(calls)
    gatherer.gather_context(request_for(project, MAIN, cursor), 500, counting)
    assert len(calls) == seen


def test_path_of_names_outside_files_by_file_name(project):
    gatherer = ContextGatherer(WorkspaceIndex(project))
    assert gatherer.path_of((project / "shapes" / "main.py").as_uri()) == "shapes/main.py"
    assert gatherer.path_of("file:///elsewhere/x.py") == "x.py"
    assert gatherer.path_of("untitled:Untitled-1") == "Untitled-1"
