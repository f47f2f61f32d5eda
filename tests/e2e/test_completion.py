"""The real server, the real model, driven as VS Code and Neovim drive it."""

import asyncio

import pytest
from lsprotocol import types

from tests.conftest import apply_item, inline, lsp_session, open_doc

pytestmark = pytest.mark.model

MATH = """def add(a, b):
    return a + b


def subtract(a, b):
    return a - b


def multiply(a, b):
    return a
"""
URI = "file:///tmp/tide-e2e/ops.py"


@pytest.mark.parametrize("client_name", ["visual-studio-code", "neovim"])
async def test_initialize_advertises_completion_features(client_name, model_path):
    async with lsp_session(client_name) as client:
        caps = client.init_result.capabilities
        assert caps.inline_completion_provider is not None
        assert caps.completion_provider is not None
        sync = caps.text_document_sync
        assert sync.change == types.TextDocumentSyncKind.Incremental
        # VS Code offers only UTF-16; Neovim prefers UTF-8 and gets it.
        expected = "utf-16" if client_name == "visual-studio-code" else "utf-8"
        assert caps.position_encoding == expected


@pytest.mark.parametrize("client_name", ["visual-studio-code", "neovim"])
async def test_inline_completion_finishes_the_line(client_name, model_path):
    async with lsp_session(client_name) as client:
        open_doc(client, URI, MATH)
        result = await inline(client, URI, 9, len("    return a"))
        assert len(result.items) == 1
        item = result.items[0]
        after = apply_item(MATH, item)
        # The model completes multiply's body from the pattern of the two functions above.
        assert after.split("\n")[9].replace(" ", "") == "returna*b"
        assert "<|" not in item.insert_text


def _typed(uri: str, version: int, line: int, character: int, text: str):
    return types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
        content_changes=[
            types.TextDocumentContentChangePartial(
                range=types.Range(types.Position(line, character), types.Position(line, character)),
                text=text,
            )
        ],
    )


async def test_incremental_changes_are_what_the_model_sees(model_path):
    source = MATH.replace("    return a\n", "    return \n")
    async with lsp_session() as client:
        open_doc(client, URI, source)
        # Type "a *" one key at a time, as an editor sends it, then complete the line.
        column = len("    return ")
        for version, key in enumerate("a *", start=2):
            client.text_document_did_change(_typed(URI, version, 9, column, key))
            column += 1
        typed = source.replace("    return \n", "    return a *\n")
        result = await inline(client, URI, 9, column)
        assert len(result.items) == 1
        line = apply_item(typed, result.items[0]).split("\n")[9]
        assert line.replace(" ", "") == "returna*b"


async def test_completion_with_text_after_the_cursor(model_path):
    source = "def greet(name):\n    print(f'Hello, {name}!')\n\n\ngreet()\n"
    async with lsp_session() as client:
        open_doc(client, URI, source)
        result = await inline(client, URI, 4, len("greet("))
        for item in result.items:
            after = apply_item(source, item)
            assert after.split("\n")[4].startswith("greet(")
            compile(after, "greet.py", "exec")  # the accepted line is valid Python


ACCOUNT = (
    "export type Account = {\n    id: string;\n    name: string;\n    \n    email: string;\n};\n"
)


async def test_a_line_start_whose_first_line_repeats_the_next_gets_the_next_best(model_path):
    # The model's first choice here is `email: string;`, the line below, which the cuts throw
    # away: the user waiting after Enter gets the model's next-best line instead of nothing.
    uri = "file:///tmp/tide-e2e/account.ts"
    async with lsp_session(init={"answerWithinMs": 0}) as client:
        open_doc(client, uri, ACCOUNT, "typescript")
        result = await inline(client, uri, 3, 4)
        assert len(result.items) == 1
        line = apply_item(ACCOUNT, result.items[0]).split("\n")[3].strip()
        assert line.endswith(": string;")
        assert not line.startswith(("email", "id", "name"))


