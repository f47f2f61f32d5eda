"""The next-edit benchmark's plain logic (benchmarks/next_edit.py): cases from the commits in
`../shared/bench/next-edit/`, positions in UTF-16 as the server speaks them, the scores of one
answer and the summary of many. No server and no model here, so all of it is unit-tested.
"""

import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lsp_server.tuning.commits import Change, FileCommit, read_records, replay

DATA = Path(__file__).resolve().parents[2] / "shared" / "bench" / "next-edit"
_LINE_BREAK = re.compile(r"\r\n?|\n")


@dataclass(frozen=True)
class Truth:
    """The true next hunk, in the case's text: `old` lines from `line` on become `new`."""

    line: int
    old: tuple[str, ...]
    new: tuple[str, ...]


@dataclass(frozen=True)
class Case:
    """One request: open `opened`, send `changes` in order (reaching `text`), ask at `cursor`.

    kind "next" expects `expected` (the text with the true hunk applied); kind "nothing" is a
    commit cut after its last hunk, where the right answer is no edit (`truth` None).
    """

    id: str
    split: str
    repo: str
    commit: str
    path: str
    kind: str
    applied: int  # how many of the commit's hunks the changes are
    hunks: int
    opened: str
    changes: tuple[Change, ...]
    text: str
    cursor: int
    truth: Truth | None
    expected: str


@dataclass
class CaseRecord:
    """What one case got from the server and how it scores; a line of the .jsonl."""

    id: str
    split: str
    repo: str
    path: str
    kind: str
    applied: int
    hunks: int
    truth: dict | None = None
    offered: bool = False
    edits: list[dict] = field(default_factory=list)
    exact: bool = False
    location: bool = False
    errors_before: int = 0
    errors_after: int = 0
    latency_ms: float | None = None
    error: str = ""  # the request failed: an LSP error or no answer in time
    reason: str = ""  # the server's log line for the request, when it wrote one


# --- cases ----------------------------------------------------------------------------------------


def cases_of(commit: dict, split: str) -> list[Case]:
    """The commit's cases: after each of its first n-1 hunks, the next one is the truth; after
    its last, nothing is."""
    steps = replay(FileCommit.from_record(commit))
    changes: list[Change] = []
    found: list[Case] = []
    for step in steps:
        if step.change is not None:
            changes.append(step.change)
        following = step.following
        truth = Truth(following.start, following.old, following.new) if following else None
        found.append(
            Case(
                id=f"{commit['repo']}@{commit['commit'][:10]}#{step.applied}",
                split=split,
                repo=commit["repo"],
                commit=commit["commit"],
                path=commit["path"],
                kind="nothing" if following is None else "next",
                applied=step.applied,
                hunks=len(steps),
                opened=commit["before"],
                changes=tuple(changes),
                text=step.text,
                cursor=step.cursor,
                truth=truth,
                expected=step.with_following(),
            )
        )
    return found


def read_commits(split: str, data: Path = DATA) -> list[dict]:
    return read_records(data / f"{split}.jsonl.gz")


def choose_cases(commits: Sequence[dict], split: str, limit: int, seed: int) -> list[Case]:
    """Every case of the commits, or a seeded sample of `limit`, in the data's order."""
    cases = [case for commit in commits for case in cases_of(commit, split)]
    if limit and limit < len(cases):
        keep = set(random.Random(seed).sample(range(len(cases)), limit))
        cases = [case for n, case in enumerate(cases) if n in keep]
    return cases


# --- positions: LSP's UTF-16 code units --------------------------------------------------------


def _units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def position_of(text: str, offset: int) -> tuple[int, int]:
    """(line, UTF-16 character) of a code-point offset."""
    line_start = text.rfind("\n", 0, offset) + 1
    return text.count("\n", 0, offset), _units(text[line_start:offset])


def offset_of(text: str, line: int, character: int) -> int:
    """The code-point offset of an LSP position, clamped to its line and to the text."""
    start = 0
    for _ in range(line):
        found = text.find("\n", start)
        if found < 0:
            return len(text)
        start = found + 1
    end = text.find("\n", start)
    end = len(text) if end < 0 else end
    units, at = 0, start
    while at < end and units < character:
        units += 2 if ord(text[at]) > 0xFFFF else 1
        at += 1
    return at


def lsp_range(text: str, start: int, end: int) -> dict[str, dict[str, int]]:
    (sl, sc), (el, ec) = position_of(text, start), position_of(text, end)
    return {"start": {"line": sl, "character": sc}, "end": {"line": el, "character": ec}}


# --- scores ---------------------------------------------------------------------------------------


def applied_edits(text: str, edits: Iterable[dict]) -> str:
    """The text with the server's edits (LSP ranges on `text`) applied, back to front."""
    spans = []
    for edit in edits:
        rng = edit["range"]
        start = offset_of(text, rng["start"]["line"], rng["start"]["character"])
        end = offset_of(text, rng["end"]["line"], rng["end"]["character"])
        spans.append((start, max(start, end), edit["text"]))
    for start, end, new in sorted(spans, reverse=True):
        text = text[:start] + new + text[end:]
    return text


def normalised(text: str) -> str:
    """The text without trailing whitespace on its lines or at its end."""
    return "\n".join(line.rstrip() for line in _LINE_BREAK.split(text)).rstrip("\n")


def is_exact(suggested: str, expected: str) -> bool:
    return normalised(suggested) == normalised(expected)


