"""Next-edit suggestions in a real headless Neovim 0.11, against a fake LSP server
(editors/testing/fake_next_edit_lsp.py) that always proposes replacing the last `items` with
`products`, gives ghost text after `ghost`, and records every message it gets: the edit is drawn
as extmarks after typing, didShowInlineEdit is sent, <Tab> jumps to it then applies it, a stale
answer is dropped, ghost text at the cursor wins on its line, :TideNextEdit asks at once.
The stand-in runs under the server's venv Python (it is a pygls server)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import PLUGIN, TIDE_PYTHON, feed, has_pygls, save_result, wait_until

pytestmark = pytest.mark.skipif(
    not has_pygls(), reason=f"{TIDE_PYTHON} has no pygls (make demo builds the venv)"
)

FAKE = PLUGIN.parent / "testing" / "fake_next_edit_lsp.py"
CALC = (
    "def total(product):\n    result = 0\n    for item in products:\n        result += item.price\n"
    "    return result\n\n\ndef count(items):\n    return len(items)\n"
)


def _messages(record: Path) -> list[dict]:
    try:
        return json.loads(record.read_text())["messages"]
    except (OSError, ValueError):
        return []


def _start(nvim_factory, tmp_path, files, next_edit=None):
    record = tmp_path / "record.json"
    ws = tmp_path / "ws"
    (ws / ".git").mkdir(parents=True)
    for name, text in files.items():
        (ws / name).write_text(text)
    nvim = nvim_factory(
        {
            "cmd": [TIDE_PYTHON, str(FAKE), str(record)],
            "ghost_text": {"mode": "plugin"},
            "next_edit": {"debounce_ms": 150, **(next_edit or {})},
        }
    )
    nvim.command(f"cd {ws}")
    return nvim, ws, record


def _open(nvim, name):
    nvim.command(f"edit {name}")
    attached = wait_until(
        lambda: nvim.exec_lua("return #vim.lsp.get_clients({bufnr = 0, name = 'tide'}) > 0"), 30
    )
    assert attached, "the Tide client did not attach"
    uri = nvim.exec_lua("return vim.uri_from_bufnr(0)")
    return uri


def _state(nvim):
    return nvim.exec_lua("return require('tide.next_edit').debug_state()")


def _marks(nvim):
    return nvim.exec_lua("return require('tide.next_edit').marks()")


def _shown(record, uri):
    return [
        m["params"]["item"]
        for m in _messages(record)
        if m["method"] == "textDocument/didShowInlineEdit"
        and m["params"]["item"]["textDocument"]["uri"] == uri
    ]


def _asked(record, uri, min_version=0):
    return [
        m["params"]
        for m in _messages(record)
        if m["method"] == "textDocument/copilotInlineEdit"
        and m["params"]["textDocument"]["uri"] == uri
        and m["params"]["textDocument"]["version"] >= min_version
    ]


def test_edit_is_drawn_reported_then_tab_jumps_and_accepts(nvim_factory, tmp_path):
    nvim, ws, record = _start(nvim_factory, tmp_path, {"calc.py": CALC})
    uri = _open(nvim, "calc.py")
    nvim.current.window.cursor = (1, 16)  # on the "t" of "product"
    feed(nvim, "as")
    assert nvim.current.buffer[0] == "def total(products):"
    assert wait_until(lambda: _state(nvim)["shown"], 15), _state(nvim)
    marks = _marks(nvim)
    save_result("next-edit-marks.json", json.dumps(marks))
    # What goes: `items` on line 9 highlighted; what comes: `products` right after it.
    assert [8, 15, 8, 20, "TideNextEditDelete", "", []] in marks
    assert [8, 20, None, None, None, "products", []] in marks
    # The request: the cursor after the typed "s" and the buffer's version; the report: the edit.
    asked = _asked(record, uri)[-1]
    assert asked["position"] == {"line": 0, "character": 18}
    assert asked["textDocument"]["version"] == _state(nvim)["version"]
    shown = wait_until(lambda: _shown(record, uri), 10)
    assert shown and shown[0]["text"] == "products"
    assert shown[0]["range"] == {
        "start": {"line": 8, "character": 15},
        "end": {"line": 8, "character": 20},
    }

    feed(nvim, "<Tab>")  # far from the edit: jump
    assert tuple(nvim.current.window.cursor) == (9, 15)
    assert nvim.current.buffer[8] == "    return len(items)"
    assert nvim.api.get_mode()["mode"] == "i"
    feed(nvim, "<Tab>")  # on it: accept
    assert (
        nvim.current.buffer[:]
        == CALC.replace("total(product)", "total(products)")
        .replace("len(items)", "len(products)")
        .split("\n")[:-1]
    )
    assert tuple(nvim.current.window.cursor) == (9, 23)
    assert nvim.api.get_mode()["mode"] == "i"

    # The accepted change asks again: now `count(items)` on line 8; <C-]> dismisses it.
    assert wait_until(lambda: _state(nvim)["shown"] and _state(nvim)["edit"]["row"] == 7, 15), (
        _state(nvim)
    )
    before = nvim.current.buffer[:]
    feed(nvim, "<C-]>")
    assert _marks(nvim) == []
    assert nvim.current.buffer[:] == before
    assert _state(nvim)["last"] == "dismissed"
    # With nothing shown, <Tab> is a Tab again.
    nvim.command("setlocal noexpandtab")
    feed(nvim, "<Tab>")
    assert nvim.current.buffer[8] == "    return len(products\t)"


def test_normal_mode_tab_and_escape(nvim_factory, tmp_path):
    nvim, ws, record = _start(nvim_factory, tmp_path, {"calc.py": CALC})
    _open(nvim, "calc.py")
    nvim.current.window.cursor = (1, 16)
    feed(nvim, "as<Esc>")
    assert nvim.api.get_mode()["mode"] == "n"
    assert wait_until(lambda: _state(nvim)["shown"], 15), _state(nvim)
    feed(nvim, "<Tab>")
    assert tuple(nvim.current.window.cursor) == (9, 15)
    feed(nvim, "<Tab>")
    assert nvim.current.buffer[8] == "    return len(products)"
    assert wait_until(lambda: _state(nvim)["shown"], 15), _state(nvim)
    feed(nvim, "<Esc>")
    assert _marks(nvim) == [] and _state(nvim)["last"] == "dismissed"


def test_stale_answer_is_dropped(nvim_factory, tmp_path):
    nvim, ws, record = _start(
        nvim_factory, tmp_path, {"stale.py": "# nextedit: stale\nvalue = 1\nprint(items)\n"}
    )
    uri = _open(nvim, "stale.py")
    nvim.current.window.cursor = (2, 0)
    feed(nvim, "A2")
    assert wait_until(lambda: _asked(record, uri, 1), 15)
    assert wait_until(lambda: str(_state(nvim)["last"]).startswith("stale"), 10), _state(nvim)
    assert "the edit is for version" in _state(nvim)["last"]
    assert _marks(nvim) == []
    assert _shown(record, uri) == []
    assert nvim.exec_lua("return require('tide.next_edit').visible()") is False


def test_ghost_text_wins_on_the_cursor_line(nvim_factory, tmp_path):
    nvim, ws, record = _start(nvim_factory, tmp_path, {"ghost.py": "count = len(items)  # ghos\n"})
    uri = _open(nvim, "ghost.py")
    feed(nvim, "At")
    ghost = wait_until(lambda: nvim.exec_lua("return require('tide.inline').marks()"), 10)
    assert ghost and ghost[0][2] == "_hint = 1", ghost
    assert wait_until(
        lambda: _state(nvim)["last"] == "hidden: ghost text at the cursor wins", 10
    ), _state(nvim)
    assert _marks(nvim) == []
    assert _shown(record, uri) == []
    # <Tab> takes the ghost text; then the edit on that line shows.
    feed(nvim, "<Tab>")
    assert nvim.current.buffer[0] == "count = len(items)  # ghost_hint = 1"
    assert wait_until(lambda: _state(nvim)["shown"], 15), _state(nvim)
    assert [0, 12, 0, 17, "TideNextEditDelete", "", []] in _marks(nvim)
    assert wait_until(lambda: _shown(record, uri), 10)


def test_disabled_then_tide_next_edit_asks_now(nvim_factory, tmp_path):
    nvim, ws, record = _start(nvim_factory, tmp_path, {"calc.py": CALC}, {"enabled": False})
    uri = _open(nvim, "calc.py")
    nvim.current.window.cursor = (1, 16)
    feed(nvim, "as<Esc>")
    # Off, the buffer is not watched: no state, so no timer that could ask.
    assert _state(nvim) is None
    nvim.command("TideNextEdit")
    assert wait_until(lambda: _state(nvim)["shown"], 15), _state(nvim)
    assert [m["position"] for m in _asked(record, uri)] == [{"line": 0, "character": 17}]
    # Asked for once, it stays off: a change asks nothing, the command asks again.
    nvim.current.window.cursor = (5, 0)
    feed(nvim, "A  # total<Esc>")
    nvim.command("TideNextEdit")
    assert wait_until(lambda: len(_asked(record, uri)) >= 2, 15)
    assert [m["position"] for m in _asked(record, uri)] == [
        {"line": 0, "character": 17},
        {"line": 4, "character": 25},
    ]


def test_pure_helpers(nvim_factory, tmp_path):
    nvim, _, _ = _start(nvim_factory, tmp_path, {})
    r = nvim.exec_lua(
        """
        local ne = require('tide.next_edit')
        local e = {text = 'b', textDocument = {uri = 'file:///a.py', version = 4},
                   range = {start = {line = 1, character = 0}, ['end'] = {line = 1, character = 1}}}
        local function pick(...)
          local edit, why = ne.pick(...)
          return {edit and edit.text or false, why}
        end
        local n = {row = 2, end_row = 3}
        return {
          pick({edits = {e}}, 'file:///a.py', 4, 4),
          pick({edits = {e}}, 'file:///a.py', 5, 4),
          pick({edits = {e}}, 'file:///a.py', 5, 5),
          pick({edits = {e}}, 'file:///b.py', 4, 4),
          pick({edits = {}}, 'file:///a.py', 4, 4),
          pick(vim.NIL, 'file:///a.py', 4, 4),
          ne.tab_action(n, 0), ne.tab_action(n, 2), ne.tab_action(n, 3), ne.tab_action(n, 4),
          ne.ghost_wins(n, 2, true), ne.ghost_wins(n, 2, false), ne.ghost_wins(n, 5, true),
        }
        """
    )
    assert r == [
        ["b", "ok"],
        [False, "stale: asked at version 4, the buffer is at 5"],
        [False, "stale: the edit is for version 4, the buffer is at 5"],
        [False, "no edit for this buffer"],
        [False, "no edit"],
        [False, "no edit"],
        "jump",
        "accept",
        "accept",
        "jump",
        True,
        False,
        False,
    ]
