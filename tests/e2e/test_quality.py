"""Completion quality rules through the real server: when to complete, how much, token
healing, alternatives, and other files' definitions in the prompt."""

import ast
import re

import pytest
from lsprotocol import types

from tests.conftest import apply_item, inline, lsp_session, open_doc

pytestmark = pytest.mark.model


async def ask(client, uri: str, line: int, character: int, invoked: bool = False):
    kind = (
        types.InlineCompletionTriggerKind.Invoked
        if invoked
        else types.InlineCompletionTriggerKind.Automatic
    )
    return await client.text_document_inline_completion_async(
        types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=line, character=character),
            context=types.InlineCompletionContext(trigger_kind=kind),
        )
    )


def apply_multiline(text: str, item: types.InlineCompletionItem) -> str:
    lines = text.split("\n")
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line) + 1)
    r = item.range
    a = offsets[r.start.line] + r.start.character
    b = offsets[r.end.line] + r.end.character
    return text[:a] + item.insert_text + text[b:]


BODY = 'def fibonacci(n: int) -> int:\n    """Return the n-th Fibonacci number."""\n    \n'


async def test_a_block_opener_gets_a_multi_line_body_that_parses(model_path):
    uri = "file:///tmp/tide-e2e/fib.py"
    # The whole body: where the prompt is quick, answerWithinMs would hand over its start.
    async with lsp_session(init={"answerWithinMs": 0}) as client:
        open_doc(client, uri, BODY)
        result = await inline(client, uri, 2, 4)
        assert result.items
        item = result.items[0]
        assert item.insert_text.count("\n") >= 1, item.insert_text
        after = apply_multiline(BODY, item)
        ast.parse(after)
        assert "return" in after


NAMES = 'message = "hello world"\n# say hello to the world\nprint(message)\n'


async def test_no_completion_mid_word_or_inside_strings_and_comments(model_path):
    uri = "file:///tmp/tide-e2e/names.py"
    async with lsp_session() as client:
        open_doc(client, uri, NAMES)
        mid_word = await inline(client, uri, 2, len("pri"))
        assert not mid_word.items
        in_string = await inline(client, uri, 0, len('message = "hel'))
        assert not in_string.items
        in_comment = await inline(client, uri, 1, len("# say hel"))
        assert not in_comment.items
        # Asked for explicitly, a comment does get a suggestion.
        invoked = await ask(client, uri, 1, len("# say hello to the world"), invoked=True)
        assert invoked.items


HEAL = "import os\n\nfor name in os.listdir('.'):\n    pri\n"
HEAL_DOT = "import os\n\n\ndef absolute(name):\n    return os.path.\n"


@pytest.mark.parametrize(
    ("text", "line", "typed", "starts", "doubled"),
    [
        # A partial word, and punctuation just typed: each re-typed once from a token boundary.
        (HEAL, 3, "    pri", r"    print\(", ("pripri", "printprint")),
        (HEAL_DOT, 4, "    return os.path.", r"    return os\.path\.[a-z]", ("..",)),
    ],
)
async def test_token_healing_completes_what_was_typed_without_doubling_it(
    model_path, text, line, typed, starts, doubled
):
    uri = "file:///tmp/tide-e2e/heal.py"
    async with lsp_session() as client:
        open_doc(client, uri, text)
        result = await inline(client, uri, line, len(typed))
        assert result.items
        completed = apply_item(text, result.items[0]).split("\n")[line]
        assert re.match(starts, completed), completed
        assert not any(d in completed for d in doubled), completed


CANDIDATES = "import os\n\n\ndef list_python_files(path):\n    return \n"


async def test_an_explicit_request_gets_ranked_alternatives(model_path):
    uri = "file:///tmp/tide-e2e/greet.py"
    # The automatic request after it must wait for the whole greedy answer, not show what is
    # ready by answerWithinMs: this compares the two answers.
    async with lsp_session(init={"candidates": 4, "answerWithinMs": 0}) as client:
        open_doc(client, uri, CANDIDATES)
        result = await ask(client, uri, 4, len("    return "), invoked=True)
        texts = [item.insert_text for item in result.items]
        assert len(texts) >= 2, texts
        assert len(set(texts)) == len(texts)
        for item in result.items:
            ast.parse(apply_item(CANDIDATES, item))
        automatic = await inline(client, uri, 4, len("    return "))
        assert len(automatic.items) == 1
        # The greedy answer, the one shown as you type, leads the alternatives.
        assert automatic.items[0].insert_text == texts[0]


async def test_plain_text_of_an_unknown_language_still_completes(model_path):
    uri = "file:///tmp/tide-e2e/notes.unknownlang"
    text = "1, 2, 3, 4, 5, 6, 7, 8, "
    async with lsp_session() as client:
        open_doc(client, uri, text, language="unknownlang")
        result = await inline(client, uri, 0, len(text))
        assert result.items
        assert result.items[0].insert_text.strip()


async def test_a_definition_from_an_imported_workspace_file_reaches_the_prompt(
    model_path, tmp_path
):
    (tmp_path / "shapes.py").write_text(
        "def trapezoid_surface(top_edge, bottom_edge, height):\n"
        '    """Area of a trapezoid."""\n'
        "    return (top_edge + bottom_edge) * height / 2\n"
    )
    # A star import: the name appears nowhere in main.py, only in shapes.py.
    main = "from shapes import *\n\nsurface = trap"
    (tmp_path / "main.py").write_text(main)
    uri = (tmp_path / "main.py").as_uri()
    async with lsp_session(root=tmp_path) as client:
        open_doc(client, uri, main)
        result = await inline(client, uri, 2, len("surface = trap"))
        assert result.items
        line = apply_item(main, result.items[0]).split("\n")[2]
        assert line.startswith("surface = trapezoid_surface("), line