async def test_completion_request_returns_one_item_with_an_exact_edit(model_path):
    async with lsp_session("neovim") as client:
        open_doc(client, URI, MATH)
        result = await client.text_document_completion_async(
            types.CompletionParams(
                text_document=types.TextDocumentIdentifier(uri=URI),
                position=types.Position(9, len("    return a")),
            )
        )
        assert result.is_incomplete is True
        assert len(result.items) == 1
        edit = result.items[0].text_edit
        assert edit.range.start == types.Position(9, len("    return "))
        assert edit.new_text.replace(" ", "") == "a*b"


async def test_mid_word_completion_replaces_the_word(model_path):
    source = "import os\n\n\ndef cwd():\n    return os.getc\n"
    async with lsp_session() as client:
        open_doc(client, URI, source)
        result = await inline(client, URI, 4, len("    return os.getc"))
        assert len(result.items) == 1
        item = result.items[0]
        assert item.range.start.character == len("    return os.")
        line = apply_item(source, item).split("\n")[4]
        assert line.startswith("    return os.getcwd")


async def test_cancel_request_gets_an_answer_and_the_server_goes_on(model_path):
    async with lsp_session() as client:
        open_doc(client, URI, MATH)
        params = types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=URI),
            position=types.Position(9, len("    return a")),
            context=types.InlineCompletionContext(
                trigger_kind=types.InlineCompletionTriggerKind.Invoked
            ),
        )
        pending = client.protocol.send_request_async(
            types.TEXT_DOCUMENT_INLINE_COMPLETION, params, msg_id="to-cancel"
        )
        client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id="to-cancel"))
        try:
            outcome = await asyncio.wait_for(pending, 60)
        except Exception as exc:  # noqa: BLE001 - the error response is the expected outcome
            outcome = exc
        # Either the request was cancelled (-32800) or it had already finished.
        assert isinstance(outcome, types.InlineCompletionList) or "cancel" in str(outcome).lower()
        result = await inline(client, URI, 9, len("    return a"))
        assert len(result.items) == 1


async def test_newest_request_wins(model_path):
    async with lsp_session() as client:
        open_doc(client, URI, MATH)
        first = asyncio.ensure_future(inline(client, URI, 9, len("    return a")))
        await asyncio.sleep(0.05)
        second = asyncio.ensure_future(inline(client, URI, 9, len("    return a")))
        old, new = await asyncio.gather(first, second)
        assert not old.items  # superseded: answered at once, empty
        assert len(new.items) == 1


async def test_status_notifications_report_ready(model_path):
    async with lsp_session() as client:
        open_doc(client, URI, MATH)
        await inline(client, URI, 9, len("    return a"))  # returns once the model is loaded
        states = [s.state for s in client.tide_statuses]
        assert states[0] == "loading" and "ready" in states
        ready = [s for s in client.tide_statuses if s.state == "ready"][-1]
        assert "qwen" in ready.model.lower()
        assert client.tide_statuses[-1].latencyMs > 0


async def test_shutdown_then_exit_ends_the_process(model_path):
    async with lsp_session() as client:
        open_doc(client, URI, MATH)
    assert client._server.returncode == 0


async def test_typing_through_a_suggestion_keeps_it(model_path):
    async with lsp_session() as client:
        open_doc(client, URI, MATH)
        first = await inline(client, URI, 9, len("    return a"))
        assert len(first.items) == 1
        shown = apply_item(MATH, first.items[0]).split("\n")[9]
        # Type the suggestion's first character; the rest is still offered.
        column = len("    return a")
        key = shown[column]
        client.text_document_did_change(_typed(URI, 2, 9, column, key))
        typed = MATH.replace("    return a\n", f"    return a{key}\n")
        second = await inline(client, URI, 9, column + 1)
        assert len(second.items) == 1
        assert apply_item(typed, second.items[0]).split("\n")[9] == shown
