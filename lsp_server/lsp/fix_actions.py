"""The LSP face of diagnostics and quick fixes: conversions and thin handlers.

`textDocument/codeAction` answers at once: fixes already found for this document version are
listed with titles that show the change; otherwise one "find a fix" action is offered whose
`codeAction/resolve` runs the model. Every edit is pinned to the document version it was
computed for.
"""

import logging
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams

from ..errors import TideError
from ..fixes.candidates import MAX_FUNCTION_LINES, Fix, FixTarget
from ..fixes.problems import Problem
from ..runtime.scheduler import Superseded
from ..text.documents import Snapshot
from .ranges import lsp_range

if TYPE_CHECKING:
    from .server import TideServer

log = logging.getLogger(__name__)

SOURCE = "tide"
_SEVERITY = {
    "error": types.DiagnosticSeverity.Error,
    "warning": types.DiagnosticSeverity.Warning,
    "information": types.DiagnosticSeverity.Information,
    "hint": types.DiagnosticSeverity.Hint,
}


class ContentModified(JsonRpcException):
    """LSP's answer for a request about a document version that no longer exists."""

    CODE = -32801


def to_diagnostic(server: "TideServer", snapshot: Snapshot, problem: Problem) -> types.Diagnostic:
    return types.Diagnostic(
        range=lsp_range(snapshot, problem.start, problem.end),
        message=problem.message,
        severity=_SEVERITY.get(problem.severity, types.DiagnosticSeverity.Hint),
        source=SOURCE,
        code=problem.code,
        data=problem.data,
    )


def publish(server: "TideServer", snapshot: Snapshot, problems: list[Problem]) -> None:
    diagnostics = [to_diagnostic(server, snapshot, p) for p in problems]
    server.text_document_publish_diagnostics(
        types.PublishDiagnosticsParams(snapshot.uri, diagnostics, snapshot.version)
    )


def _lines(rng: types.Range) -> tuple[int, int]:
    last = rng.end.line
    # A range ending at the start of a line does not include that line.
    if last > rng.start.line and rng.end.character == 0:
        last -= 1
    return rng.start.line, last


def bounded(first: int, last: int, line_count: int) -> tuple[int, int] | None:
    """The lines of the document in [first, last], at most one function's worth (a huge range
    is cut, so the model never sees more); None when the range starts past the document."""
    last_line = max(line_count - 1, 0)
    if not 0 <= first <= last_line or last < first:
        return None
    return first, min(last, last_line, first + MAX_FUNCTION_LINES - 1)


def targets(snapshot: Snapshot, params: types.CodeActionParams) -> list[FixTarget]:
    """What the user asks to fix: Tide's diagnostics in the range, else the range's lines."""
    found: list[FixTarget] = []
    # One target per span of lines: a syntax error and an unlikely-code hint on the same line
    # are one thing to fix (and one action, so a client can apply it without asking). The most
    # severe diagnostic's message describes it.
    ours = sorted(
        (d for d in params.context.diagnostics if d.source == SOURCE),
        key=lambda d: d.severity or types.DiagnosticSeverity.Hint,
    )
    for diagnostic in ours:
        # A diagnostic from an older version may lie past the document's end now.
        lines = bounded(*_lines(diagnostic.range), snapshot.line_count)
        if lines is not None and all((t.first_line, t.last_line) != lines for t in found):
            found.append(FixTarget(snapshot, *lines, diagnostic.message))
    found.sort(key=lambda t: t.first_line)
    if not found:
        lines = bounded(*_lines(params.range), snapshot.line_count)
        if lines is None:
            return []
        others = [d.message for d in params.context.diagnostics]
        found.append(FixTarget(snapshot, *lines, others[0] if others else ""))
    return found


def _line_label(target: FixTarget) -> str:
    if target.first_line == target.last_line:
        return f"line {target.first_line + 1}"
    return f"lines {target.first_line + 1}-{target.last_line + 1}"


def _data(target: FixTarget, index: int | None = None) -> dict[str, Any]:
    data = {
        "uri": target.snapshot.uri,
        "version": target.snapshot.version,
        "first": target.first_line,
        "last": target.last_line,
        "message": target.message,
    }
    if index is not None:
        data["index"] = index
    return data


def _refuse_if_changed(snapshot: Snapshot, version: Any) -> None:
    if snapshot.version != version:
        raise ContentModified(
            f"the document changed since this fix was offered (version {version}, "
            f"now {snapshot.version}); ask for fixes again"
        )


def workspace_edit(server: "TideServer", snapshot: Snapshot, fix: Fix) -> types.WorkspaceEdit:
    edit = types.TextEdit(lsp_range(snapshot, fix.start, fix.end), fix.text)
    document = types.OptionalVersionedTextDocumentIdentifier(snapshot.uri, snapshot.version)
    return types.WorkspaceEdit(document_changes=[types.TextDocumentEdit(document, [edit])])


def code_action(ls: "TideServer", params: types.CodeActionParams) -> list[types.CodeAction]:
    only = params.context.only
    if only and not any(str(kind).startswith("quickfix") for kind in only):
        return []
    snapshot = ls.snapshot(params.text_document.uri)
    actions: list[types.CodeAction] = []
    for target in targets(snapshot, params):
        cached = ls.fixes.cached_fixes(snapshot, target.first_line, target.last_line)
        diagnostics = [d for d in params.context.diagnostics if d.source == SOURCE]
        if cached is None:
            actions.append(
                types.CodeAction(
                    title=f"Tide: find a fix for {_line_label(target)}",
                    kind=types.CodeActionKind.QuickFix,
                    diagnostics=diagnostics or None,
                    data=_data(target),
                )
            )
            continue
        for index, fix in enumerate(cached):
            actions.append(
                types.CodeAction(
                    title=fix.title,
                    kind=types.CodeActionKind.QuickFix,
                    diagnostics=diagnostics or None,
                    is_preferred=index == 0,
                    edit=workspace_edit(ls, snapshot, fix),
                )
            )
    return actions


async def code_action_resolve(ls: "TideServer", action: types.CodeAction) -> types.CodeAction:
    data = action.data
    if not isinstance(data, dict) or not {"uri", "version", "first", "last"} <= set(data):
        raise JsonRpcInvalidParams("this code action was not made by Tide")
    uri = str(data["uri"])
    snapshot = ls.snapshot(uri)
    _refuse_if_changed(snapshot, data["version"])
    first, last = int(data["first"]), int(data["last"])
    lines = bounded(first, last, snapshot.line_count)
    if lines is None:
        raise JsonRpcInvalidParams(f"lines {first}-{last} are outside the document")
    target = FixTarget(snapshot, *lines, str(data.get("message") or ""))
    try:
        found = await ls.fixes.fixes(target, ls.settings)
    except Superseded:
        # Another fix search on this document took the model's turn: this one is answered
        # without an edit rather than with an error.
        ls.tell(
            f"the fix search for {_line_label(target)} was replaced by a newer one",
            types.MessageType.Info,
        )
        return action
    except TideError as exc:
        log.warning("no fix for %s %s: %s", snapshot.uri, _line_label(target), exc)
        found = []
    # The search takes seconds: an edit made meanwhile makes its fixes stale.
    _refuse_if_changed(ls.snapshot(uri), snapshot.version)
    index = int(data.get("index", 0))
    if index >= len(found):
        ls.tell(f"no verified fix found for {_line_label(target)}", types.MessageType.Info)
        return action
    fix = found[index]
    action.edit = workspace_edit(ls, snapshot, fix)
    log.info("fix for %s %s: %s (%s)", snapshot.uri, _line_label(target), fix.title, fix.source)
    return action
