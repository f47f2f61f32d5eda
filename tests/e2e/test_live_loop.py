"""The live loop through the real server and model: the prompt head holds while the user types,
and an answer's range is for the version it was computed on."""

import asyncio

import pytest
from lsprotocol import types

from tests.conftest import lsp_session, open_doc
from tests.e2e.test_quality import BODY

pytestmark = pytest.mark.model

SHAPES = '''"""Shapes and their measures."""

import math


def area_of_circle(radius: float) -> float:
    return math.pi * radius * radius


def perimeter_of_square(side: float) -> float:
    return 4 * side
'''
MAIN = "from shapes import area_of_circle, perimeter_of_square\n\n\ndef report(r, s):\n    \n"
TYPED = "total = area_of_circle(r) + perimeter_of_square(s)"


def inline(uri: str, line: int, character: int) -> types.InlineCompletionParams:
    return types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri),
        position=types.Position(line, character),
        context=types.InlineCompletionContext(types.InlineCompletionTriggerKind.Automatic),
    )


def key(uri: str, version: int, line: int, character: int, text: str):
    at = types.Position(line, character)
    return types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
        content_changes=[types.TextDocumentContentChangePartial(types.Range(at, at), text)],
    )


async def test_typing_new_names_keeps_the_prompt_head(model_path, tmp_path):
    (tmp_path / "shapes.py").write_text(SHAPES)
    (tmp_path / "main.py").write_text(MAIN)
    uri = (tmp_path / "main.py").as_uri()
    init = {"reportGenerations": True, "precompute": False}
    async with lsp_session(init=init, root=tmp_path) as client:
        open_doc(client, uri, MAIN)
        await client.text_document_inline_completion_async(inline(uri, 4, 4))
        for i, char in enumerate(TYPED):
            client.text_document_did_change(key(uri, i + 2, 4, 4 + i, char))
            await client.text_document_inline_completion_async(inline(uri, 4, 5 + i))
        await asyncio.sleep(0.2)  # the last notification is sent just after its answer
        runs = [g for g in client.tide_generations if g.kind == "request"]
    assert runs[0].cause == "arrival"
    # The names typed make other snippets of shapes.py relevant: they wait for a pause, and
    # every model run while typing re-evaluates only what was typed.
    typing = runs[1:]
    assert typing, "every key was typed through: the test typed nothing the model ran on"
    assert all(run.cause == "typing" for run in typing), typing
    assert all(run.evaluatedTokens <= 16 for run in typing), typing
    assert all(run.reusedTokens >= run.promptTokens - 16 for run in typing), typing


async def test_an_edit_during_a_generation_gets_the_range_of_the_version_it_answers(
    model_path, tmp_path
):
    (tmp_path / "main.py").write_text(MAIN)
    uri = (tmp_path / "main.py").as_uri()
    async with lsp_session(init={"precompute": False}, root=tmp_path) as client:
        open_doc(client, uri, BODY)
        await client.text_document_inline_completion_async(inline(uri, 0, 0))  # the model loads
        # A function body: a generation of several lines, still running when the edit comes.
        pending = asyncio.ensure_future(
            client.text_document_inline_completion_async(inline(uri, 2, 4))
        )
        await asyncio.sleep(0.5)
        # A line added at the top while the model generates: version 2.
        client.text_document_did_change(key(uri, 2, 0, 0, "import os\n"))
        answer = await pending
    assert answer.items
    # Computed on version 1: the suggestion goes on line 2 there, where the cursor was, and
    # the answer's own text is for that version (it does not name the added import).
    for item in answer.items:
        assert item.range.start.line == 2


LONG = "".join(
    f"def scaled_{n}(value: float) -> float:\n    return value * {n} + offset({n})\n\n\n"
    for n in range(40)
)


def long_file(tmp_path, line_text: str) -> tuple[str, str, int]:
    """main.py: a function whose body line is `line_text`, between two long runs of code; its
    text, uri, and that line's number."""
    text = LONG + "def report(r):\n" + line_text + "\n" + LONG
    (tmp_path / "main.py").write_text(text)
    return text, (tmp_path / "main.py").as_uri(), LONG.count("\n") + 1


