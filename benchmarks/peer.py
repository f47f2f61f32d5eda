"""Tide against llama.cpp's own `llama-server /infill`, what llama.vscode and llama.vim use.

    .venv/bin/python -m benchmarks.peer [--keys 40] [--budget 1024] [--cold 256,512,1024]
        [--name run]

llama-server is built once in `benchmarks/.scratch/` from the llama.cpp sources vendored in the
sdist of the installed llama-cpp-python (`tools/server`; GGML_NATIVE=OFF like Tide's wheel), and
run on loopback with the default model, 2 threads and the flags llama.vscode recommends for a
CPU (`-c 2048 -ub 1024 --cache-reuse 256`), except `-b 2048`: llama-server cuts an infill prompt
to its batch, and Tide's 1,024-token budget plus context from other files is longer. Tide runs
as the real server over stdio, 2 threads. Requests alternate between the two, one at a time, on
the same text:

1. Typing: the rest of line 255 of the first 500 lines of argparse.py typed a key at a time.
   After each key, Tide gets a didChange and an inline-completion request; llama-server gets
   the request llama.vim sends for the same cursor (prefix lines, the typed line as `prompt`,
   suffix, `cache_prompt`, llama.vim's sampling and time limits), with as many prefix and suffix
   tokens as Tide's window had (from Tide's log). Both are awaited, so each latency is what the
   user waits if they pause on that key.
2. Cold prompts at budgets of 256, 512 and 1,024 tokens: a file neither has seen. llama-server
   gets a window as long as Tide's whole prompt (which adds context from other files) and is
   asked for as many tokens as Tide generated, so both do the same work.

Reported: p50/p95 per side, prompt tokens evaluated per key, and each side's prompt time.
"""

import argparse
import asyncio
import json
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from benchmarks.latency import percentile, source_file
from examples.driver import ScriptedEditor
from lsp_server.config import Settings
from lsp_server.engines.loading import locate_model
from tests.engines.llama_server import free_port

from .quality import RESULTS

SCRATCH = Path(__file__).resolve().parent / ".scratch"
_WINDOW = re.compile(
    r"complete (\S+) v(\d+): window \S+ \((\d+)\+(\d+) tok.*?\), prompt (\d+) tok "
    r"\((\d+) reused, (\d+) run\) (\d+)ms, generate (\d+) tok (\d+)ms"
)
_THROUGH = re.compile(r"complete (\S+) v(\d+): typed through")
THREADS = 2
FIM_MARKERS = 3  # <|fim_prefix|>, <|fim_suffix|>, <|fim_middle|>


