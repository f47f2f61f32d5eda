"""Next-edit suggestions through the real server and model, with the exact messages that
copilot-language-server's Neovim clients send: copilot-lsp's request is
`make_position_params(0, "utf-16")` plus `textDocument.version`; sidekick.nvim's adds
`context = {triggerKind = 2}`; copilot-lsp answers a shown edit with
`didShowInlineEdit {item = {command = edit.command}}`.
"""

from pathlib import Path

import pytest
import tree_sitter
import tree_sitter_python

from tests.rawlsp import RawServer

pytestmark = pytest.mark.model

URI = Path("/tmp/tide-next-edit/calc.py").as_uri()
BEFORE = (
    "def total(items):\n"
    "    result = 0\n"
    "    for item in items:\n"
    "        result += item.price\n"
    "    return result\n"
    "\n"
    "\n"
    "def count(items):\n"
    "    return len(items)\n"
)
# The user has just renamed the parameter `items` to `products`.
CHANGE = {"range": {"start": {"line": 0, "character": 10}, "end": {"line": 0, "character": 15}}}
NEW_NAME = "products"
AFTER = BEFORE.replace("def total(items)", "def total(products)")
TIMEOUT = 600


def applied(text: str, edit: dict) -> str:
    """The text with one edit applied (ASCII text, so UTF-16 units are characters)."""
    lines = text.split("\n")

    def offset(position: dict) -> int:
        return sum(len(line) + 1 for line in lines[: position["line"]]) + position["character"]

    start, end = offset(edit["range"]["start"]), offset(edit["range"]["end"])
    return text[:start] + edit["text"] + text[end:]


def parses(text: str) -> bool:
    parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_python.language()))
    return not parser.parse(text.encode()).root_node.has_error


def opened(server: RawServer, uri: str, text: str) -> None:
    document = {"uri": uri, "languageId": "python", "version": 1, "text": text}
    server.send({"method": "textDocument/didOpen", "params": {"textDocument": document}})


def test_copilot_clients_get_edits_that_apply_and_parse(model_path):
    server = RawServer()
    server.initialize()
    opened(server, URI, BEFORE)
    server.send(
        {
            "method": "textDocument/didChange",
            "params": {
                "textDocument": {"uri": URI, "version": 2},
                "contentChanges": [{**CHANGE, "text": NEW_NAME}],
            },
        }
    )
    copilot_lsp = {
        "textDocument": {"uri": URI, "version": 2},
        "position": {"line": 0, "character": 18},
    }
    sidekick = {**copilot_lsp, "context": {"triggerKind": 2}}
    offered = 0
    for id_, params in ((1, copilot_lsp), (2, sidekick)):
        reply = server.request(id_, "textDocument/copilotInlineEdit", params, timeout=TIMEOUT)
        assert set(reply) >= {"result"}, reply
        edits = reply["result"]["edits"]
        assert isinstance(edits, list) and len(edits) <= 1
        for edit in edits:
            assert set(edit) >= {"text", "textDocument", "range"}
            assert edit["textDocument"] == {"uri": URI, "version": 2}
            after = applied(AFTER, edit)
            assert after != AFTER and parses(after), after
            compile(after, "calc.py", "exec")
            offered += 1
        shown = {"item": {"command": edits[0].get("command")}} if edits else {"item": {}}
        server.send({"method": "textDocument/didShowInlineEdit", "params": shown})

    # Greedy decoding of this prompt offers an edit (what it is, the model decides): without
    # one, nothing above checked that an offered edit applies.
    assert offered, "no edit was offered"

    # The document changed since version 1: refused as quick fixes are.
    stale = {**copilot_lsp, "textDocument": {"uri": URI, "version": 1}}
    reply = server.request(3, "textDocument/copilotInlineEdit", stale, timeout=TIMEOUT)
    assert reply["error"]["code"] == -32801, reply

    binary = Path("/tmp/tide-next-edit/blob.py").as_uri()
    opened(server, binary, "data = 1\x00\n")
    params = {
        "textDocument": {"uri": binary, "version": 1},
        "position": {"line": 0, "character": 0},
    }
    reply = server.request(4, "textDocument/copilotInlineEdit", params, timeout=TIMEOUT)
    assert reply["result"] == {"edits": []}, reply

    for id_, bad in (
        (5, {"textDocument": {"uri": URI, "version": 2}}),
        (6, {**copilot_lsp, "textDocument": {"uri": "file:///nowhere.py", "version": 1}}),
        (7, {**copilot_lsp, "position": {"line": -1, "character": 0}}),
    ):
        reply = server.request(id_, "textDocument/copilotInlineEdit", bad, timeout=TIMEOUT)
        assert reply["error"]["code"] == -32602, reply
    assert all(len(server.responses_to(i)) == 1 for i in range(1, 8))
    assert server.close() == 0
