"""Completion quality: Tide's full pipeline over LSP against a naive FIM baseline, same model,
same run.

    .venv/bin/python -m benchmarks.quality [--part humaneval|multiline|lines|crossfile|all]
        [--limit N | --first N] [--seed 0] [--resume] [--summarize] [--name NAME]
        [--tide-settings JSON]

Rows, each on the same cases:
- naive: the raw FIM prompt of the text around the cursor in prefix-suffix-middle order (what
  most tools send), greedy, cut at the first line break (multi-line: at the first blank line);
- tide: the real `tide-lsp` over stdio, one inline-completion request per case, the answer
  applied as the editor would.

Parts:
1. humaneval: HumanEval single-line infilling (all 1,033 tasks without --limit): the hole's line
   is blank and indented, as after pressing Enter; exact match of the line and pass@1 (the
   problem's tests, executed with a timeout).
   multiline: HumanEval multi-line infilling, a seeded sample (300 by default).
2. lines: line completion on real code from packages installed in the venv (Python) and by npm
   (TypeScript), cursors at natural trigger points (after `.`, `(`, `=`, the start of an
   indented line, mid-identifier); exact match and edit similarity of the completed line.
3. crossfile: small generated projects where the right completion names a function defined only
   in another file; exact match with and without cross-file context (tide rows).
Also: the share of completions that leave the file with a new syntax error, the share that
repeat the suffix, and the median number of generated characters thrown away (from the
server's log).
Results: benchmarks/results/quality-<part>.jsonl (one line per case) and quality-summary.json;
with `--name`, quality-<part>-NAME.jsonl and the summary's entry <part>-NAME, so that a run with
other `--tide-settings` sits beside the published one.
"""

import argparse
import asyncio
import difflib
import gzip
import itertools
import json
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

from lsprotocol import types

from benchmarks.programs import program_passes
from examples.driver import ScriptedEditor, as_dict
from lsp_server.completion.cut import without_new_errors
from lsp_server.completion.edit import Edit, repeats_suffix
from lsp_server.completion.prompts import build_prompt
from lsp_server.completion.window import LineTokenCounter, cursor_window
from lsp_server.config import Settings
from lsp_server.engines.base import GenerationParams, GenerationStats
from lsp_server.engines.loading import load_engine, locate_model
from lsp_server.text.languages import language_for, parser_for
from lsp_server.text.parsed_text import ParsedText

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared/bench/human-eval-infilling"
RESULTS = Path(__file__).resolve().parent / "results"


# --- cases ------------------------------------------------------------------------------------


def humaneval_cases(name: str, limit: int | None, seed: int, first: int = 0) -> list[dict]:
    with gzip.open(DATA / f"HumanEval-{name}.jsonl.gz", "rt") as handle:
        tasks = [json.loads(line) for line in handle]
    if first:
        # In file order, as the full run starts: a problem's tasks follow one another, so the
        # engine's cache holds most of each prompt, as it does while a user works in one file.
        tasks = tasks[:first]
    elif limit is not None and limit < len(tasks):
        tasks = random.Random(seed).sample(tasks, limit)
    cases = []
    for task in tasks:
        middle = task["canonical_solution"]
        indent = middle[: len(middle) - len(middle.lstrip(" \t"))]
        cases.append(
            {
                "id": task["task_id"],
                "language": "python",
                # The hole's first line is blank and indented, as after pressing Enter.
                "prefix": task["prompt"] + indent,
                "suffix": "\n" + task["suffix"],
                "expected": middle.rstrip("\n")[len(indent) :],
                "task": task,
            }
        )
    return cases


_TRIGGERS = {
    "dot": re.compile(r"\w\.(?=\w)"),
    "paren": re.compile(r"\w\((?=\S)"),
    "assign": re.compile(r"[^=!<>]= (?=\S)"),
}


def _sized(paths, skip=lambda p: False) -> list[Path]:
    return sorted(p for p in paths if not skip(p) and 2_000 < p.stat().st_size < 60_000)


