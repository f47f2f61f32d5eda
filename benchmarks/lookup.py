"""Prompt lookup against plain greedy decoding, the same completions side by side.

    .venv/bin/python -m benchmarks.lookup [--files-per-language 4] [--gen 32] [--name NAME]

At every line start of the typing replay's regions (benchmarks/replay.py's corpus and seed),
the file before the cursor is the prefix and the rest the suffix, as Tide lays them out
(`completion.prompts.build_prompt`, suffix first); one engine generates `--gen` tokens with
`lookup` on and off in turn, which goes first alternating, so the VM's drift falls on both.
The prompt is evaluated by the first of the two and reused by the second, so only generation
time is compared. Reports tokens per second both ways, the speed-up per cursor (median and
quartiles), and how many outputs differ (lookup only verifies, but a batch's arithmetic may
round differently from one token's). First, what verifying costs: the time to evaluate a batch
of k tokens with every row's logits, against one token (median of 8).
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from lsp_server.completion.prompts import build_prompt
from lsp_server.config import Settings
from lsp_server.engines.base import Engine, GenerationParams, GenerationStats
from lsp_server.engines.llamacpp.engine import LlamaCppEngine
from lsp_server.engines.loading import load_engine, locate_model

from .replay import add_typing_arguments, choose_regions

RESULTS = Path(__file__).resolve().parent / "results"
PREFIX_CHARS, SUFFIX_CHARS = 3_000, 600  # about the server's 512-token window


def run(engine: Engine, prefix: str, suffix: str, lookup: bool, gen: int) -> tuple[str, dict]:
    prompt = build_prompt(engine.template, prefix[-PREFIX_CHARS:], suffix[:SUFFIX_CHARS])
    stats = GenerationStats()
    params = GenerationParams(max_tokens=gen, lookup=lookup)
    text = "".join(engine.stream(prompt, params, lambda: False, stats))
    return text, {"tokens": stats.generated_tokens, "ms": round(stats.generate_ms, 1)}


def batch_costs(engine: LlamaCppEngine, text: str) -> dict[int, float]:
    """Milliseconds to evaluate k tokens after a 500-token prompt, each row's logits out."""
    sequence = engine._main
    tokens = engine.tokenize(text)[:520]
    sequence.prefill(tokens[:500], lambda: False, GenerationStats())
    held = len(sequence.tokens)
    costs = {}
    for k in (1, 2, 3, 5, 8, 16):
        times = []
        for _ in range(8):
            started = time.perf_counter()
            sequence.decode(tokens[500 : 500 + k], all_logits=k > 1)
            times.append((time.perf_counter() - started) * 1000)
            sequence.truncate(held)
        costs[k] = round(statistics.median(times), 1)
    return costs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_typing_arguments(parser)
    parser.add_argument("--gen", type=int, default=32, help="tokens per completion")
    parser.add_argument("--regions", type=int, default=0, help="at most this many regions")
    parser.add_argument("--model", default=None)
    parser.add_argument("--name", default="run")
    args = parser.parse_args()
    settings = Settings(model=args.model)
    engine = load_engine(locate_model(settings), settings)
    if not isinstance(engine, LlamaCppEngine):
        raise SystemExit("prompt lookup is llama.cpp's; the model loaded on another engine")
    regions = choose_regions(args)
    records = []
    try:
        costs = batch_costs(engine, "".join(r.text.before for r in regions))
        for region in regions:
            text = region.text
            typed = text.indent + text.target
            # Line starts as the typist reaches them: the lines above typed, the indentation
            # auto-inserted, the region's rest not yet there.
            starts = [len(text.indent)] + [
                i + 1 + len(typed[i + 1 :]) - len(typed[i + 1 :].lstrip(" \t"))
                for i, c in enumerate(typed)
                if c == "\n"
            ]
            for line, at in enumerate(starts):
                prefix = text.before + typed[:at]
                suffix = "\n" + text.after
                order = [True, False] if len(records) % 2 == 0 else [False, True]
                got = {lookup: run(engine, prefix, suffix, lookup, args.gen) for lookup in order}
                (on_text, on), (off_text, off) = got[True], got[False]
                records.append(
                    {
                        "region": region.id,
                        "line": line,
                        "lookup": on,
                        "plain": off,
                        "same": on_text == off_text,
                    }
                )
    finally:
        engine.close()
    speedups = [r["plain"]["ms"] / r["lookup"]["ms"] for r in records if r["lookup"]["ms"]]

    def rate(key: str) -> float:
        tokens = sum(r[key]["tokens"] for r in records)
        return round(tokens / (sum(r[key]["ms"] for r in records) / 1000), 1)

    quartiles = statistics.quantiles(speedups, n=4)
    summary = {
        "batch_ms": costs,
        "cursors": len(records),
        "different_outputs": sum(not r["same"] for r in records),
        "lookup_tok_s": rate("lookup"),
        "plain_tok_s": rate("plain"),
        "speedup_median": round(statistics.median(speedups), 2),
        "speedup_quartiles": [round(q, 2) for q in (quartiles[0], quartiles[2])],
    }
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"lookup-{args.name}.json"
    out.write_text(json.dumps({"summary": summary, "records": records}, indent=1) + "\n")
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
