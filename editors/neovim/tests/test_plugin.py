"""The plugin in a real headless Neovim 0.11, without the server: loading, registration,
:checkhealth, and the ghost text mechanics (render, type-through, accept whole / word / line,
cycle, dismiss) fed with inline completion items shaped as the server sends them."""

from __future__ import annotations

from conftest import feed, save_result

MISSING = {"cmd": "/nonexistent/tide-lsp", "ghost_text": {"mode": "plugin"}}


def test_setup_registers_server_and_commands(nvim_factory):
    nvim = nvim_factory({**MISSING, "settings": {"maxLines": 3, "model": "qwen2.5-coder-0.5b"}})
    cfg = nvim.exec_lua(
        "local c = vim.lsp.config.tide; return {c.cmd, c.filetypes, c.init_options, c.settings}"
    )
    cmd, filetypes, init_options, settings = cfg
    assert "python" in filetypes
    assert init_options == {"maxLines": 3, "model": "qwen2.5-coder-0.5b"}
    assert settings == {"tide": init_options}
    for command in ("TideFix", "TideToggle", "TideStatus", "TidePullModel", "TideLog"):
        assert nvim.funcs.exists(":" + command) == 2, command
    assert nvim.exec_lua("return vim.fn.hlexists('TideGhostText')") == 1


def test_every_server_setting_is_accepted(nvim_factory):
    settings = {
        "runTests": True,
        "testTimeout": 30,
        "suffixShare": 0.25,
        "crossFileBudget": 0,
        "adapter": "off",
        "precompute": False,
        "unlikelySeverity": "off",
    }
    nvim = nvim_factory({**MISSING, "settings": settings})
    assert nvim.exec_lua("return require('tide').settings") == settings


def test_bad_settings_are_reported_and_dropped(nvim_factory):
    nvim = nvim_factory({**MISSING, "settings": {"maxLines": -1, "bogus": 1, "enable": True}})
    assert nvim.exec_lua("return require('tide').settings") == {"enable": True}
    messages = nvim.exec_lua("return vim.fn.execute('messages')")
    assert "maxLines must be a positive integer" in messages
    assert 'unknown setting "bogus"' in messages


def test_checkhealth_reports_missing_binary(nvim_factory):
    nvim = nvim_factory(MISSING)
    nvim.command("checkhealth tide")
    text = "\n".join(nvim.current.buffer[:])
    save_result("checkhealth-missing-binary.txt", text)
    assert "tide: server binary" in text
    assert "pip install -e ." in text
    assert "tide: model" in text
    assert "tide: state" in text


def _attach_fake(nvim, lines, row, col):
    """A Python buffer whose ghost text engine is attached without a server."""
    nvim.command("enew")
    nvim.command("setlocal filetype=python")
    nvim.current.buffer[:] = lines
    nvim.exec_lua("require('tide')._attach_ghost(vim.api.nvim_get_current_buf(), -1, 'plugin')")
    nvim.current.window.cursor = (row, col)
    feed(nvim, "a" if col > 0 else "i")  # insert mode after the cursor's character


def _show(nvim, items):
    return nvim.exec_lua(
        "return require('tide.inline')._show(vim.api.nvim_get_current_buf(), ...)", {"items": items}
    )


def _marks(nvim):
    return nvim.exec_lua("return require('tide.inline').marks()")


ITEM = {
    "insertText": "return a + b\n\nprint(add(1, 2))",
    "range": {"start": {"line": 1, "character": 4}, "end": {"line": 1, "character": 7}},
}


def test_ghost_text_renders_as_extmarks(nvim_factory):
    nvim = nvim_factory(MISSING)
    _attach_fake(nvim, ["def add(a, b):", "    ret"], 2, 6)
    assert nvim.api.get_mode()["mode"] == "i"
    assert tuple(nvim.current.window.cursor) == (2, 7)
    assert _show(nvim, [ITEM]) is True
    marks = _marks(nvim)
    assert marks == [[1, 7, "urn a + b", [" ", "print(add(1, 2))"]]]


