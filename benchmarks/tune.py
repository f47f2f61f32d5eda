"""Does tuning help? Line completion on a project's held-out files, base model against base +
the project's LoRA adapter, through the real server, in the same run.

    .venv/bin/python -m benchmarks.tune [--steps 100] [--rank 8] [--cases 60] [--humaneval 80]
        [--projects rich,huggingface_hub,msal-browser] [--context-weight W] [--mlp]
        [--learning-rate R] [--tag NAME] [--scratch DIR]

For each project (Python packages installed in the venv, a TypeScript package from the VS Code
extension's npm dependencies; none from this repository), copied into a scratch workspace:
1. `tide-lsp tune` with a fixed seed and step budget, timed, its peak memory read from the
   kernel's accounting of the child process;
2. line completion at natural trigger points of the files tuning held out (the same split the
   tuner made), through the real server with `adapter` "off" and "auto", alternating case by
   case; exact match, edit similarity and latency;
3. HumanEval single-line infilling (a seeded sample) in the same workspace, adapter off and on:
   the adapter must not cost general skill.
Results: benchmarks/results/tune-<project>[-<tag>].jsonl per case, tune-summary[-<tag>].json.
`--scratch` reuses an earlier run's scratch folder (printed at the start): its copies and its
adapters, whose training then resumes at the step it reached, so that an adapter can be measured
again, on more cases, without tuning it anew.
"""

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

from benchmarks.quality import (
    RESULTS,
    humaneval_cases,
    keep,
    line_cases,
    passes,
    reported_uris,
    score,
    tide_completion,
)
from examples.driver import ScriptedEditor
from lsp_server.tuning.files import training_files
from lsp_server.tuning.train import TrainSettings

ROOT = Path(__file__).resolve().parents[1]
SITE = Path(sysconfig.get_paths()["purelib"])  # the venv this runs in
PROJECTS = {
    "rich": SITE / "rich",
    "huggingface_hub": SITE / "huggingface_hub",
    "msal-browser": ROOT / "editors/vscode/node_modules/@azure/msal-browser",
}
_LANGUAGES = {".py": "python", ".ts": "typescript"}
SETTINGS = {
    "candidates": 1,
    "diagnostics": False,
    "precompute": False,
    "unlikelySeverity": "off",
    "threads": 2,
    # The reports tell an early answer from a whole one (see quality.tide_completion).
    "reportGenerations": True,
}


def copy_project(source: Path, scratch: Path) -> Path:
    """The project's source files (no compiled or bundled output) in a fresh workspace, or the
    copy an earlier run left in `scratch`."""
    workspace = scratch / source.name
    if workspace.is_dir():
        return workspace
    shutil.copytree(
        source,
        workspace,
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "dist", "lib", "*.d.ts", "*.map"),
    )
    return workspace


def tune(workspace: Path, cache: Path, args: argparse.Namespace) -> dict:
    """Run `tide-lsp tune` in a child process; its wall time and peak resident memory."""
    command = [
        sys.executable, "-m", "lsp_server", "tune", str(workspace), "--steps", str(args.steps),
        "--rank", str(args.rank), "--seed", "0", "--model-dir", str(cache),
        "--context-budget", str(args.example_budget),
        "--context-weight", str(args.context_weight), "--learning-rate", str(args.learning_rate),
    ]  # fmt: skip
    if args.mlp:
        command.append("--mlp")
    print("$", " ".join(command), flush=True)
    started = time.perf_counter()
    child = subprocess.Popen(command)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"tuning {workspace} failed")
    return {"tune_s": round(seconds, 1), "tune_peak_rss_mb": round(usage.ru_maxrss / 1024)}


def held_out_cases(workspace: Path, n: int, seed: int) -> list[dict]:
    """Cursors in the files the tuner held out (the split depends only on the paths)."""
    split = training_files(workspace)
    by_language: dict[str, list[tuple[Path, str]]] = {}
    for source in split.held_out:
        language = _LANGUAGES.get(Path(source.path).suffix)
        if language:
            by_language.setdefault(language, []).append((workspace / source.path, source.text))
    rng = random.Random(seed)
    cases = []
    for language, files in sorted(by_language.items()):
        cases += line_cases(files, language, n, rng)
    return cases[:n]