def real_code_files() -> dict[str, list[Path]]:
    """Real files not from this repository, per language, sorted; the replay uses them too.

    Python from packages in the venv, TypeScript from the VS Code extension's npm packages, Go
    from the Go standard library's source as Debian packages it (`apt-get install
    golang-1.19-src`); a language whose files are missing is left out and said so.
    """
    site = ROOT / ".venv/lib/python3.11/site-packages"
    python = _sized(
        p
        for package in ("pygls", "lsprotocol", "huggingface_hub", "pathspec", "tqdm")
        for p in (site / package).rglob("*.py")
    )
    typescript = _sized(
        (ROOT / "editors/vscode/node_modules").rglob("*.ts"), lambda p: p.name.endswith(".d.ts")
    )
    go = _sized(
        (p for src in sorted(Path("/usr/share").glob("go-1.*/src")) for p in src.rglob("*.go")),
        lambda p: "testdata" in p.parts or "vendor" in p.parts,
    )
    per_language = {"python": python, "typescript": typescript, "go": go}
    for language, files in per_language.items():
        if not files:
            print(f"lines: no {language} files found; that language is left out", flush=True)
    return per_language


def real_code_cases(limit: int, seed: int) -> list[dict]:
    """Cursors at natural trigger points of the real files of `real_code_files`."""
    rng = random.Random(seed)
    per_language = real_code_files()
    cases: list[dict] = []
    for language, files in per_language.items():
        if files:
            want = -(-limit // len([f for f in per_language.values() if f]))
            cases += line_cases(
                [(p, p.read_text(encoding="utf-8", errors="replace")) for p in files],
                language,
                want,
                rng,
            )
    # Languages take turns, so that a run stopped early still covers each of them.
    by_language = [[c for c in cases if c["language"] == lang] for lang in per_language]
    return [c for turn in itertools.zip_longest(*by_language) for c in turn if c is not None]


def line_cases(
    files: list[tuple[Path, str]], language: str, want: int, rng: random.Random
) -> list[dict]:
    """Up to `want` cursors at natural trigger points of these files (path, text), each with
    the rest of its line as the expected completion."""
    cases: list[dict] = []
    tries = 0
    while len(cases) < want and tries < want * 50:
        tries += 1
        path, text = rng.choice(files)
        text = text.replace("\r\n", "\n")
        lines = text.split("\n")
        row = rng.randrange(len(lines))
        line = lines[row]
        if len(line.strip()) < 8 or line.strip().startswith(("#", "//", "*", "/*", '"""')):
            continue
        kind = rng.choice(["dot", "paren", "assign", "indent", "word"])
        column = _trigger_column(line, kind, rng)
        if column is None:
            continue
        start = sum(len(x) + 1 for x in lines[:row])
        cases.append(
            {
                "id": f"{'/'.join(path.parts[-3:])}:{row + 1}:{column}:{kind}",
                "language": language,
                "path": str(path),
                "prefix": text[: start + column],
                "suffix": text[start + len(line) :],
                "expected": line[column:].rstrip(),
                "kind": kind,
            }
        )
    return cases


def _trigger_column(line: str, kind: str, rng: random.Random) -> int | None:
    indent = len(line) - len(line.lstrip())
    if kind == "indent":
        return indent if indent else None
    if kind == "word":
        words = [m for m in re.finditer(r"[A-Za-z_]\w{3,}", line) if m.start() >= indent]
        if not words:
            return None
        word = rng.choice(words)
        return word.start() + rng.randrange(1, len(word.group()))
    found = list(_TRIGGERS[kind].finditer(line))
    return rng.choice(found).end() if found else None


CROSS_TEMPLATES = [
    ("geometry", "def {name}(width, height):\n    return width * height\n", "area = {call}(3, 4)"),
    ("text", "def {name}(value):\n    return value.strip().lower()\n", 'word = {call}(" Hi ")'),
    (
        "store",
        "def {name}(items, key):\n    return [i for i in items if key in i]\n",
        "found = {call}(rows, 'id')",
    ),
]
_SYLLABLES = ["zor", "mek", "tal", "vin", "dra", "pol", "kus", "ber", "lin", "fas"]


def crossfile_cases(limit: int, seed: int) -> list[dict]:
    """Projects where the completion must name a function that only another file defines."""
    rng = random.Random(seed)
    cases = []
    for n in range(limit):
        module, body, use = CROSS_TEMPLATES[n % len(CROSS_TEMPLATES)]
        name = "_".join(rng.sample(_SYLLABLES, 2)) + f"_{module}"
        line = use.format(call=name)
        # The cursor two letters into the name, its arguments already typed after it: the
        # completion is the rest of a name that only the other file defines.
        at = line.index(name)
        cases.append(
            {
                "id": f"crossfile/{n}/{name}",
                "language": "python",
                "files": {f"{module}.py": body.format(name=name)},
                "prefix": f"from {module} import *\n\nrows = []\n{line[: at + 2]}",
                "suffix": line[at + len(name) :] + "\n",
                "expected": name[2:],
            }
        )
    return cases


# --- rows ---------------------------------------------------------------------------------------


def naive_completion(engine, counter: LineTokenCounter, case: dict, multiline: bool) -> str:
    # The same token window Tide's default budget gives, laid out prefix-suffix-middle.
    window = cursor_window(
        case["prefix"] + case["suffix"],
        len(case["prefix"]),
        Settings().context_budget,
        counter,
        suffix_share=Settings().suffix_share,
    )
    prompt = build_prompt(engine.template, window.prefix, window.suffix, order="psm")
    text = ""
    for piece in engine.stream(
        prompt, GenerationParams(max_tokens=128), lambda: False, GenerationStats()
    ):
        text += piece
        if not multiline and "\n" in text:
            break
        if multiline and "\n\n" in text:
            break
    return text.split("\n\n")[0] if multiline else text.split("\n")[0]


async def tide_completion(
    editor: ScriptedEditor, uri: str, case: dict, reported: dict[str, bool]
) -> tuple[str, str | None]:
    """Tide's suggestion for the case, as a user who waits sees it; and, when it was answered
    early, what that early answer showed. An early answer's generation goes on, and an answer
    on a short arrival window is followed by a fuller run on the whole prompt: when that ends
    (its `tide/generation` report comes) the server says whether the rest is ready, and the
    editor asks again, as Tide's clients do. A whole answer's report comes before it."""
    text = case["prefix"] + case["suffix"]
    buffer = editor.open(uri, text, case["language"])
    editor.move(uri, len(case["prefix"]))
    shown = await _ask(editor, uri, buffer, case)
    early = None
    if not reported.get(uri, False):
        early = shown
        for _ in range(REPORT_WAIT_STEPS):
            if reported.get(uri, False):
                break
            await asyncio.sleep(0.05)
        # The notice, when there is one, is sent right after the report.
        for _ in range(READY_GRACE_STEPS):
            if any(_ready_for(r, uri) for r in editor.readies):
                break
            await asyncio.sleep(0.05)
        if any(_ready_for(r, uri) for r in editor.readies):
            shown = await _ask(editor, uri, buffer, case)
    editor.close(uri)
    return shown, early


def _ready_for(ready: dict, uri: str) -> bool:
    return ready.get("textDocument", {}).get("uri") == uri


async def _ask(editor: ScriptedEditor, uri: str, buffer, case: dict) -> str:
    """One automatic inline request; what stands between the prefix and the suffix after it."""
    text = case["prefix"] + case["suffix"]
    result = await editor.client.text_document_inline_completion_async(
        types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=buffer.cursor,
            context=types.InlineCompletionContext(
                trigger_kind=types.InlineCompletionTriggerKind.Automatic
            ),
        )
    )
    if not result or not result.items:
        return ""
    item = result.items[0]
    start = buffer.offset(item.range.start)
    end = buffer.offset(item.range.end)
    after = text[:start] + item.insert_text + text[end:]
    # What now stands between the prefix and the (unchanged) rest of the suffix.
    tail = case["suffix"]
    return after[len(case["prefix"]) : len(after) - len(tail)] if after.endswith(tail) else ""


