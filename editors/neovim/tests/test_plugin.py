"""The plugin in a real headless Neovim 0.11, without the server: loading, registration,
:checkhealth, and the ghost text mechanics (render, type-through, accept whole / word / line,
cycle, dismiss) fed with inline completion items shaped as the server sends them."""

from __future__ import annotations

import json
import sys
import textwrap

from conftest import feed, save_result, wait_until

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
        "serverTimeout": 2.5,
        "serverCaFile": "/etc/team/ca.pem",
    }
    nvim = nvim_factory({**MISSING, "settings": settings})
    assert nvim.exec_lua("return require('tide').settings") == settings
    assert "unknown setting" not in nvim.exec_lua("return vim.fn.execute('messages')")


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


READY = """
local inline = require('tide.inline')
local asked = {}
inline.request = function(bufnr, kind) asked[#asked + 1] = kind end
vim.lsp.get_client_by_id = function(id)
  return id == -1 and { offset_encoding = 'utf-16' } or nil
end
local bufnr = vim.api.nvim_get_current_buf()
local version = vim.lsp.util.buf_versions[bufnr] or vim.b[bufnr].changedtick
local here = vim.lsp.util.make_position_params(0, 'utf-16').position
local function ready(v, character)
  inline.on_ready({
    textDocument = { uri = vim.uri_from_bufnr(bufnr), version = v },
    position = { line = here.line, character = character },
  }, -1)
end
ready(version - 1, here.character)  -- typed since
ready(version, here.character + 1)  -- moved since
ready(version, here.character)      -- still there
inline.on_ready({ textDocument = 'junk' }, -1)
return asked
"""


def test_a_ready_notice_asks_again_only_where_the_user_still_is(nvim_factory):
    nvim = nvim_factory(MISSING)
    _attach_fake(nvim, ["def add(a, b):", "    ret"], 2, 6)
    # Once, automatic (2): the stale version and the moved cursor ask nothing.
    assert nvim.exec_lua(READY) == [2]


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


# A stand-in for tide-lsp: records the environment variables named on its command line and every
# message it gets (answering initialize and shutdown), so a test sees what reached the process.
FAKE_SERVER = textwrap.dedent(
    """
    import json, os, sys

    out, names = sys.argv[1], sys.argv[2].split(",")
    seen = {"env": {n: os.environ.get(n) for n in names}, "messages": []}

    def read():
        headers = {}
        while True:
            line = sys.stdin.buffer.readline()
            if not line:
                return None
            line = line.strip()
            if not line:
                break
            k, v = line.decode().split(":", 1)
            headers[k.strip().lower()] = v.strip()
        return json.loads(sys.stdin.buffer.read(int(headers["content-length"])))

    def send(msg):
        body = json.dumps({"jsonrpc": "2.0", **msg}).encode()
        sys.stdout.buffer.write(b"Content-Length: %d\\r\\n\\r\\n" % len(body) + body)
        sys.stdout.buffer.flush()

    def save():
        with open(out + ".tmp", "w") as f:
            json.dump(seen, f)
        os.replace(out + ".tmp", out)

    save()
    while (msg := read()) is not None:
        seen["messages"].append({"method": msg.get("method"), "params": msg.get("params")})
        save()
        if msg.get("method") == "initialize":
            send({"id": msg["id"], "result": {"capabilities": {}}})
        elif msg.get("method") == "shutdown":
            send({"id": msg["id"], "result": None})
        elif msg.get("method") == "exit":
            break
    """
)
ENV_NAMES = "TIDE_API_KEY,TIDE_TEST_EXTRA,TIDE_TEST_INHERITED"


def _fake_server(tmp_path):
    script = tmp_path / "fake_tide_lsp.py"
    script.write_text(FAKE_SERVER)
    out = tmp_path / "seen.json"
    ws = tmp_path / "ws"
    (ws / ".git").mkdir(parents=True)
    (ws / "a.py").write_text("x = 1\n")
    return [sys.executable, str(script), str(out), ENV_NAMES], out, ws


def _seen(out, method=None, timeout=30):
    def ready():
        if not out.exists():
            return None
        seen = json.loads(out.read_text())
        if method and not any(m["method"] == method for m in seen["messages"]):
            return None
        return seen

    seen = wait_until(ready, timeout)
    assert seen, f"the server process recorded no {method or 'start'} in {timeout} s"
    return seen


def _open(nvim, ws):
    nvim.command(f"cd {ws}")
    nvim.command("edit a.py")


