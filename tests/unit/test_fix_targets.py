"""Tests for lsp_server.fix_features.targets: what a code action request asks to fix."""

from lsprotocol import types

from lsp_server.documents import DocumentStore
from lsp_server.fix_features import targets

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