def _breaks(case: dict, completion: str, parser) -> bool:
    """Whether the completion adds a syntax error: the server's own check would cut it."""
    document = ParsedText(case["prefix"] + case["suffix"], parser)
    at = len(case["prefix"])
    return without_new_errors(document, completion, lambda c: Edit(at, at, c)) != completion


def score(case: dict, completion: str, multiline: bool) -> dict:
    got = completion.rstrip() if multiline else completion.split("\n")[0].rstrip()
    expected = case["expected"].rstrip()
    language = language_for(case["language"])
    parser = parser_for(language) if language else None
    broke = bool(parser and completion and _breaks(case, completion, parser))
    line_suffix = case["suffix"].split("\n", 1)[0]
    return {
        "exact": got.strip() == expected.strip(),
        "similarity": round(
            difflib.SequenceMatcher(None, got.strip(), expected.strip()).ratio(), 3
        ),
        "empty": not got.strip(),
        "syntax_error": broke,
        "repeats_suffix": bool(got.strip()) and repeats_suffix(got, line_suffix, case["suffix"]),
    }


def passes(case: dict, completion: str) -> bool:
    task = case["task"]
    program = case["prefix"] + completion + case["suffix"] + "\n" + task["test"]
    return program_passes(program + f"\ncheck({task['entry_point']})\n")


