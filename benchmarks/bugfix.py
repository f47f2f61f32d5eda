"""HumanEvalFix (Python): Tide's diagnostics and verified quick fixes over LSP, against a naive
"rewrite the function" baseline on the same model in the same run.

    .venv/bin/python -m benchmarks.bugfix [--problems 164] [--seed 0] [--resume] [--run-tests]
        [--summarize]

For each buggy function (the HumanEval prompt with its docstring, followed by the buggy body):
open it in the real server, wait for the model-scored diagnostics, ask for code actions on the
top-ranked suspect line (the whole function when nothing is flagged), resolve and apply the
first fix, and run the problem's tests. The baseline asks the same model once, through its chat
template, to fix the function, and runs the tests on whatever code it answers. Results go to
benchmarks/results/bugfix.jsonl, one line per problem (so --resume continues an interrupted
run), and the summary to bugfix-summary.json.
"""

import argparse
import ast
import asyncio
import difflib
import json
import platform
import random
import re
import sys
import tempfile
import time
from pathlib import Path

from lsprotocol import types

from benchmarks.programs import program_passes
from examples.driver import Buffer, ScriptedEditor
from lsp_server.config import Settings
from lsp_server.engines.base import GenerationParams, GenerationStats
from lsp_server.engines.loading import load_engine, locate_model

DATA = Path(__file__).resolve().parents[1].parent / "shared/bench/humanevalfix"
RESULTS = Path(__file__).resolve().parent / "results"
_FENCE = re.compile(r"```[a-zA-Z0-9_+-]*\n(.*?)```", re.DOTALL)


def load_problems() -> list[dict]:
    path = DATA / "humanevalpack-python.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def buggy_lines(problem: dict) -> set[int]:
    """0-based lines of the buggy file that the fix changes (or that border an insertion)."""
    head = problem["prompt"].count("\n")
    buggy = problem["buggy_solution"].splitlines()
    good = problem["canonical_solution"].splitlines()
    lines: set[int] = set()
    matcher = difflib.SequenceMatcher(a=buggy, b=good, autojunk=False)
    for tag, a0, a1, _b0, _b1 in matcher.get_opcodes():
        if tag == "equal":
            continue
        if a1 > a0:
            lines.update(range(a0, a1))
        else:
            lines.update({max(a0 - 1, 0), min(a0, len(buggy) - 1)})
    return {head + n for n in lines}


def passes(problem: dict, code: str) -> bool:
    return program_passes(f"{code}\n{problem['test']}\ncheck({problem['entry_point']})\n")


def apply_to(text: str, edit: types.WorkspaceEdit) -> str:
    """The text with a one-document workspace edit applied."""
    buffer = Buffer("", text)
    for change in edit.document_changes or []:
        for e in sorted(change.edits, key=lambda e: (e.range.start.line, e.range.start.character))[
            ::-1
        ]:
            a, b = buffer.offset(e.range.start), buffer.offset(e.range.end)
            buffer.text = buffer.text[:a] + e.new_text + buffer.text[b:]
    return buffer.text


def parses(code: str) -> bool:
    try:
        ast.parse(code)
    except SyntaxError:
        return False
    return True


def naive_fix(engine, problem: dict, code: str) -> str:
    """The baseline: one chat request, the first code block (or the answer) taken as is."""
    user = f"Fix bugs in {problem['entry_point']}.\n```python\n{code}\n```"
    prompt = engine.chat_prompt("You are a helpful coding assistant.", user)
    stats = GenerationStats()
    params = GenerationParams(max_tokens=512, background=True)
    answer = ""
    for piece in engine.stream(prompt, params, lambda: False, stats):
        answer += piece
        if _FENCE.search(answer):
            break
    block = _FENCE.search(answer)
    return block.group(1) if block else answer


async def tide_fix(editor: ScriptedEditor, problem: dict, path: Path) -> dict:
    text = problem["prompt"] + problem["buggy_solution"]
    path.write_text(text)
    uri = path.as_uri()
    started = time.perf_counter()
    editor.open(uri, text, "python")
    # Two publishes per version: the syntax pass, then the one with the model's scores.
    diagnostics = await editor.wait_diagnostics(uri, publishes=2)
    diagnose_s = time.perf_counter() - started
    unlikely = [d for d in diagnostics if d.code == "unlikely"]
    unlikely.sort(key=lambda d: -float((d.data or {}).get("score", 0)))
    suspects = [d.range.start.line for d in unlikely][:3]
    truth = buggy_lines(problem)
    if unlikely:
        target = unlikely[0]
        rng, context = target.range, [target]
    else:
        head = problem["prompt"].count("\n")
        last = text.count("\n")
        rng, context = types.Range(types.Position(head, 0), types.Position(last, 0)), []
    started = time.perf_counter()
    actions = await editor.code_actions(uri, rng, context)
    lightbulb_ms = (time.perf_counter() - started) * 1000
    record = {
        "task": problem["task_id"],
        "bug_lines": sorted(truth),
        "suspects": suspects,
        "localized": bool(truth & set(suspects)),
        "diagnose_s": round(diagnose_s, 2),
        "lightbulb_ms": round(lightbulb_ms, 1),
        "actions": len(actions),
    }
    fixed = text
    if actions:
        started = time.perf_counter()
        resolved = await editor.resolve(actions[0])
        record["resolve_ms"] = round((time.perf_counter() - started) * 1000, 1)
        if resolved.edit is not None:
            # Every fix offered for this version, now that the search has run, must parse.
            listed = await editor.code_actions(uri, rng, context)
            edits = [a.edit for a in listed if a.edit is not None]
            record["offered"] = len(edits)
            record["offered_parse"] = sum(parses(apply_to(text, e)) for e in edits)
            editor.apply(resolved.edit)
            fixed = editor.buffers[uri].text
            record["title"] = resolved.title
        record["fix_offered"] = resolved.edit is not None
    record["fix_parses"] = parses(fixed) if fixed != text else None
    record["tide_pass"] = passes(problem, fixed)
    editor.close(uri)
    # The same function without its bug: how often Tide flags correct code.
    correct = problem["prompt"] + problem["canonical_solution"]
    path.write_text(correct)
    editor.open(uri, correct, "python")
    clean = await editor.wait_diagnostics(uri, publishes=2)
    record["false_flags"] = sum(d.code == "unlikely" for d in clean)
    editor.close(uri)
    return record


