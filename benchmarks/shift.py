"""What moving KV cells instead of re-evaluating them costs in quality and saves in tokens.

    .venv/bin/python -m benchmarks.shift [--limit 150] [--seed 0] [--drift 32]

On HumanEval single-line infilling, one engine completes each case twice: once after reaching
it the way an editor does, with its KV cells moved as the prompt changed, and once from a fully
recomputed cache. Two scenarios:

- typing, in the prefix-suffix-middle layout other model families use: the first half of the
  expected line is typed a character at a time, a prompt per key, so each key moves the suffix;
- cursor moves, in Tide's suffix-first layout for the default model: the cursor starts three
  lines above the hole and moves down a line at a time, so each step moves the rest of the
  prompt back by a line.

Reports exact match both ways, how often the two answers agree, and the prompt tokens each step
evaluated against what longest-prefix reuse alone would have evaluated.
"""

import argparse
import json
import statistics
from pathlib import Path

from lsp_server.completion.prompts import build_prompt
from lsp_server.config import Settings
from lsp_server.engines.base import GenerationParams, GenerationStats
from lsp_server.engines.llamacpp import kv_sequence
from lsp_server.engines.llamacpp.engine import LlamaCppEngine
from lsp_server.engines.loading import locate_model
from lsp_server.engines.reuse import common_prefix

from .quality import RESULTS, humaneval_cases

STEP_TOKENS = 4  # what each intermediate request generates before the next key arrives
MOVE_LINES = 3


def _line(engine: LlamaCppEngine, prompt, stats: GenerationStats) -> str:
    text = ""
    for piece in engine.stream(prompt, GenerationParams(max_tokens=48), lambda: False, stats):
        text += piece
        if "\n" in text:
            break
    return text.split("\n")[0]


def _steps(case: dict, scenario: str) -> tuple[list[tuple[str, str]], str, str]:
    """The (prefix, suffix) of each request on the way, the typed head, and the order."""
    prefix, suffix = case["prefix"], case["suffix"]
    if scenario == "typing":
        head = case["expected"][: len(case["expected"]) // 2]
        return [(prefix + head[:j], suffix) for j in range(len(head) + 1)], head, "psm"
    text = prefix + suffix
    starts = [0] + [i + 1 for i, c in enumerate(prefix) if c == "\n"]
    above = [s for s in starts if s < len(prefix)][-MOVE_LINES - 1 : -1]
    points = [*above, len(prefix)]
    return [(text[:p], text[p:]) for p in points], "", "spm"


def run_case(engine: LlamaCppEngine, case: dict, scenario: str) -> dict:
    steps, head, order = _steps(case, scenario)
    template = engine.template
    engine._main.truncate(0)
    previous: list[int] = []
    evaluated, prefix_only = [], []
    for i, (prefix, suffix) in enumerate(steps):
        prompt = build_prompt(template, prefix, suffix, order)
        tokens = engine.prompt_tokens(prompt)
        stats = GenerationStats()
        if i + 1 < len(steps):
            params = GenerationParams(max_tokens=STEP_TOKENS)
            "".join(engine.stream(prompt, params, lambda: False, stats))
        else:
            moved = _line(engine, prompt, stats)
        if i > 0:
            evaluated.append(stats.evaluated_tokens)
            prefix_only.append(len(tokens) - min(common_prefix(previous, tokens), len(tokens) - 1))
        previous = tokens
    engine._main.truncate(0)
    recomputed = _line(engine, prompt, GenerationStats())
    expected = case["expected"].strip()
    return {
        "id": case["id"],
        "scenario": scenario,
        "moved": moved,
        "recomputed": recomputed,
        "exact_moved": (head + moved).strip() == expected,
        "exact_recomputed": (head + recomputed).strip() == expected,
        "agree": moved == recomputed,
        "evaluated": evaluated,
        "prefix_only": prefix_only,
    }


def summarize(rows: list[dict]) -> dict:
    summary = {}
    for scenario in ("typing", "moves"):
        group = [r for r in rows if r["scenario"] == scenario]
        if not group:
            continue
        n = len(group)
        steps = [t for r in group for t in r["evaluated"]]
        plain = [t for r in group for t in r["prefix_only"]]
        summary[scenario] = {
            "cases": n,
            "exact_moved": round(100 * sum(r["exact_moved"] for r in group) / n, 1),
            "exact_recomputed": round(100 * sum(r["exact_recomputed"] for r in group) / n, 1),
            "agree": round(100 * sum(r["agree"] for r in group) / n, 1),
            "tokens_per_step": round(statistics.mean(steps), 1) if steps else 0,
            "tokens_per_step_prefix_reuse_only": round(statistics.mean(plain), 1) if plain else 0,
        }
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=150)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--drift", type=int, default=kv_sequence.MAX_SHIFT_DRIFT)
    parser.add_argument("--scenario", choices=("typing", "moves", "both"), default="both")
    args = parser.parse_args()
    kv_sequence.MAX_SHIFT_DRIFT = args.drift
    engine = LlamaCppEngine(Path(locate_model(Settings())), n_threads=2)
    cases = humaneval_cases("SingleLineInfilling", args.limit, args.seed)
    scenarios = ("typing", "moves") if args.scenario == "both" else (args.scenario,)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"shift-drift{args.drift}.jsonl"
    rows = []
    with out.open("w") as handle:
        for index, case in enumerate(cases):
            for scenario in scenarios:
                row = run_case(engine, case, scenario)
                rows.append(row)
                handle.write(json.dumps(row) + "\n")
                handle.flush()
                print(
                    f"[{index + 1}/{len(cases)}] {case['id']} {scenario}: "
                    f"moved={row['exact_moved']} recomputed={row['exact_recomputed']} "
                    f"evaluated={row['evaluated']}",
                    flush=True,
                )
    summary = summarize(rows)
    (RESULTS / f"shift-drift{args.drift}-summary.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