def test_cmd_env_reaches_the_server_process_and_no_key_is_shown(
    nvim_factory, tmp_path, monkeypatch
):
    cmd, out, ws = _fake_server(tmp_path)
    monkeypatch.setenv("TIDE_API_KEY", "from-neovims-env")
    monkeypatch.setenv("TIDE_TEST_INHERITED", "kept")
    key, settings_key = "sk-from-cmd-env-8f3a", "sk-in-settings-51c2"
    nvim = nvim_factory(
        {
            "cmd": cmd,
            "cmd_env": {"TIDE_API_KEY": key, "TIDE_TEST_EXTRA": 12},
            "ghost_text": {"mode": "plugin"},
            "settings": {
                "model": "http://127.0.0.1:9/",
                "apiKey": settings_key,
                "serverTimeout": 2.5,
                "serverCaFile": "/etc/team/ca.pem",
                "bogus": settings_key,
            },
        }
    )
    _open(nvim, ws)
    seen = _seen(out, "initialized")
    # cmd_env over Neovim's environment, the rest of which the server inherits.
    assert seen["env"] == {
        "TIDE_API_KEY": key,
        "TIDE_TEST_EXTRA": "12",
        "TIDE_TEST_INHERITED": "kept",
    }
    init = next(m for m in seen["messages"] if m["method"] == "initialize")["params"]
    assert init["initializationOptions"] == {
        "model": "http://127.0.0.1:9/",
        "apiKey": settings_key,
        "serverTimeout": 2.5,
        "serverCaFile": "/etc/team/ca.pem",
    }
    # Neovim's own didChangeConfiguration after `initialized` carries the client's settings, which
    # leave the key out (the server merges, so it keeps the one it has); a change through the
    # plugin sends every setting, the key too.
    assert nvim.exec_lua("return require('tide').set('serverTimeout', 3)") is True

    def changed():
        seen = json.loads(out.read_text())
        return [
            m["params"]["settings"]["tide"]
            for m in seen["messages"]
            if m["method"] == "workspace/didChangeConfiguration"
            and m["params"]["settings"]["tide"].get("serverTimeout") == 3
        ]

    change = wait_until(changed, 30)
    assert change, "no didChangeConfiguration with the new serverTimeout"
    assert change[-1]["apiKey"] == settings_key
    assert change[-1]["serverCaFile"] == "/etc/team/ca.pem"
    assert nvim.exec_lua("return require('tide').set('serverTimeout', 0)") is False

    # Nothing the plugin shows, nor Neovim's own :checkhealth vim.lsp, holds either key.
    shown = [
        nvim.exec_lua("return vim.inspect(vim.lsp.config.tide)"),
        nvim.exec_lua("return vim.inspect(vim.lsp.get_clients({name='tide'})[1].settings)"),
        nvim.exec_lua("return vim.fn.execute('TideStatus')"),
    ]
    for health in ("tide", "vim.lsp"):
        nvim.command(f"checkhealth {health}")
        shown.append("\n".join(nvim.current.buffer[:]))
        nvim.command("bwipeout")
    shown.append(nvim.exec_lua("return vim.fn.execute('messages')"))
    text = "\n".join(shown)
    save_result("team-server-shown.txt", text)
    assert key not in text and settings_key not in text
    assert "team server API key: from settings.apiKey" in text
    assert 'unknown setting "bogus"' in text
    assert "serverTimeout must be a positive number" in text


def test_neovims_tide_api_key_passes_through(nvim_factory, tmp_path, monkeypatch):
    cmd, out, ws = _fake_server(tmp_path)
    monkeypatch.setenv("TIDE_API_KEY", "from-neovims-env")
    nvim = nvim_factory(
        {"cmd": cmd, "ghost_text": {"mode": "plugin"}, "settings": {"model": "http://127.0.0.1:9/"}}
    )
    # Without cmd_env the config's cmd is the plain list.
    assert nvim.exec_lua("return vim.lsp.config.tide.cmd") == cmd
    _open(nvim, ws)
    seen = _seen(out, "initialize")
    assert seen["env"]["TIDE_API_KEY"] == "from-neovims-env"
    init = next(m for m in seen["messages"] if m["method"] == "initialize")["params"]
    assert "apiKey" not in init["initializationOptions"]
    nvim.command("checkhealth tide")
    assert "team server API key: from TIDE_API_KEY in Neovim's environment" in "\n".join(
        nvim.current.buffer[:]
    )


def test_bad_cmd_env_is_reported_by_name(nvim_factory):
    nvim = nvim_factory({**MISSING, "cmd_env": {"TIDE_API_KEY": {"nested": "sk-nested-77"}}})
    messages = nvim.exec_lua("return vim.fn.execute('messages')")
    assert "cmd_env.TIDE_API_KEY must be a string" in messages
    assert "sk-nested-77" not in messages