@pytest.mark.parametrize("arrival_tokens", [128, 0])
async def test_an_arrival_in_a_long_file_answers_on_a_short_window_that_typing_keeps(
    model_path, tmp_path, arrival_tokens
):
    text, uri, line = long_file(tmp_path, "    ")
    init = {"reportGenerations": True, "precompute": False, "arrivalTokens": arrival_tokens}
    async with lsp_session(init=init, root=tmp_path) as client:
        open_doc(client, uri, text)
        await client.text_document_inline_completion_async(inline(uri, line, 4))
        for i, char in enumerate("total = "):
            client.text_document_did_change(key(uri, i + 2, line, 4 + i, char))
            await client.text_document_inline_completion_async(inline(uri, line, 5 + i))
        await asyncio.sleep(0.2)
        runs = [g for g in client.tide_generations if g.kind == "request"]
    arrival, typing = runs[0], runs[1:]
    assert arrival.cause == "arrival"
    if arrival_tokens:
        # The window and the markers: no more than the limit and the path's few tokens.
        assert arrival.promptTokens <= arrival_tokens + 24, arrival
    else:
        assert arrival.promptTokens > 400, arrival  # the whole 512-token window
    assert typing, "every key was typed through: the test typed nothing the model ran on"
    # Either way the head holds while the user types: the short window grows from its start.
    assert all(run.cause == "typing" and run.evaluatedTokens <= 16 for run in typing), typing


async def test_a_short_arrival_is_followed_by_its_whole_prompt_evaluated_before_it_runs(
    model_path, tmp_path
):
    text, uri, line = long_file(tmp_path, "    ")
    init = {"reportGenerations": True, "precompute": False, "arrivalTokens": 128}
    async with lsp_session(init=init, root=tmp_path) as client:
        open_doc(client, uri, text)
        await client.text_document_inline_completion_async(inline(uri, line, 4))
        # The user pauses on arriving: the whole prompt is evaluated, then the request runs
        # again on it.
        for _ in range(2400):
            if any(g.kind == "fuller" for g in client.tide_generations):
                break
            await asyncio.sleep(0.05)
        runs = [g for g in client.tide_generations if g.kind in ("request", "fuller")]
    assert [run.kind for run in runs] == ["request", "fuller"], runs
    request, fuller = runs
    assert request.short and request.promptTokens <= 128 + 24, request
    assert not fuller.short and fuller.promptTokens > 400, fuller
    # Evaluated while the user paused, before the fuller run: it re-evaluates almost nothing.
    assert fuller.evaluatedTokens <= 16 and fuller.cause in ("context", "window"), fuller


async def test_arriving_in_a_comment_evaluates_the_place_for_the_code_below_it(
    model_path, tmp_path
):
    comment = "    # the total of the scaled values"
    text, uri, line = long_file(tmp_path, comment)
    end = len(comment)
    init = {"reportGenerations": True, "precompute": False, "arrivalTokens": 128}
    async with lsp_session(init=init, root=tmp_path) as client:
        open_doc(client, uri, text)
        skipped = await client.text_document_inline_completion_async(inline(uri, line, end))
        assert not skipped.items  # no suggestion inside a comment
        await asyncio.sleep(3)  # the user reads what they wrote: the place is evaluated
        client.text_document_did_change(key(uri, 2, line, end, "\n    "))
        await client.text_document_inline_completion_async(inline(uri, line + 1, 4))
        for _ in range(600):  # an early answer: the run is reported when it ends
            runs = [g for g in client.tide_generations if g.kind == "request"]
            if runs:
                break
            await asyncio.sleep(0.05)
    # The line below the comment is no new place: only the Enter's tokens are evaluated.
    assert len(runs) == 1 and runs[0].cause == "typing", runs
    assert runs[0].evaluatedTokens <= 16 and runs[0].reusedTokens > 100, runs