def build_llama_server(scratch: Path = SCRATCH) -> Path:
    """llama-server from the llama.cpp that the installed llama-cpp-python vendors; cached."""
    version = metadata.version("llama-cpp-python")
    source = scratch / f"llama_cpp_python-{version}"
    llama = source / "vendor" / "llama.cpp"
    build = llama / "build"
    binary = build / "bin" / "llama-server"
    if binary.exists():
        return binary
    scratch.mkdir(parents=True, exist_ok=True)
    sdist = scratch / f"llama_cpp_python-{version}.tar.gz"
    if not sdist.exists():
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
             "-d", str(scratch), f"llama-cpp-python=={version}"],
            check=True,
        )  # fmt: skip
    if not source.exists():
        with tarfile.open(sdist) as archive:
            archive.extractall(scratch, filter="data")
    subprocess.run(
        ["cmake", "-S", str(llama), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release",
         "-DGGML_NATIVE=OFF", "-DLLAMA_CURL=OFF", "-DLLAMA_BUILD_TESTS=OFF",
         "-DLLAMA_BUILD_EXAMPLES=OFF", "-DLLAMA_BUILD_SERVER=ON"],
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    subprocess.run(
        ["cmake", "--build", str(build), "--target", "llama-server", "-j", "2"], check=True
    )
    return binary


class LlamaServer:
    def __init__(
        self,
        binary: Path,
        model: Path,
        log: Path,
        context: int = 2048,
        *,
        slots: int = 1,
        extra: tuple[str, ...] = (),
    ) -> None:
        """`context` is llama-server's `-c`, the cells of all `slots` together; `extra` goes to
        its command line as it is."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = [
            str(binary), "-m", str(model), "-c", str(context), "-ub", "1024", "-b", "2048",
            "--cache-reuse", "256", "-t", str(THREADS), "-tb", str(THREADS), "-np", str(slots),
            "--host", "127.0.0.1", "--port", str(self.port), *extra,
        ]  # fmt: skip
        with log.open("ab") as out:
            self.process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"llama-server exited: {log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2) as reply:
                    if reply.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        raise RuntimeError("llama-server did not become healthy within 180 s")

    def post(self, path: str, body: dict) -> tuple[dict, float]:
        request = urllib.request.Request(
            self.url + path, json.dumps(body).encode(), {"Content-Type": "application/json"}
        )
        start = time.perf_counter()
        with urllib.request.urlopen(request, timeout=600) as reply:
            answer = json.loads(reply.read())
        return answer, (time.perf_counter() - start) * 1000

    def count(self, text: str) -> int:
        return len(self.post("/tokenize", {"content": text})[0]["tokens"])

    def stop(self) -> None:
        self.process.kill()
        self.process.wait(30)


@dataclass(frozen=True)
class Window:
    prefix: str  # whole lines before the cursor's line
    line: str  # the cursor's line up to the cursor
    suffix: str  # the rest of the cursor's line and the lines after


def window(server: LlamaServer, text: str, cursor: int, prefix_tokens: int, suffix_tokens: int):
    """The cursor's surroundings cut to whole lines holding about the given token counts."""
    line_start = text.rfind("\n", 0, cursor) + 1
    before = text[:line_start].splitlines(keepends=True)
    after = text[cursor:].splitlines(keepends=True)
    line = text[line_start:cursor]
    budget = prefix_tokens - server.count(line)
    kept: list[str] = []
    for piece in reversed(before):
        budget -= server.count(piece)
        if budget < 0:
            break
        kept.insert(0, piece)
    tail: list[str] = []
    budget = suffix_tokens
    for piece in after:
        budget -= server.count(piece)
        if budget < 0 and tail:
            break
        tail.append(piece)
    return Window("".join(kept), line, "".join(tail))


def infill_body(win: Window, **overrides) -> dict:
    """The request llama.vim sends (its defaults), on this window."""
    body = {
        "input_prefix": win.prefix,
        "input_suffix": win.suffix,
        "input_extra": [],
        "prompt": win.line,
        "n_predict": 128,
        "stop": [],
        "n_indent": len(win.line) - len(win.line.lstrip()),
        "top_k": 40,
        "top_p": 0.99,
        "stream": False,
        "samplers": ["top_k", "top_p", "infill"],
        "cache_prompt": True,
        "t_max_prompt_ms": 500,
        "t_max_predict_ms": 500,
    }
    body.update(overrides)
    return body


@dataclass
class TideLog:
    path: Path

    def entry(self, uri: str, version: int) -> dict | None:
        """What Tide's log says about the request at this version: window, prompt, generation."""
        text = self.path.read_text()
        for m in _WINDOW.finditer(text):
            if m.group(1) == uri and int(m.group(2)) == version:
                return {
                    "prefix_tokens": int(m.group(3)),
                    "suffix_tokens": int(m.group(4)),
                    "prompt_tokens": int(m.group(5)),
                    "evaluated": int(m.group(7)),
                    "prompt_ms": int(m.group(8)),
                    "generated": int(m.group(9)),
                    "generate_ms": int(m.group(10)),
                }
        for m in _THROUGH.finditer(text):
            if m.group(1) == uri and int(m.group(2)) == version:
                return {"evaluated": 0, "prompt_ms": 0, "generated": 0, "typed_through": True}
        return None


def stats(values: list[float]) -> dict:
    return {
        "n": len(values),
        "p50": round(statistics.median(values), 1),
        "p95": round(percentile(values, 95), 1),
    }


async def typing(editor: ScriptedEditor, server: LlamaServer, log: TideLog, keys: int) -> dict:
    text = source_file("argparse", 500)
    lines = text.splitlines(keepends=True)
    start = sum(len(x) for x in lines[:254])
    line = lines[254].rstrip("\n")
    indent = len(line) - len(line.lstrip())
    typed = line[indent : indent + keys]
    doc = text[: start + indent] + text[start + len(line) :]
    uri = "file:///bench/peer/argparse_head.py"
    editor.open(uri, doc, "python")
    editor.move(uri, start + indent)
    await editor.complete(uri)  # the pause before typing: cold for both, not measured
    first = log.entry(uri, 1)
    sizes = (first["prefix_tokens"], first["suffix_tokens"])
    server.post("/infill", infill_body(window(server, doc, start + indent, *sizes)))
    tide_ms, peer_ms, tide_tokens, peer_tokens, peer_prompt_ms = [], [], [], [], []
    for k, key in enumerate(typed):
        editor.type(uri, key)
        tide_ms.append((await editor.complete(uri)).latency_ms)
        entry = log.entry(uri, k + 2) or {"evaluated": 0}
        tide_tokens.append(entry["evaluated"])
        if "prefix_tokens" in entry:
            sizes = (entry["prefix_tokens"], entry["suffix_tokens"])
        buffer = editor.buffers[uri]
        cursor = buffer.offset(buffer.cursor)
        win = window(server, buffer.text, cursor, *sizes)
        answer, ms = server.post("/infill", infill_body(win))
        peer_ms.append(ms)
        peer_tokens.append(answer["timings"]["prompt_n"])
        peer_prompt_ms.append(answer["timings"]["prompt_ms"])
    editor.close(uri)
    return {
        "keys": len(typed),
        "tide_ms": stats(tide_ms),
        "llama_server_ms": stats(peer_ms),
        "p50_ratio": round(statistics.median(peer_ms) / statistics.median(tide_ms), 1),
        "tide_tokens_per_key": round(statistics.mean(tide_tokens), 1),
        "llama_server_tokens_per_key": round(statistics.mean(peer_tokens), 1),
        "llama_server_prompt_ms_p50": round(statistics.median(peer_prompt_ms), 1),
    }


async def cold(editor: ScriptedEditor, server: LlamaServer, log: TideLog, budgets: list[int]):
    modules = [
        "argparse", "textwrap", "tarfile", "ftplib", "smtplib", "imaplib", "calendar",
        "difflib", "pickle", "subprocess", "configparser", "inspect",
    ]  # fmt: skip
    rows = []
    for budget in budgets:
        # No suggestion computed ahead in the pause: it would run while llama-server answers.
        editor.configure(contextBudget=budget, precompute=False)
        for module in modules:
            text = source_file(module, 4000)
            lines = text.splitlines(keepends=True)
            uri = f"file:///bench/peer/cold-{budget}-{module}.py"
            editor.open(uri, text, "python")
            # The end of the first line from 300 on where Tide completes (not in a comment or
            # string); the skipped requests before it run no model.
            entry = None
            for index in range(min(len(lines) - 1, 300), len(lines)):
                cursor = sum(len(x) for x in lines[:index]) + len(lines[index]) - 1
                editor.move(uri, cursor)
                tide = (await editor.complete(uri)).latency_ms
                entry = log.entry(uri, 1)
                if entry is not None:
                    break
            # Tide's prompt also holds context from other files; llama-server gets as many
            # tokens of prefix instead, so both evaluate prompts of the same length.
            prefix = entry["prompt_tokens"] - entry["suffix_tokens"] - FIM_MARKERS
            win = window(server, text, cursor, prefix, entry["suffix_tokens"])
            body = infill_body(
                win, n_predict=max(entry["generated"], 1), cache_prompt=False,
                t_max_prompt_ms=-1, t_max_predict_ms=-1, samplers=["top_k"], top_k=1,
                ignore_eos=True,
            )  # fmt: skip
            answer, peer = server.post("/infill", body)
            # Closed, so that the next file's prompt holds no snippets of this one.
            editor.close(uri)
            rows.append({
                "budget": budget,
                "module": module,
                "tide_ms": round(tide, 1),
                "tide_prompt_tokens": entry["evaluated"],
                "tide_prompt_total": entry["prompt_tokens"],
                "tide_prompt_ms": entry["prompt_ms"],
                "tide_generated": entry["generated"],
                "tide_generate_ms": entry["generate_ms"],
                "llama_server_ms": round(peer, 1),
                "llama_server_prompt_tokens": answer["timings"]["prompt_n"],
                "llama_server_prompt_ms": round(answer["timings"]["prompt_ms"], 1),
                "llama_server_generated": answer["timings"]["predicted_n"],
                "llama_server_generate_ms": round(answer["timings"]["predicted_ms"], 1),
            })  # fmt: skip
            print(json.dumps(rows[-1]), flush=True)
    summary = {}
    for budget in budgets:
        mine = [r for r in rows if r["budget"] == budget]
        # Per file, Tide's milliseconds per prompt token over llama-server's: the prompts
        # differ by a few tokens, and the VM's speed drifts between files.
        ratios = [
            (r["tide_ms"] / r["tide_prompt_tokens"])
            / (r["llama_server_ms"] / r["llama_server_prompt_tokens"])
            for r in mine
        ]
        # llama-server stops some answers before the tokens asked for; without generation, both
        # did the same work: the request, the prompt, and everything around them.
        same_work = [
            ((r["tide_ms"] - r["tide_generate_ms"]) / r["tide_prompt_tokens"])
            / (
                (r["llama_server_ms"] - r["llama_server_generate_ms"])
                / r["llama_server_prompt_tokens"]
            )
            for r in mine
        ]
        summary[str(budget)] = {
            "ms_per_token_ratio_p50": round(statistics.median(ratios), 3),
            "without_generation_ratio_p50": round(statistics.median(same_work), 3),
            "tide_p50_ms": round(statistics.median(r["tide_ms"] for r in mine), 1),
            "llama_server_p50_ms": round(statistics.median(r["llama_server_ms"] for r in mine), 1),
            "tide_prompt_tok_per_s": round(
                sum(r["tide_prompt_tokens"] for r in mine)
                / sum(r["tide_prompt_ms"] for r in mine)
                * 1000,
                1,
            ),
            "llama_server_prompt_tok_per_s": round(
                sum(r["llama_server_prompt_tokens"] for r in mine)
                / sum(r["llama_server_prompt_ms"] for r in mine)
                * 1000,
                1,
            ),
        }
    return {"rows": rows, "summary": summary}


async def run(args: argparse.Namespace) -> dict:
    binary = build_llama_server()
    model = Path(locate_model(Settings()))
    scratch = Path(tempfile.mkdtemp(prefix="tide-peer-"))
    server = LlamaServer(binary, model, scratch / "llama-server.log")
    log = TideLog(scratch / "tide.log")
    editor = ScriptedEditor("--log-file", str(log.path))
    await editor.start({"contextBudget": args.budget, "diagnostics": False, "threads": THREADS})
    try:
        result = {}
        if args.keys:
            result["typing"] = await typing(editor, server, log, args.keys)
            print(json.dumps(result["typing"]), flush=True)
        if args.cold:
            budgets = [int(b) for b in args.cold.split(",")]
            result["cold"] = await cold(editor, server, log, budgets)
    finally:
        await editor.stop()
        server.stop()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=40)
    parser.add_argument("--budget", type=int, default=1024)
    parser.add_argument("--cold", default="256,512,1024", help="budgets; '' for none")
    parser.add_argument("--name", default="run", help="results go to results/peer-NAME.json")
    args = parser.parse_args()
    result = asyncio.run(run(args))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"peer-{args.name}.json").write_text(json.dumps(result, indent=2))
    print("command:", " ".join(["python", "-m", "benchmarks.peer", *sys.argv[1:]]))
    shown = {k: v["summary"] if k == "cold" else v for k, v in result.items()}
    print(json.dumps(shown, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