# Steps of 50 ms: up to 30 s for an early answer's generation to end, then half a second for
# its ready notice.
REPORT_WAIT_STEPS = 600
READY_GRACE_STEPS = 10
_EXTENSIONS = {"python": ".py", "typescript": ".ts", "go": ".go"}


def keep(record: dict, rows: list[dict], out: Path) -> None:
    """One case's record, kept in memory and appended to the results file at once."""
    rows.append(record)
    with out.open("a") as handle:
        handle.write(json.dumps(record) + "\n")


def done_rows(out: Path) -> list[dict]:
    """The records an interrupted run already wrote, for --resume."""
    if not out.exists():
        return []
    return [json.loads(line) for line in out.read_text().splitlines() if line.strip()]


async def run_part(
    part: str, cases: list[dict], engine, init: dict, out: Path, rows: list[dict], name: str = ""
) -> list[dict]:
    multiline = part == "multiline"
    done = {r["id"] for r in rows}
    cases = [c for c in cases if c["id"] not in done]
    workdir = Path(tempfile.mkdtemp(prefix=f"tide-quality-{part}-"))
    # No precompute: cases do not follow one another as accepts, so it would only cost time.
    settings = {
        "candidates": 1,
        "unlikelySeverity": "off",
        "diagnostics": False,
        "precompute": False,
        # The reports tell an early answer from a whole one (see tide_completion).
        "reportGenerations": True,
        **init,
    }
    if multiline:
        settings["maxLines"] = 16
    editors: dict[str, ScriptedEditor] = {}
    # Per editor: whether each document's last answer is its whole (see reported_uris).
    reported: dict[str, dict[str, bool]] = {}
    counter = LineTokenCounter(engine.count_tokens)
    try:
        for n, case in enumerate(cases, 1):
            root = workdir / f"case{n}"
            root.mkdir()
            for rel, content in case.get("files", {}).items():
                (root / rel).write_text(content)
            uri = (root / f"main{_EXTENSIONS[case['language']]}").as_uri()
            record = {"id": case["id"], "language": case["language"], "kind": case.get("kind")}
            started = time.perf_counter()
            naive = naive_completion(engine, counter, case, multiline)
            record["naive_s"] = round(time.perf_counter() - started, 2)
            record["naive"] = {**score(case, naive, multiline), "text": naive}
            variants = {"tide": settings}
            if part == "crossfile":
                variants["tide_no_crossfile"] = {**settings, "crossFileBudget": 0}
            for row, row_settings in variants.items():
                # Each case is its own workspace, so the server starts per case for crossfile.
                key = f"{row}:{root if part == 'crossfile' else ''}"
                editor = editors.get(key)
                if editor is None:
                    for old in list(editors):
                        if part == "crossfile":
                            await editors.pop(old).stop()
                    log = RESULTS / f"quality-{part}{name}-{row}.log"
                    editor = ScriptedEditor("--log-file", str(log))
                    reported[key] = reported_uris(editor)
                    await editor.start(row_settings, root_uri=root.as_uri())
                    editors[key] = editor
                started = time.perf_counter()
                tide, early = await tide_completion(editor, uri, case, reported[key])
                record[f"{row}_s"] = round(time.perf_counter() - started, 2)
                record[row] = {
                    **score(case, tide, multiline),
                    "text": tide,
                    "thrown_away": thrown_away(RESULTS / f"quality-{part}{name}-{row}.log", uri),
                }
                if early is not None:
                    record[row]["early"] = early
            if "task" in case:
                # A single-line task is judged on the first line of each answer, as its exact
                # match is; a multi-line task on the whole answer.
                for row in ("naive", "tide"):
                    text = record[row]["text"]
                    record[row]["pass"] = passes(case, text if multiline else text.split("\n")[0])
            keep(record, rows, out)
            print(
                f"[{part} {n}/{len(cases)}] {case['id']}: naive={record['naive']['exact']} "
                f"tide={record['tide']['exact']}",
                flush=True,
            )
    finally:
        for editor in editors.values():
            await editor.stop()
    return rows