def edit_lines(edit: dict) -> tuple[int, int]:
    """First and last line an LSP edit touches; a range ending at a line's start does not
    touch that line."""
    start, end = edit["range"]["start"], edit["range"]["end"]
    last = end["line"]
    if end["character"] == 0 and last > start["line"]:
        last -= 1
    return start["line"], last


def truth_lines(truth: Truth) -> tuple[int, int]:
    """The lines the true hunk replaces; for a pure insertion, the two lines it goes between."""
    if truth.old:
        return truth.line, truth.line + len(truth.old) - 1
    return truth.line - 1, truth.line


def location_right(edits: Iterable[dict], truth: Truth | None) -> bool:
    if truth is None:
        return False
    first, last = truth_lines(truth)
    return any(a <= last and first <= b for a, b in map(edit_lines, edits))


def score(record: CaseRecord, case: Case, edits: list[dict], count_errors) -> None:
    """Fill in the record's scores from the edits the server offered for the case;
    count_errors(text) is the number of syntax errors in a text."""
    record.edits = edits
    record.offered = bool(edits)
    if not edits:
        return
    suggested = applied_edits(case.text, edits)
    record.exact = case.kind == "next" and is_exact(suggested, case.expected)
    record.location = location_right(edits, case.truth)
    record.errors_before = count_errors(case.text)
    record.errors_after = count_errors(suggested)


# --- summary --------------------------------------------------------------------------------------

GOALS = {"exact_pct": 25.0, "p50_ms": 1500.0, "p95_ms": 4000.0, "syntax_errors_added": 0}


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def _pct(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def summarize(records: Sequence[CaseRecord]) -> dict[str, Any]:
    """The scores of a set of records: exact, location and offered over the "next" cases,
    rightly-nothing over the "nothing" cases, latency over every answered request."""
    nexts = [r for r in records if r.kind == "next"]
    nothings = [r for r in records if r.kind == "nothing"]
    offered = [r for r in nexts if r.offered]
    latencies = [r.latency_ms for r in records if not r.error and r.latency_ms is not None]
    exact = sum(r.exact for r in nexts)
    return {
        "cases": len(records),
        "next_cases": len(nexts),
        "nothing_cases": len(nothings),
        "offered": len(offered),
        "offered_pct": _pct(len(offered), len(nexts)),
        "exact": exact,
        "exact_pct": _pct(exact, len(nexts)),
        "exact_of_offered_pct": _pct(exact, len(offered)),
        "location": sum(r.location for r in nexts),
        "location_pct": _pct(sum(r.location for r in nexts), len(nexts)),
        "rightly_nothing": sum(not r.offered and not r.error for r in nothings),
        "rightly_nothing_pct": _pct(
            sum(not r.offered and not r.error for r in nothings), len(nothings)
        ),
        "syntax_errors_added": sum(r.offered and r.errors_after > r.errors_before for r in records),
        "p50_ms": round(percentile(latencies, 50), 1) if latencies else None,
        "p95_ms": round(percentile(latencies, 95), 1) if latencies else None,
        "errors": sum(bool(r.error) for r in records),
    }


def goals_met(scores: dict[str, Any]) -> dict[str, bool | None]:
    """The issue's goals that one run can check (the adapter's twice-zero-shot needs two)."""
    met: dict[str, bool | None] = {}
    for key, bound in GOALS.items():
        value = scores.get(key)
        if value is None:
            met[key] = None
        elif key == "exact_pct":
            met[key] = value >= bound
        else:
            met[key] = value <= bound
    return met


def grouped(records: Sequence[CaseRecord]) -> dict[str, dict[str, Any]]:
    """Per split: all its records, then each repository's."""
    out: dict[str, dict[str, Any]] = {}
    for split in dict.fromkeys(r.split for r in records):
        mine = [r for r in records if r.split == split]
        scores = summarize(mine)
        out[split] = {"all": {**scores, "goals": goals_met(scores)}}
        for repo in sorted({r.repo for r in mine}):
            out[split][repo] = summarize([r for r in mine if r.repo == repo])
    return out


def _fmt(value: Any, unit: str = "") -> str:
    return "-" if value is None else f"{value:g}{unit}"


def table(splits: dict[str, dict[str, Any]]) -> str:
    """The summary as a plain table: a row per split and repository."""
    head = (
        f"{'split':<7}{'repository':<20}{'next':>5}{'exact':>8}{'location':>10}{'offered':>9}"
        f"{'nothing':>8}{'right':>8}{'syntax+':>8}{'p50 ms':>9}{'p95 ms':>9}{'err':>5}"
    )
    rows = [head, "-" * len(head)]
    for split, parts in splits.items():
        for repo, s in parts.items():
            rows.append(
                f"{split:<7}{repo:<20}{s['next_cases']:>5}{_fmt(s['exact_pct'], '%'):>8}"
                f"{_fmt(s['location_pct'], '%'):>10}{_fmt(s['offered_pct'], '%'):>9}"
                f"{s['nothing_cases']:>8}{_fmt(s['rightly_nothing_pct'], '%'):>8}"
                f"{s['syntax_errors_added']:>8}{_fmt(s['p50_ms']):>9}{_fmt(s['p95_ms']):>9}"
                f"{s['errors']:>5}"
            )
    rows.append(
        "exact, location, offered: of the next-edit cases; right: nothing offered on the "
        "cases cut after a commit's last hunk; syntax+: offered edits adding a syntax error; "
        "p50/p95: every answered request"
    )
    return "\n".join(rows)
