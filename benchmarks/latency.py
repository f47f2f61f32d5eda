"""Latency of the real server over stdio against the raw pipeline, on the default model.

    .venv/bin/python -m benchmarks.latency [--spots 50] [--keys 40] [--budget 512]

1. 50 requests at seeded spots of a 500-line Python file (the first 500 lines of the standard
   library's argparse.py; not this repository's code): end-to-end inline-completion latency
   over stdio, alternated request by request with the in-process pipeline (window -> prompt ->
   llama.cpp -> cut) on the same text, each with its own engine and KV cache.
2. Typing in one spot: the rest of a line retyped one character at a time, a request after
   each key (awaited), alternated the same way.
3. Cold prompts of 256, 512 and 1,024 tokens through the server (each on a file the cache
   has never seen).
4. The server's peak RSS (VmHWM), against the model file's size.
"""

import argparse
import asyncio
import inspect
import json
import platform
import random
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from examples.driver import ScriptedEditor
from lsp_server import models
from lsp_server.completion.generate import Generator, complete_once
from lsp_server.config import Settings
from lsp_server.engines.loading import load_engine, locate_model
from lsp_server.text.documents import Snapshot

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class Spot:
    text: str  # the document as the request sees it
    cursor: int


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def source_file(module: str, lines: int) -> str:
    mod = __import__(module)
    text = Path(inspect.getsourcefile(mod)).read_text()
    return "".join(text.splitlines(keepends=True)[:lines])


def line_spots(text: str, count: int, seed: int) -> list[Spot]:
    """Cursors inside non-blank lines, the rest of the line removed (the user is typing it)."""
    rng = random.Random(seed)
    lines = text.splitlines(keepends=True)
    candidates = [i for i, line in enumerate(lines) if len(line.strip()) > 12 and i > 20]
    spots = []
    for index in sorted(rng.sample(candidates, count)):
        line = lines[index].rstrip("\n")
        indent = len(line) - len(line.lstrip())
        cut = rng.randint(indent + 3, len(line) - 3)
        start = sum(len(x) for x in lines[:index])
        doc = text[: start + cut] + text[start + len(line) :]
        spots.append(Spot(doc, start + cut))
    return spots


def typing_spots(text: str, line_index: int, keys: int) -> list[Spot]:
    lines = text.splitlines(keepends=True)
    start = sum(len(x) for x in lines[:line_index])
    line = lines[line_index].rstrip("\n")
    indent = len(line) - len(line.lstrip())
    typed = line[indent : indent + keys]
    spots = []
    for k in range(len(typed)):
        cursor = start + indent + k + 1
        doc = text[:cursor] + text[start + len(line) :]
        spots.append(Spot(doc, cursor))
    return spots


def diff_edit(old: str, new: str) -> tuple[int, int, str]:
    """The smallest single replacement (start, end in `old`, text) that turns old into new."""
    prefix = 0
    while prefix < min(len(old), len(new)) and old[prefix] == new[prefix]:
        prefix += 1
    tail = 0
    limit = min(len(old), len(new)) - prefix
    while tail < limit and old[-1 - tail] == new[-1 - tail]:
        tail += 1
    return prefix, len(old) - tail, new[prefix : len(new) - tail]


async def alternated(
    editor: ScriptedEditor, uri: str, generator: Generator, settings: Settings, spots: list[Spot]
) -> tuple[list[float], list[float]]:
    """Each spot through the server, then the same spot through the in-process pipeline.

    Alternating request by request keeps machine noise out of the comparison; the two engines
    see the same sequence of texts, so their KV caches evolve the same way.
    """
    server, raw = [], []
    for i, spot in enumerate(spots):
        buffer = editor.buffers[uri]
        start, end, text = diff_edit(buffer.text, spot.text)
        editor.replace(uri, buffer.position(start), buffer.position(end), text)
        editor.move(uri, spot.cursor)
        answer = await editor.complete(uri)
        server.append(answer.latency_ms)
        snapshot = Snapshot("file:///bench.py", i, "python", spot.text, None, None)
        started = time.perf_counter()
        complete_once(generator, snapshot, spot.cursor, settings)
        raw.append((time.perf_counter() - started) * 1000)
    return server, raw


def summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50": round(statistics.median(values), 1),
        "p95": round(percentile(values, 95), 1),
    }


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def cold_through_server(editor: ScriptedEditor, budgets: list[int]) -> dict[int, list]:
    """Each sample is a file no earlier request has seen, so nothing is in the KV cache."""
    modules = ["argparse", "textwrap", "tarfile", "ftplib", "smtplib", "imaplib"]
    results: dict[int, list] = {}
    for budget in budgets:
        editor.configure(contextBudget=budget)
        samples = []
        for module in modules[:3] if budget > 512 else modules[3:]:
            text = source_file(module, 4000)
            lines = text.splitlines(keepends=True)
            index = min(len(lines) - 1, 400)
            cursor = sum(len(x) for x in lines[:index]) + len(lines[index]) - 1
            uri = f"file:///bench/cold-{budget}-{module}.py"
            editor.open(uri, text, "python")
            editor.move(uri, cursor)
            answer = await editor.complete(uri)
            samples.append(round(answer.latency_ms, 1))
        results[budget] = samples
    return results


async def run(args: argparse.Namespace) -> dict:
    text = source_file("argparse", 500)
    spots = line_spots(text, args.spots, args.seed)
    typing = typing_spots(text, args.typing_line, args.keys)
    settings = Settings(context_budget=args.budget)

    path = locate_model(settings)
    generator = Generator(load_engine(path, settings))
    editor = ScriptedEditor("--log-level", "warning")
    await editor.start({"contextBudget": args.budget})
    uri = "file:///bench/argparse_head.py"
    editor.open(uri, text, "python")
    server_spots, raw_spots = await alternated(editor, uri, generator, settings, spots)
    server_typing, raw_typing = await alternated(editor, uri, generator, settings, typing)
    generator.engine.close()
    cold = await cold_through_server(editor, [256, 512, 1024])
    rss = peak_rss_mb(editor.server_pid)
    model = editor.statuses[-1].model if editor.statuses else "?"
    await editor.stop()

    model_mb = path.stat().st_size / 2**20
    spot_s, raw_s = summary(server_spots), summary(raw_spots)
    typing_s, raw_t = summary(server_typing), summary(raw_typing)
    cold_budget = statistics.median(cold[args.budget])
    return {
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, "
        f"{__import__('os').cpu_count()} cores, Python {platform.python_version()}",
        "model": model,
        "budget": args.budget,
        "spots": {"server": spot_s, "raw": raw_s},
        "overhead_p50_pct": round((spot_s["p50"] / raw_s["p50"] - 1) * 100, 1),
        "typing": {"server": typing_s, "raw": raw_t, "keys": len(typing)},
        "cold_ms": {str(k): v for k, v in cold.items()},
        "typing_over_cold_p50": round(typing_s["p50"] / cold_budget, 3),
        "peak_rss_mb": round(rss, 1),
        "model_mb": round(model_mb, 1),
        "rss_over_model_mb": round(rss - model_mb, 1),
        "default_model_sha256": models.default_model().sha256,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spots", type=int, default=50)
    parser.add_argument("--keys", type=int, default=40)
    parser.add_argument("--budget", type=int, default=Settings().context_budget)
    parser.add_argument("--typing-line", type=int, default=254)
    parser.add_argument("--seed", type=int, default=8)
    args = parser.parse_args()
    result = asyncio.run(run(args))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latency.json").write_text(json.dumps(result, indent=2))
    print(
        "command:", " ".join([Path(sys.executable).name, "-m", "benchmarks.latency", *sys.argv[1:]])
    )
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
