"""Diagnostics and verified quick fixes from the real server and the real model."""

import ast
import asyncio
import json
import subprocess
import sys

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from tests.conftest import ROOT, failing_server, lsp_session, open_doc

pytestmark = pytest.mark.model

IS_EVEN = '''def is_even(n: int) -> bool:
    """Return True when n is even.

    >>> is_even(4)
    True
    >>> is_even(7)
    False
    """
    return n % 2 == 1
'''
BUG_LINE = 8
BROKEN = "def area(w, h):\n    return (w * h\n\nprint(area(2, 3))\n"


async def diagnostics_for(client, uri: str, version: int, publishes: int = 1, timeout=240):
    """The diagnostics of `version` once the server has published them `publishes` times."""
    seen: list[list[types.Diagnostic]] = []

    async def collect():
        while len(seen) < publishes:
            params = await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
            if params.uri == uri and params.version == version:
                seen.append(list(params.diagnostics))

    await asyncio.wait_for(collect(), timeout)
    return seen[-1]


def code_action_params(uri, line, diagnostics=(), end_line=None):
    end = types.Position(end_line if end_line is not None else line, 10**4)
    return types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        range=types.Range(types.Position(line, 0), end),
        context=types.CodeActionContext(diagnostics=list(diagnostics)),
    )


def apply_edit(text: str, edit: types.WorkspaceEdit) -> str:
    lines = text.split("\n")
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line) + 1)
    (change,) = edit.document_changes
    for e in sorted(change.edits, key=lambda e: (e.range.start.line, e.range.start.character))[
        ::-1
    ]:
        a = offsets[e.range.start.line] + e.range.start.character
        b = offsets[e.range.end.line] + e.range.end.character
        text = text[:a] + e.new_text + text[b:]
    return text


async def test_syntax_errors_are_published_with_precise_ranges(model_path):
    uri = "file:///tmp/tide-e2e/broken.py"
    async with lsp_session(init={"unlikelySeverity": "off"}) as client:
        open_doc(client, uri, BROKEN)
        diagnostics = await diagnostics_for(client, uri, 1)
    errors = [d for d in diagnostics if d.severity == types.DiagnosticSeverity.Error]
    assert errors, diagnostics
    assert all(d.source == "tide" for d in errors)
    assert any("never closed" in d.message for d in errors), [d.message for d in errors]
    assert errors[0].range.start.line == 1


async def test_unlikely_line_is_flagged_and_fixed(model_path):
    uri = "file:///tmp/tide-e2e/is_even.py"
    async with lsp_session() as client:
        caps = client.init_result.capabilities
        assert caps.code_action_provider.resolve_provider is True
        open_doc(client, uri, IS_EVEN)
        diagnostics = await diagnostics_for(client, uri, 1, publishes=2)
        flagged = [d for d in diagnostics if d.code == "unlikely"]
        assert [d.range.start.line for d in flagged][:1] == [BUG_LINE], flagged
        assert flagged[0].severity == types.DiagnosticSeverity.Hint

        actions = await client.text_document_code_action_async(
            code_action_params(uri, BUG_LINE, flagged[:1])
        )
        assert len(actions) == 1 and actions[0].edit is None  # the lightbulb does not wait
        assert actions[0].kind == types.CodeActionKind.QuickFix
        resolved = await client.code_action_resolve_async(actions[0])
        assert resolved.edit is not None
        fixed = apply_edit(IS_EVEN, resolved.edit)
        assert fixed != IS_EVEN
        ast.parse(fixed)
        namespace: dict = {}
        exec(compile(fixed, "is_even.py", "exec"), namespace)
        assert namespace["is_even"](4) is True and namespace["is_even"](7) is False

        # Asked again, the verified fixes are listed with the change in their titles.
        again = await client.text_document_code_action_async(
            code_action_params(uri, BUG_LINE, flagged[:1])
        )
        assert again and all(a.edit is not None for a in again)
        assert all(a.title.startswith("Tide: ") for a in again)
        for action in again:
            ast.parse(apply_edit(IS_EVEN, action.edit))


async def test_stale_and_foreign_resolves_are_refused(model_path):
    uri = "file:///tmp/tide-e2e/stale.py"
    async with lsp_session(init={"unlikelySeverity": "off"}) as client:
        open_doc(client, uri, IS_EVEN)
        (action,) = await client.text_document_code_action_async(code_action_params(uri, BUG_LINE))
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
                content_changes=[types.TextDocumentContentChangeWholeDocument(text="x = 1\n")],
            )
        )
        with pytest.raises(JsonRpcException) as stale:
            await client.code_action_resolve_async(action)
        assert "changed since" in str(stale.value)
        foreign = types.CodeAction(title="someone else's", data={"id": 7})
        with pytest.raises(JsonRpcException) as refused:
            await client.code_action_resolve_async(foreign)
        assert "not made by Tide" in str(refused.value)
        # Still serving.
        actions = await client.text_document_code_action_async(code_action_params(uri, 0))
        assert actions


async def test_huge_range_is_bounded(model_path):
    uri = "file:///tmp/tide-e2e/huge.py"
    text = "".join(f"value_{i} = {i}\n" for i in range(5000))
    async with lsp_session(init={"unlikelySeverity": "off"}) as client:
        open_doc(client, uri, text)
        (action,) = await client.text_document_code_action_async(
            code_action_params(uri, 0, end_line=4999)
        )
        assert action.data["last"] - action.data["first"] < 200