async def compare(workspace: Path, cache: Path, cases: list[dict], out: Path, tag: str) -> list:
    """Each case completed by the server without and with the adapter, alternating."""
    rows = []
    editors = {}
    reported = {}
    try:
        for row, adapter in (("base", "off"), ("adapter", "auto")):
            editor = ScriptedEditor("--log-file", str(RESULTS / f"tune-{tag}-{row}.log"))
            init = {**SETTINGS, "modelDir": str(cache), "adapter": adapter}
            reported[row] = reported_uris(editor)
            await editor.start(init, root_uri=workspace.as_uri())
            editors[row] = editor
        for n, case in enumerate(cases, 1):
            record = {"id": case["id"], "part": tag}
            # Held-out files open at their own path; HumanEval tasks in a file of their own.
            path = Path(case.get("path") or workspace / f"task_{n}.py")
            for row, editor in editors.items():
                started = time.perf_counter()
                text, _early = await tide_completion(editor, path.as_uri(), case, reported[row])
                record[f"{row}_s"] = round(time.perf_counter() - started, 2)
                record[row] = {**score(case, text, False), "text": text}
                if "task" in case:
                    record[row]["pass"] = passes(case, text.split("\n")[0])
            keep(record, rows, out)
            print(
                f"[{tag} {n}/{len(cases)}] base={record['base']['exact']} "
                f"adapter={record['adapter']['exact']}",
                flush=True,
            )
    finally:
        for editor in editors.values():
            await editor.stop()
    return rows


def summary(rows: list[dict]) -> dict:
    def share(row: str, key: str) -> float:
        return round(100 * sum(r[row][key] for r in rows) / len(rows), 1)

    result = {"n": len(rows)}
    for row in ("base", "adapter"):
        result[row] = {
            "exact": share(row, "exact"),
            "similarity": round(statistics.mean(r[row]["similarity"] for r in rows), 3),
            "p50_s": round(statistics.median(r[f"{row}_s"] for r in rows), 2),
        }
        if all("pass" in r[row] for r in rows):
            result[row]["pass"] = share(row, "pass")
    result["exact_gain"] = round(result["adapter"]["exact"] - result["base"]["exact"], 1)
    # The cases the two disagree on decide the gain; with few, it is noise (a sign test).
    result["only_exact"] = {
        row: sum(r[row]["exact"] and not r[other]["exact"] for r in rows)
        for row, other in (("base", "adapter"), ("adapter", "base"))
    }
    result["latency_overhead"] = round(result["adapter"]["p50_s"] / result["base"]["p50_s"] - 1, 3)
    return result


async def run(args: argparse.Namespace) -> dict:
    RESULTS.mkdir(exist_ok=True)
    scratch = Path(args.scratch) if args.scratch else Path(tempfile.mkdtemp(prefix="tide-tune-"))
    print(f"scratch folder: {scratch}", flush=True)
    cache = scratch / "models"
    from lsp_server import models

    # The default model, linked into the scratch cache so that the adapters stay there too.
    spec = models.default_model()
    model = models.model_path(spec, models.cache_dir())
    link = cache / model.relative_to(models.cache_dir())
    if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(model)
    results = {"command": " ".join(["python -m benchmarks.tune", *sys.argv[1:]])}
    tag = f"-{args.tag}" if args.tag else ""
    for name in args.projects.split(","):
        workspace = copy_project(PROJECTS[name], scratch)
        timing = tune(workspace, cache, args)
        out = RESULTS / f"tune-{name}{tag}.jsonl"
        out.unlink(missing_ok=True)
        results[name] = dict(timing)
        if args.cases:
            cases = held_out_cases(workspace, args.cases, 0)
            held = await compare(workspace, cache, cases, out, f"{name}{tag}")
            results[name]["held_out"] = summary(held)
        if args.humaneval:
            tasks = humaneval_cases("SingleLineInfilling", args.humaneval, 0)
            he = await compare(workspace, cache, tasks, out, f"{name}{tag}-humaneval")
            results[name]["humaneval"] = summary(he)
        print(json.dumps({name: results[name]}, indent=2), flush=True)
    (RESULTS / f"tune-summary{tag}.json").write_text(json.dumps(results, indent=2))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--rank", type=int, default=8)
    parser.add_argument("--example-budget", type=int, default=256, help="tokens per example")
    parser.add_argument("--cases", type=int, default=60, help="held-out cases per project")
    parser.add_argument("--humaneval", type=int, default=80, help="HumanEval tasks per project")
    parser.add_argument("--projects", default=",".join(PROJECTS))
    parser.add_argument("--context-weight", type=float, default=TrainSettings.context_weight)
    parser.add_argument("--learning-rate", type=float, default=TrainSettings.learning_rate)
    parser.add_argument("--mlp", action="store_true", help="adapt the MLP projections too")
    parser.add_argument("--tag", default="", help="added to the result files' names")
    parser.add_argument("--scratch", help="an earlier run's scratch folder, to measure it again")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args)), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
