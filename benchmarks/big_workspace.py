"""Completion latency in a workspace of 10,000 files against one holding only the files in use.

    .venv/bin/python -m benchmarks.big_workspace [--files 10000] [--keys 20] [--spots 16] [--seed 0]

Two servers, each with its own engine and KV cache: one opened on a workspace of N generated
Python modules (100 to a package), the other on a workspace holding only the edited file and the
modules it imports. The edited file (the first 400 lines of the standard library's argparse.py
under a few imports of workspace helpers, which it then calls) is the same in both, and so is
its cross-file context: the two prompts are the same, and any difference in latency is what the
big workspace costs. Requests alternate between the servers spot by spot, starting right after
`initialized`, so the first ones run while the big workspace is still being indexed: first 20
keys typed into one line, each answered mostly from the KV cache (so a stall shows), then 16
cursors at other lines, each a mostly cold prompt.

Results: benchmarks/results/big-workspace.json.
"""

import argparse
import asyncio
import json
import os
import platform
import re
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.latency import Spot, diff_edit, line_spots, source_file, summary, typing_spots
from examples.driver import ScriptedEditor

RESULTS = Path(__file__).resolve().parent / "results"
_INDEXED = re.compile(r"indexed (\d+) files|workspace index full at (\d+) files")
# The modules the edited file imports, and what it calls from them.
_USED = ((3, 7), (41, 2), (88, 55))


def module_text(package: int, module: int) -> str:
    return (
        f'"""Helpers {package}.{module}."""\n\n\n'
        f"def helper_{package}_{module}(values, scale=1):\n"
        f"    return [v * scale + {module} for v in values]\n\n\n"
        f"class Record{package}_{module}:\n"
        f"    def __init__(self, name):\n        self.name = name\n"
    )


def edited_file() -> str:
    imports = "".join(f"from pkg{p}.mod{m} import helper_{p}_{m}\n" for p, m in _USED)
    calls = "".join(f"ROWS_{p}_{m} = helper_{p}_{m}([1, 2, 3])\n" for p, m in _USED)
    return imports + "\n" + calls + "\n" + source_file("argparse", 400)


def make_workspace(root: Path, files: int) -> None:
    """The modules the edited file uses, then others up to `files` in all, 100 to a package."""
    others = ((n // 100, n % 100) for n in range(files + len(_USED)))
    modules = [*_USED, *(m for m in others if m not in _USED)][: max(files, len(_USED))]
    for package, module in modules:
        folder = root / f"pkg{package}"
        folder.mkdir(exist_ok=True)
        (folder / "__init__.py").touch()
        (folder / f"mod{module}.py").write_text(module_text(package, module))
    (root / "main.py").write_text(edited_file())


async def timed(editor: ScriptedEditor, uri: str, spot: Spot) -> float:
    buffer = editor.buffers[uri]
    start, end, text = diff_edit(buffer.text, spot.text)
    editor.replace(uri, buffer.position(start), buffer.position(end), text)
    editor.move(uri, spot.cursor)
    return (await editor.complete(uri)).latency_ms


def indexed_files(log: Path) -> int | None:
    """How many files the index holds once its background pass ended; None while it runs."""
    found = _INDEXED.search(log.read_text()) if log.exists() else None
    return int(found.group(1) or found.group(2)) if found else None


async def run(args: argparse.Namespace) -> dict:
    scratch = Path(tempfile.mkdtemp(prefix="tide-big-workspace-"))
    big, small = scratch / "big", scratch / "small"
    big.mkdir()
    small.mkdir()
    make_workspace(big, args.files)
    make_workspace(small, 0)
    text = edited_file()
    # Keys typed into one line first (answered from the KV cache, so any stall the indexing
    # causes shows), then cursors at other lines (each a mostly cold prompt).
    sequences = {
        "typing": typing_spots(text, args.typing_line, args.keys),
        "cold": line_spots(text, args.spots, args.seed),
    }
    roots = {"big": big, "small": small}
    logs = {name: scratch / f"{name}.log" for name in roots}
    editors = {name: ScriptedEditor("--log-file", str(logs[name])) for name in roots}
    uris = {name: (root / "main.py").as_uri() for name, root in roots.items()}
    # Per server, per kind of request and whether the big index was still filling.
    latencies: dict[str, dict[str, list[float]]] = {name: {} for name in roots}
    try:
        for name, root in roots.items():
            await editors[name].start({"diagnostics": False}, root_uri=root.as_uri())
            editors[name].open(uris[name], text, "python")
        started = time.perf_counter()
        index_s = None
        for kind, spots in sequences.items():
            for spot in spots:
                if index_s is None and indexed_files(logs["big"]) is not None:
                    index_s = round(time.perf_counter() - started, 1)
                key = f"{kind}, {'indexing' if index_s is None else 'indexed'}"
                for name, editor in editors.items():
                    latency = await timed(editor, uris[name], spot)
                    latencies[name].setdefault(key, []).append(latency)
        files_indexed = indexed_files(logs["big"])
    finally:
        for editor in editors.values():
            await editor.stop()
    rows = {name: {k: summary(v) for k, v in kinds.items()} for name, kinds in latencies.items()}
    ratios = {
        key: round(rows["big"][key]["p50"] / rows["small"][key]["p50"], 3) for key in rows["big"]
    }
    return {
        "command": "python -m benchmarks.big_workspace " + " ".join(sys.argv[1:]),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "workspace_files": args.files,
        "files_indexed": files_indexed,
        "index_finished_after_s": index_s,
        "rows": rows,
        "big_over_small_p50": ratios,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--keys", type=int, default=20)
    parser.add_argument("--typing-line", type=int, default=131)
    parser.add_argument("--spots", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    result = asyncio.run(run(parser.parse_args()))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "big-workspace.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
