"""Prefix-suffix-middle against suffix-prefix-middle order on the default model.

    .venv/bin/python -m benchmarks.fim_order [--problems 20] [--seed 8]

HumanEval single-line infilling (../shared/bench/human-eval-infilling): every task of a seeded
sample of problems, a raw FIM prompt of the task's full prefix and suffix in each order, greedy,
cut at the first line break; exact match of the stripped line against the canonical one.
"""

import argparse
import gzip
import json
import random
import sys
import time
from pathlib import Path

from lsp_server.completion.edit import LineCut
from lsp_server.completion.prompts import build_prompt
from lsp_server.config import Settings
from lsp_server.engines.base import GenerationParams, GenerationStats
from lsp_server.engines.loading import load_engine, locate_model

DATA = Path(__file__).resolve().parents[2] / "shared/bench/human-eval-infilling"


def load_tasks(problems: int, seed: int) -> list[dict]:
    with gzip.open(DATA / "HumanEval-SingleLineInfilling.jsonl.gz", "rt") as f:
        tasks = [json.loads(line) for line in f]
    chosen = set(random.Random(seed).sample(range(164), problems))
    return [t for t in tasks if int(t["task_id"].split("/")[2]) in chosen]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, default=20)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--orders", default="psm,spm", help="comma-separated: psm, spm")
    args = parser.parse_args()
    tasks = load_tasks(args.problems, args.seed)
    settings = Settings()
    engine = load_engine(locate_model(settings), settings)
    report = {"tasks": len(tasks), "problems": args.problems, "seed": args.seed}
    for order in args.orders.split(","):
        hits, started = 0, time.perf_counter()
        for task in tasks:
            prompt = build_prompt(engine.template, task["prompt"], task["suffix"], order=order)
            cut = LineCut(prompt.stops)
            stats = GenerationStats()
            pieces = engine.stream(prompt, GenerationParams(max_tokens=64), lambda: False, stats)
            for piece in pieces:
                if cut.feed(piece):
                    break
            pieces.close()
            hits += cut.text.strip() == task["canonical_solution"].strip()
        report[order] = {
            "exact_match_pct": round(100 * hits / len(tasks), 1),
            "seconds": round(time.perf_counter() - started, 1),
        }
        print(order, report[order], file=sys.stderr, flush=True)
    engine.close()
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