def reported_uris(editor: ScriptedEditor) -> dict[str, bool]:
    """Per document whose request generation has been reported, kept up to date: whether its
    answer is the whole (False while a fuller run on the whole prompt is to follow a short
    arrival's)."""
    uris: dict[str, bool] = {}

    # A plain function: pygls marks what it registers, which a bound method refuses.
    def on_generation(params) -> None:
        report = as_dict(params)
        if report.get("kind") in ("request", "fuller"):
            uris[report.get("uri")] = not report.get("short", False)

    editor.client.feature("tide/generation")(on_generation)
    return uris


_THROWN_AWAY = re.compile(r"complete (\S+) v\d+: window .* (\d+) tok thrown away")


def thrown_away(log: Path, uri: str) -> list[int]:
    """Generated tokens the cut left out, per model run on this document, from the server's log.

    Kept in each case's record, since the log is not: a run resumed on another machine still
    has every case's figure.
    """
    if not log.exists():
        return []
    text = log.read_text(errors="replace")
    return [int(m.group(2)) for m in _THROWN_AWAY.finditer(text) if m.group(1) == uri]


def summarize(rows: list[dict]) -> dict:
    out: dict = {"cases": len(rows)}
    for row in ("naive", "tide", "tide_no_crossfile"):
        have = [r[row] for r in rows if row in r]
        if not have:
            continue

        def pct(key: str, have: list[dict] = have) -> float:
            return round(100 * sum(bool(h.get(key)) for h in have) / len(have), 1)

        out[row] = {
            "exact_pct": pct("exact"),
            "similarity_mean": round(statistics.mean(h["similarity"] for h in have), 3),
            "syntax_error_pct": pct("syntax_error"),
            "repeats_suffix_pct": pct("repeats_suffix"),
            "empty_pct": pct("empty"),
        }
        if "pass" in have[0]:
            out[row]["pass_at_1_pct"] = pct("pass")
        latency = [r[f"{row}_s"] for r in rows if f"{row}_s" in r]
        out[row]["latency_s_p50"] = round(statistics.median(latency), 2)
        cut = [n for r in rows if row in r for n in r[row].get("thrown_away", [])]
        if cut:
            out[row]["thrown_away_tokens_median"] = statistics.median(cut)
    return out


