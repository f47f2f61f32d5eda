"""Fixtures for driving a real headless Neovim (``nvim --embed --headless``) through pynvim."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pynvim
import pytest

PLUGIN = Path(__file__).resolve().parent.parent
REPO = PLUGIN.parent.parent
RESULTS = Path(os.environ.get("TIDE_E2E_RESULTS") or PLUGIN / "test-results")
_CACHED_NVIM = Path.home() / ".cache" / "tide" / "editors" / "nvim-0.11.4-venv" / "bin" / "nvim"
NVIM = (
    os.environ.get("TIDE_NVIM")
    or (str(_CACHED_NVIM) if _CACHED_NVIM.exists() else None)
    or shutil.which("nvim")
    or "nvim"
)
TIDE_LSP = os.environ.get("TIDE_LSP") or str(REPO / ".venv" / "bin" / "tide-lsp")
# The Python of the server's venv: it has pygls, which the stand-in servers in editors/testing use.
TIDE_PYTHON = str(Path(TIDE_LSP).parent / "python")
WAIT_S = float(os.environ.get("TIDE_E2E_TIMEOUT_S", "180"))

INIT_LUA = """
vim.opt.rtp:prepend(vim.env.TIDE_PLUGIN)
vim.cmd('filetype plugin indent on')
vim.cmd('syntax on')
vim.cmd('runtime plugin/tide.lua')
vim.o.swapfile = false
vim.o.shortmess = vim.o.shortmess .. 'I'
require('tide').setup(vim.json.decode(vim.env.TIDE_SETUP))
"""


def server_works() -> bool:
    if not Path(TIDE_LSP).exists():
        return False
    try:
        r = subprocess.run([TIDE_LSP, "--help"], capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return r.returncode == 0


def has_pygls() -> bool:
    try:
        r = subprocess.run([TIDE_PYTHON, "-c", "import pygls"], capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return r.returncode == 0


def wait_until(fn: Callable[[], object], timeout: float, interval: float = 0.25) -> object:
    end = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < end:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    return last


def start_nvim(tmp: Path, setup: dict, monkeypatch: pytest.MonkeyPatch) -> pynvim.Nvim:
    import json

    init = tmp / "init.lua"
    init.write_text(INIT_LUA)
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME_NVIM"):
        (tmp / var).mkdir(exist_ok=True)
        monkeypatch.setenv(var, str(tmp / var))
    monkeypatch.setenv("TIDE_PLUGIN", str(PLUGIN))
    monkeypatch.setenv("TIDE_SETUP", json.dumps(setup))
    argv = [NVIM, "--embed", "--headless", "-n", "-i", "NONE", "-u", str(init)]
    nvim = pynvim.attach("child", argv=argv)
    nvim.command("set columns=120 lines=40")
    return nvim


@pytest.fixture
def nvim_factory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[dict], pynvim.Nvim]]:
    started: list[pynvim.Nvim] = []

    def make(setup: dict) -> pynvim.Nvim:
        n = start_nvim(tmp_path, setup, monkeypatch)
        started.append(n)
        return n

    yield make
    for n in started:
        with contextlib.suppress(Exception):
            n.command("qa!")
        with contextlib.suppress(Exception):
            n.close()


def feed(nvim: pynvim.Nvim, keys: str, timeout: float = 10) -> None:
    """Types keys as a user would (nvim_input) and waits until Neovim has taken them all in.

    nvim_input is asynchronous; `nvim_get_mode` is answered even while Neovim waits for more keys,
    so a mapping that left Neovim waiting (say, an unmapped <M-x> read as <Esc>x) fails fast here
    instead of hanging the next request.
    """
    nvim.input(keys)
    end = time.monotonic() + timeout
    while True:
        mode = nvim.api.get_mode()
        if not mode.get("blocking"):
            # One round trip through the main loop, so the keys' effects have happened.
            nvim.eval("1")
            return
        if time.monotonic() > end:
            raise AssertionError(f"Neovim still waits for input after {keys!r}: mode {mode}")
        time.sleep(0.05)


def save_result(name: str, text: str) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    p = RESULTS / name
    p.write_text(text)
    return p