async def test_diagnostics_can_be_turned_off(model_path):
    uri = "file:///tmp/tide-e2e/quiet.py"
    async with lsp_session(init={"diagnostics": False}) as client:
        open_doc(client, uri, BROKEN)
        with pytest.raises(asyncio.TimeoutError):
            await diagnostics_for(client, uri, 1, timeout=3)


def fix_command(*args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "lsp_server", "fix", *args]
    run = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert run.returncode == 0, run.stderr
    return run


def test_fix_command_prints_the_lines_diagnostics_and_ranked_fixes(model_path, tmp_path):
    source = tmp_path / "is_even.py"
    source.write_text(IS_EVEN)
    location = f"{source}:{BUG_LINE + 1}"
    report = json.loads(fix_command(location, "--json").stdout)
    assert [(d["line"], d["severity"]) for d in report["diagnostics"]] == [(BUG_LINE + 1, "hint")]
    assert "unlikely" in report["diagnostics"][0]["message"]
    assert report["fixes"], report
    first = report["fixes"][0]
    assert first["title"].startswith("Tide: ")
    assert first["source"] in {"instruct", "infill"}
    assert first["edit"]["start"][0] == BUG_LINE + 1
    # The same report for a person: the diagnostic, then the fixes numbered best first.
    lines = fix_command(location).stdout.splitlines()
    assert lines[0] == f"{location}: hint: {report['diagnostics'][0]['message']}"
    assert lines[1].startswith("1. Tide: ") and "mean logprob" in lines[1]
    assert source.read_text() == IS_EVEN


def test_fix_command_rejects_a_bad_location(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "lsp_server", "fix", "nowhere.py"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert run.returncode != 0
    assert "FILE:LINE" in run.stderr


async def checked_fixes(root, run_tests: bool = True) -> list[types.CodeAction]:
    """The fixes offered for IS_EVEN's bug in `root/calc.py`, by default with the opt-in test
    check on."""
    (root / "calc.py").write_text(IS_EVEN)
    uri = (root / "calc.py").as_uri()
    init = {"runTests": run_tests, "unlikelySeverity": "off"}
    async with lsp_session(init=init, root=root) as client:
        open_doc(client, uri, IS_EVEN)
        (action,) = await client.text_document_code_action_async(code_action_params(uri, BUG_LINE))
        resolved = await client.code_action_resolve_async(action)
        assert resolved.edit is not None
        listed = await client.text_document_code_action_async(code_action_params(uri, BUG_LINE))
    assert (root / "calc.py").read_text() == IS_EVEN
    return listed


def workspace_with_tests(root, marker) -> None:
    """A test of is_even, and a conftest that leaves `marker` behind whenever pytest runs."""
    (root / "test_calc.py").write_text(
        "from calc import is_even\n\n\ndef test_is_even():\n"
        "    assert is_even(4) and not is_even(7)\n"
    )
    (root / "conftest.py").write_text(f"import pathlib\npathlib.Path({str(marker)!r}).touch()\n")


async def test_opted_in_fixes_are_checked_against_the_workspace_tests(model_path, tmp_path):
    marker = tmp_path.parent / f"{tmp_path.name}-pytest-ran"
    workspace_with_tests(tmp_path, marker)
    titles = [a.title for a in await checked_fixes(tmp_path)]
    # Passing fixes come first, and every checked title says what the tests said: the test
    # file's test and the docstring's examples.
    assert titles[0].endswith("(2 tests pass)"), titles
    assert marker.exists()


async def test_without_the_opt_in_no_test_runs(model_path, tmp_path):
    marker = tmp_path.parent / f"{tmp_path.name}-pytest-ran"
    workspace_with_tests(tmp_path, marker)
    titles = [a.title for a in await checked_fixes(tmp_path, run_tests=False)]
    assert titles and not any("pass" in t or "fail" in t for t in titles), titles
    assert not marker.exists()


async def test_an_engine_failing_during_the_search_offers_no_edit_and_says_why(
    model_path, tmp_path
):
    uri = "file:///tmp/tide-e2e/failing.py"
    log = tmp_path / "tide.log"
    init = {"unlikelySeverity": "off"}
    server = failing_server(2)
    async with lsp_session(init=init, server=server, args=("--log-file", str(log))) as client:
        open_doc(client, uri, IS_EVEN)
        (action,) = await client.text_document_code_action_async(code_action_params(uri, BUG_LINE))
        resolved = await client.code_action_resolve_async(action)
        assert resolved.edit is None
        # Said before the answer: pytest-lsp has recorded it by now.
        assert any("no verified fix" in m.message for m in client.messages)
        # Still serving, and the failed search is not remembered: asking again offers a new one.
        (again,) = await client.text_document_code_action_async(code_action_params(uri, BUG_LINE))
        assert again.edit is None and again.title.startswith("Tide: find a fix")
    written = log.read_text()
    assert "fix failed: " in written and "injected engine fault" in written


async def test_opted_in_fixes_are_checked_against_the_docstring_examples(model_path, tmp_path):
    # No test files: IS_EVEN's own examples (`>>> is_even(4)`) are the check.
    listed = await checked_fixes(tmp_path)
    titles = [a.title for a in listed]
    assert titles[0].endswith("(1 test passes)"), titles
    assert "n % 2 == 0" in apply_edit(IS_EVEN, listed[0].edit)