async def run(args: argparse.Namespace) -> None:
    RESULTS.mkdir(exist_ok=True)
    name = "bugfix-runtests" if args.run_tests else "bugfix"
    out = RESULTS / f"{name}.jsonl"
    problems = load_problems()
    if args.problems < len(problems):
        problems = random.Random(args.seed).sample(problems, args.problems)
    done: dict[str, dict] = {}
    if args.resume and out.exists():
        done = {r["task"]: r for r in map(json.loads, out.read_text().splitlines())}
    elif out.exists():
        out.unlink()
    settings = Settings()
    engine = load_engine(locate_model(settings), settings)
    editor = ScriptedEditor()
    workdir = Path(tempfile.mkdtemp(prefix="tide-bugfix-"))
    # With --run-tests the folder is the workspace, so the opt-in check runs each function's
    # docstring examples (the problem's hidden tests are never given to the server).
    init = {"unlikelySeverity": "hint", "runTests": args.run_tests, "precompute": False}
    await editor.start(init, root_uri=workdir.as_uri() if args.run_tests else None)
    try:
        for n, problem in enumerate(problems, 1):
            if problem["task_id"] in done:
                continue
            path = workdir / f"{problem['task_id'].replace('/', '_')}.py"
            record = await tide_fix(editor, problem, path)
            started = time.perf_counter()
            code = problem["prompt"] + problem["buggy_solution"]
            naive = naive_fix(engine, problem, code)
            record["naive_s"] = round(time.perf_counter() - started, 2)
            record["naive_parses"] = parses(naive)
            record["naive_pass"] = passes(problem, naive)
            done[problem["task_id"]] = record
            with out.open("a") as handle:
                handle.write(json.dumps(record) + "\n")
            print(
                f"[{n}/{len(problems)}] {record['task']}: localized={record['localized']} "
                f"tide={record['tide_pass']} naive={record['naive_pass']} "
                f"resolve={record.get('resolve_ms', 0) / 1000:.1f}s",
                flush=True,
            )
    finally:
        await editor.stop()
        engine.close()
    summarize(list(done.values()), name)


def _pct(values: list[bool]) -> float:
    return round(100 * sum(values) / len(values), 1) if values else 0.0


def _p(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    values = sorted(values)
    return round(values[min(len(values) - 1, int(q * len(values)))], 1)


def summarize(records: list[dict], name: str) -> None:
    offered = [r for r in records if r.get("fix_offered")]
    resolve = [r["resolve_ms"] for r in records if "resolve_ms" in r]
    lightbulb = [r["lightbulb_ms"] for r in records]
    summary = {
        "command": "python -m benchmarks.bugfix " + " ".join(sys.argv[1:]),
        "machine": f"{platform.machine()} {platform.processor() or ''} "
        f"{__import__('os').cpu_count()} cores",
        "problems": len(records),
        "localization_top3_pct": _pct([r["localized"] for r in records]),
        "flagged_pct": _pct([bool(r["suspects"]) for r in records]),
        "correct_code_flagged_pct": _pct([r["false_flags"] > 0 for r in records]),
        "fix_offered_pct": _pct([bool(r.get("fix_offered")) for r in records]),
        "offered_fixes": sum(r.get("offered", 0) for r in records),
        "offered_fixes_parse_pct": round(
            100
            * sum(r.get("offered_parse", 0) for r in records)
            / max(sum(r.get("offered", 0) for r in records), 1),
            1,
        ),
        "applied_fix_parses_pct": _pct([bool(r["fix_parses"]) for r in offered]),
        "tide_pass_at_1_pct": _pct([r["tide_pass"] for r in records]),
        "naive_pass_at_1_pct": _pct([r["naive_pass"] for r in records]),
        "naive_parses_pct": _pct([r["naive_parses"] for r in records]),
        "lightbulb_ms_p50": _p(lightbulb, 0.5),
        "lightbulb_ms_p95": _p(lightbulb, 0.95),
        "resolve_ms_p50": _p(resolve, 0.5),
        "resolve_ms_p95": _p(resolve, 0.95),
        "diagnose_s_p50": _p([r["diagnose_s"] for r in records], 0.5),
        "naive_s_p50": _p([r["naive_s"] for r in records], 0.5),
    }
    (RESULTS / f"{name}-summary.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, default=164)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument(
        "--run-tests",
        action="store_true",
        help="turn on the opt-in test check (docstring examples); results in bugfix-runtests.*",
    )
    parser.add_argument(
        "--summarize", action="store_true", help="summarize the stored records, run nothing"
    )
    args = parser.parse_args()
    if args.summarize:
        name = "bugfix-runtests" if args.run_tests else "bugfix"
        records = (RESULTS / f"{name}.jsonl").read_text().splitlines()
        summarize([json.loads(line) for line in records], name)
    else:
        asyncio.run(run(args))


if __name__ == "__main__":
    main()