def inside_literal(case: dict) -> bool:
    """Whether the cursor sits inside a string or comment (judged by the grammar alone)."""
    info = language_for(case["language"])
    if info is None:
        return False
    data = (case["prefix"] + case["suffix"]).encode("utf-8")
    byte = len(case["prefix"].encode("utf-8"))
    node = parser_for(info).parse(data).root_node.descendant_for_byte_range(byte - 1, byte)
    while node is not None:
        literal = node.type in info.string_types or node.type in info.comment_types
        if literal and node.start_byte < byte < node.end_byte:
            return True
        node = node.parent
    return False


def breakdown(rows: list[dict], cases: list[dict]) -> dict:
    """The summary per language, and over the cursors in code (not in strings or comments)."""
    by_id = {c["id"]: c for c in cases}
    groups = {f"language {x}": [r for r in rows if r["language"] == x] for x in _EXTENSIONS}
    groups["code positions"] = [r for r in rows if not inside_literal(by_id[r["id"]])]
    return {name: summarize(group) for name, group in groups.items() if group}


def part_cases(part: str, args: argparse.Namespace) -> list[dict]:
    if part == "humaneval":
        return humaneval_cases("SingleLineInfilling", args.limit, args.seed, args.first)
    if part == "multiline":
        return humaneval_cases("MultiLineInfilling", args.limit or 300, args.seed)
    if part == "lines":
        return real_code_cases(args.limit or 500, args.seed)
    return crossfile_cases(args.limit or 50, args.seed)


async def run(args: argparse.Namespace) -> None:
    RESULTS.mkdir(exist_ok=True)
    parts = ["humaneval", "multiline", "lines", "crossfile"] if args.part == "all" else [args.part]
    command = "python -m benchmarks.quality " + " ".join(sys.argv[1:])
    summary: dict = {"command": command}
    name = f"-{args.name}" if args.name else ""
    if args.summarize:
        for part in parts:
            rows = done_rows(RESULTS / f"quality-{part}{name}.jsonl")
            if rows:
                summary[part] = summarize(rows)
                if part == "lines":
                    summary[part]["breakdown"] = breakdown(rows, part_cases(part, args))
        print(json.dumps(summary, indent=2))
        return
    settings = Settings()
    engine = load_engine(locate_model(settings), settings)
    for part in parts:
        cases = part_cases(part, args)
        out = RESULTS / f"quality-{part}{name}.jsonl"
        if not args.resume:
            out.unlink(missing_ok=True)
            for log in RESULTS.glob(f"quality-{part}{name}-*.log"):
                log.unlink()
        rows = await run_part(part, cases, engine, args.tide_settings, out, done_rows(out), name)
        summary[part] = {"command": command, **summarize(rows)}
        if part == "lines":
            summary[part]["breakdown"] = breakdown(rows, cases)
        print(json.dumps(summary[part], indent=2), flush=True)
        save_summary(part + name, summary[part])
    engine.close()


def save_summary(part: str, figures: dict) -> None:
    """Replace one part's figures in quality-summary.json, keeping the other parts'."""
    path = RESULTS / "quality-summary.json"
    saved = json.loads(path.read_text()) if path.exists() else {}
    saved[part] = figures
    path.write_text(json.dumps(saved, indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", default="all")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--first", type=int, default=0, help="humaneval: the first N tasks in file order"
    )
    parser.add_argument("--resume", action="store_true", help="keep the cases already run")
    parser.add_argument(
        "--summarize", action="store_true", help="only summarize the cases already run"
    )
    parser.add_argument("--name", default="", help="results go to quality-PART-NAME.jsonl")
    parser.add_argument(
        "--tide-settings", type=json.loads, default={}, help="JSON settings for the tide rows"
    )
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