def test_accept_word_line_and_all(nvim_factory):
    nvim = nvim_factory(MISSING)
    _attach_fake(nvim, ["def add(a, b):", "    ret"], 2, 6)
    _show(nvim, [ITEM])
    feed(nvim, "<M-w>")
    assert nvim.current.buffer[:] == ["def add(a, b):", "    return"]
    assert _marks(nvim)[0][2] == " a + b"
    feed(nvim, "<M-l>")
    assert nvim.current.buffer[:] == ["def add(a, b):", "    return a + b"]
    assert _marks(nvim)[0][3] == [" ", "print(add(1, 2))"]
    feed(nvim, "<Tab>")
    assert nvim.current.buffer[:] == ["def add(a, b):", "    return a + b", "", "print(add(1, 2))"]
    assert _marks(nvim) == []
    assert tuple(nvim.current.window.cursor) == (4, len("print(add(1, 2))"))
    assert nvim.api.get_mode()["mode"] == "i"


def test_typing_through_keeps_the_ghost_text(nvim_factory):
    nvim = nvim_factory(MISSING)
    _attach_fake(nvim, ["def add(a, b):", "    ret"], 2, 6)
    _show(nvim, [ITEM])
    feed(nvim, "ur")
    assert nvim.current.buffer[1] == "    retur"
    assert _marks(nvim)[0][2] == "n a + b"
    feed(nvim, "x")
    assert _marks(nvim) == []


def test_cycle_and_dismiss(nvim_factory):
    nvim = nvim_factory(MISSING)
    _attach_fake(nvim, ["def add(a, b):", "    ret"], 2, 6)
    other = {**ITEM, "insertText": "return sum((a, b))"}
    _show(nvim, [ITEM, other])
    assert _marks(nvim)[0][2] == "urn a + b"
    feed(nvim, "<M-]>")
    assert _marks(nvim)[0][2] == "urn sum((a, b))"
    feed(nvim, "<M-]>")
    assert _marks(nvim)[0][2] == "urn a + b"
    feed(nvim, "<M-[>")
    assert _marks(nvim)[0][2] == "urn sum((a, b))"
    feed(nvim, "<C-]>")
    assert _marks(nvim) == []
    assert nvim.current.buffer[:] == ["def add(a, b):", "    ret"]


def test_tab_without_ghost_text_inserts_a_tab(nvim_factory):
    nvim = nvim_factory(MISSING)
    _attach_fake(nvim, ["x = 1"], 1, 4)
    nvim.command("setlocal noexpandtab")
    feed(nvim, "<Tab>")
    assert nvim.current.buffer[0] == "x = 1\t"


def test_snippet_and_replaced_suffix(nvim_factory):
    nvim = nvim_factory(MISSING)
    # The cursor sits before an auto-inserted ")" that the item's range replaces.
    _attach_fake(nvim, ["print()"], 1, 5)
    item = {
        "insertText": {"kind": "snippet", "value": '"${1:hello}")'},
        "range": {"start": {"line": 0, "character": 6}, "end": {"line": 0, "character": 7}},
    }
    _show(nvim, [item])
    assert _marks(nvim)[0][2] == '"hello"'  # the replaced ")" is not drawn twice
    feed(nvim, "<Tab>")
    feed(nvim, "<Esc>")
    assert nvim.current.buffer[:] == ['print("hello")']


def test_pure_helpers(nvim_factory):
    nvim = nvim_factory(MISSING)
    r = nvim.exec_lua(
        """
        local i = require('tide.inline')
        local c = require('tide.config')
        return {
          i.snippet_to_text('foo(${1:x}, ${2:${3:y}})$0'),
          i.next_word('  foo.bar'), i.next_word('.bar'), i.next_word('\\n    x = 1'),
          i.next_line('abc\\ndef'), i.next_line('\\n    def\\nghi'),
          c.format_status({state='ready', model='/m/qwen.gguf', latencyMs=1234}),
          c.format_status({state='downloading', model='q', percent=42}),
          c.format_status({state='ready', model='q', adapter='app (200 steps, rank 8)'}),
          c.enabled_for({enable=true, disabledLanguages={'markdown'}}, 'markdown'),
          c.enabled_for({}, 'python'),
        }
        """
    )
    assert r == [
        "foo(x, y)",
        "  foo",
        ".",
        "\n    x",
        "abc",
        "\n    def",
        "Tide qwen: ready 1.2 s",
        "Tide q: downloading 42%",
        "Tide q +adapter: ready",
        False,
        True,
    ]
