"""Tests for lsp_server.fix_features.targets: what a code action request asks to fix."""

from lsprotocol import types

from lsp_server.fixes.candidates import MAX_FUNCTION_LINES
from lsp_server.lsp.fix_actions import bounded, targets
from lsp_server.text.documents import DocumentStore

TEXT = "def area(w, h):\n    return w * h\n\n\nprint(area(2, 3)\n"


def diagnostic(line: int, message: str, severity, source: str = "tide") -> types.Diagnostic:
    rng = types.Range(types.Position(line, 0), types.Position(line, 16))
    return types.Diagnostic(range=rng, message=message, severity=severity, source=source)


def params(line: int, diagnostics: list[types.Diagnostic]) -> types.CodeActionParams:
    return types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri="file:///t.py"),
        range=types.Range(types.Position(line, 0), types.Position(line, 0)),
        context=types.CodeActionContext(diagnostics=diagnostics),
    )


def snapshot():
    return DocumentStore().open("file:///t.py", "python", 1, TEXT)


def test_diagnostics_on_the_same_lines_are_one_target_named_by_the_most_severe() -> None:
    hint = diagnostic(4, "unlikely code", types.DiagnosticSeverity.Hint)
    error = diagnostic(4, '"(" was never closed', types.DiagnosticSeverity.Error)
    found = targets(snapshot(), params(4, [hint, error]))
    assert [(t.first_line, t.last_line, t.message) for t in found] == [
        (4, 4, '"(" was never closed')
    ]


def test_diagnostics_on_different_lines_are_targets_in_document_order() -> None:
    later = diagnostic(4, "later", types.DiagnosticSeverity.Error)
    earlier = diagnostic(1, "earlier", types.DiagnosticSeverity.Hint)
    found = targets(snapshot(), params(1, [later, earlier]))
    assert [(t.first_line, t.message) for t in found] == [(1, "earlier"), (4, "later")]


def test_without_tide_diagnostics_the_range_is_the_target_with_the_others_message() -> None:
    other = diagnostic(4, "pyright says no", types.DiagnosticSeverity.Error, source="pyright")
    found = targets(snapshot(), params(4, [other]))
    assert [(t.first_line, t.last_line, t.message) for t in found] == [(4, 4, "pyright says no")]


def test_a_diagnostic_past_the_end_of_the_document_is_no_target() -> None:
    stale = diagnostic(10, "from an older version", types.DiagnosticSeverity.Hint)
    assert targets(snapshot(), params(10, [stale])) == []
    # With the cursor inside the document, its line is the target instead.
    found = targets(snapshot(), params(1, [stale]))
    assert [(t.first_line, t.last_line, t.message) for t in found] == [
        (1, 1, "from an older version")
    ]


def test_ranges_are_bounded_to_the_document_and_to_one_function() -> None:
    assert bounded(0, 3, 5) == (0, 3)
    assert bounded(2, 99, 5) == (2, 4)
    assert bounded(0, 10_000, 100_000) == (0, MAX_FUNCTION_LINES - 1)
    assert bounded(5, 5, 5) is None
    assert bounded(-1, 2, 5) is None
    assert bounded(3, 2, 5) is None
    assert bounded(0, 0, 0) == (0, 0)  # an empty document still has its one line


def test_a_huge_diagnostic_is_bounded_like_a_huge_selection() -> None:
    text = "x = 1\n" * 400
    big = DocumentStore().open("file:///t.py", "python", 1, text)
    rng = types.Range(types.Position(3, 0), types.Position(390, 0))
    huge = types.Diagnostic(range=rng, message="m", source="tide")
    found = targets(big, params(3, [huge]))
    assert [(t.first_line, t.last_line) for t in found] == [(3, 3 + MAX_FUNCTION_LINES - 1)]
