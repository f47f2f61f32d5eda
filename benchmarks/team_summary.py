"""The team benchmark's arithmetic, as plain functions on plain data (benchmarks/team.py runs it).

Per number of developers and configuration: each developer's and the pooled fresh-suggestion
p50/p95, the requests answered with an error and those never answered, the prompt reuse while
typing and overall, the aggregate tokens per second, and which of llama-server's slots each
developer's requests ran in, read from llama-server's log; then the issue's goals. Nothing here
touches a server or the clock (tests/unit/test_team_summary.py checks it on literal data).
"""

import re
from collections import Counter
from dataclasses import dataclass, field

from benchmarks.latency import percentile
from benchmarks.replay_policy import summarize

P50_RATIO_GOAL = 2.0  # N=4 over N=1, each developer's fresh-suggestion p50
REUSE_GOAL_PCT = 90.0  # server-side prompt tokens reused while typing
# A run's report reaches the benchmark within this long of its task's end in llama-server's log:
# Tide reports once it has read the last chunk or closed the stream, and the server logs the
# close (`cancel task`) as it notices it. The slot's release can come seconds later, after the
# batch being decoded, so a cancelled task's end is its cancel.
WINDOW_S = 0.3
SURPLUS = 16  # tokens a server may generate past what Tide read before it notices the close

# llama-server's slot lines (tools/server/server-common.h, SLT_INF): `<minutes>.<s>.<ms>.<us> I
# slot <func>: id <n> | task <t> | ...`, the function name cut to 12 characters.
_STAMP = re.compile(r"^(\d+)\.(\d\d)\.(\d{3})\.(\d{3}) ")
_SLOT = re.compile(r"slot\s+(\S+): id\s+(\d+) \| task (-?\d+) \| (.*)")
_SELECTED = re.compile(r"selected slot by (id|LCP similarity|LRU)(?:, f_sim_best = ([\d.]+))?")
_EVAL = re.compile(r"^\s*(prompt )?eval time =\s*[\d.]+ ms /\s*(\d+) tokens")
_RELEASE = re.compile(r"stop processing: n_tokens = (\d+)")
_CANCEL = re.compile(r"cancel task, id_task = (\d+)")
SELECTION = {"id": "id", "LCP similarity": "lcp", "LRU": "lru"}
CLOSE = 0.5  # an LCP choice at least this similar found the developer's own earlier prompt


@dataclass
class SlotTask:
    """One task llama-server ran, from its log (times in seconds on the log's clock)."""

    task: int
    slot: int
    selected: str = ""  # how the slot was chosen: id, lcp, lru
    similarity: float | None = None  # of the prompt to the slot's cache, for an LCP choice
    launch_s: float | None = None
    release_s: float | None = None
    cancel_s: float | None = None
    evaluated: int | None = None  # prompt tokens evaluated (print_timing: finished tasks)
    generated: int | None = None
    n_tokens: int | None = None  # the slot's cells at release: prompt and generated
    cancelled: bool = False


def _stamp(line: str) -> float | None:
    m = _STAMP.match(line)
    if not m:
        return None
    minutes, seconds, ms, us = (int(g) for g in m.groups())
    return minutes * 60 + seconds + ms / 1e3 + us / 1e6


def parse_server_log(text: str) -> list[SlotTask]:
    """The tasks in llama-server's log, in the order they started."""
    tasks: dict[int, SlotTask] = {}
    chosen: dict[int, tuple[str, float | None]] = {}  # slot -> its choice for the next task
    for line in text.splitlines():
        cancel = _CANCEL.search(line)
        if cancel and int(cancel.group(1)) in tasks:
            tasks[int(cancel.group(1))].cancelled = True
            tasks[int(cancel.group(1))].cancel_s = _stamp(line)
            continue
        m = _SLOT.search(line)
        if not m:
            continue
        func, slot, task, rest = m.group(1), int(m.group(2)), int(m.group(3)), m.group(4)
        selected = _SELECTED.search(rest)
        if selected:
            similarity = float(selected.group(2)) if selected.group(2) else None
            chosen[slot] = (SELECTION[selected.group(1)], similarity)
        elif func.startswith("launch_slot") and "processing task" in rest:
            how, similarity = chosen.pop(slot, ("", None))
            tasks[task] = SlotTask(task, slot, how, similarity, launch_s=_stamp(line))
        elif task in tasks:
            timing, release = _EVAL.search(rest), _RELEASE.search(rest)
            if timing and timing.group(1):
                tasks[task].evaluated = int(timing.group(2))
            elif timing:
                tasks[task].generated = int(timing.group(2))
            elif release:
                tasks[task].n_tokens = int(release.group(1))
                tasks[task].release_s = _stamp(line)
    return list(tasks.values())


def selection_counts(tasks: list[SlotTask]) -> dict[str, int]:
    """How llama-server chose each task's slot; `lcp_close`: by a prompt at least CLOSE alike,
    which only the same developer's earlier prompt is (the others' files differ)."""
    counts = Counter(t.selected or "unknown" for t in tasks)
    close = sum(t.selected == "lcp" and (t.similarity or 0) >= CLOSE for t in tasks)
    return {**{k: counts.get(k, 0) for k in ("id", "lcp", "lru", "unknown")}, "lcp_close": close}


def clock_offset(sent_s: float, answered_s: float, probe: SlotTask) -> float | None:
    """What to add to the log's times to put them on the benchmark's clock, from one request
    sent at `sent_s` and answered at `answered_s` that ran as `probe`."""
    if probe.launch_s is None or probe.release_s is None:
        return None
    return ((sent_s - probe.launch_s) + (answered_s - probe.release_s)) / 2


def _fits(task: SlotTask, run: dict) -> bool:
    """Whether the cells the slot held fit the run's tokens, where the server reported them."""
    if task.n_tokens is None or not run.get("prompt_tokens"):
        return True
    surplus = task.n_tokens - run["prompt_tokens"] - run["generated_tokens"]
    return -2 <= surplus <= SURPLUS


@dataclass
class SlotMatch:
    slots: dict[int, list[int]] = field(default_factory=dict)  # developer -> slot per run
    ended: int = 0  # tasks with an end in the log: a release or a cancel
    ambiguous: int = 0  # as near to two developers' reports
    unmatched: int = 0  # no report near


def match_tasks(tasks: list[SlotTask], runs: dict[int, list[dict]], offset_s: float) -> SlotMatch:
    """Which developer each task belongs to, by time: the log does not name the client.

    A task ends (its cancel, else its release) when Tide has its text or has closed the stream;
    Tide's tide/generation report comes at once (`received_s` on the benchmark's clock;
    `offset_s` puts the log's times on that clock). A task is a developer's when their report,
    and no other developer's, is within WINDOW_S of its end and fits the cells the slot held; a
    task near several developers' reports is left out. A run that ended in an error sends no
    report, so its task stays unmatched.
    """
    match = SlotMatch(slots={d: [] for d in runs})
    used: set[tuple[int, int]] = set()
    for task in tasks:
        end = task.cancel_s if task.cancel_s is not None else task.release_s
        if end is None:
            continue
        match.ended += 1
        at = end + offset_s
        near = [
            (abs(run["received_s"] - at), developer, i)
            for developer, mine in runs.items()
            for i, run in enumerate(mine)
            if (developer, i) not in used
            and run.get("received_s") is not None
            and abs(run["received_s"] - at) <= WINDOW_S
            and _fits(task, run)
        ]
        if not near:
            match.unmatched += 1
        elif len({developer for _, developer, _ in near}) > 1:
            match.ambiguous += 1
        else:
            _, developer, i = min(near)
            used.add((developer, i))
            match.slots[developer].append(task.slot)
    return match


def _ratio_pct(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def reuse(runs: list[dict]) -> dict:
    """Prompt tokens the server took from its cache over the prompt tokens sent, while typing
    (every run but the one on arriving at the region) and overall."""
    typing = [r for r in runs if r.get("cause") != "arrival"]
    sent, reused = sum(r["prompt_tokens"] for r in typing), sum(r["reused_tokens"] for r in typing)
    return {
        "typing_reuse_pct": _ratio_pct(reused, sent),
        "overall_reuse_pct": _ratio_pct(
            sum(r["reused_tokens"] for r in runs), sum(r["prompt_tokens"] for r in runs)
        ),
        "typing_prompt_tokens": sent,
        "typing_reused_tokens": reused,
    }


def _p(values: list[float], q: float) -> float | None:
    return round(percentile(values, q), 1) if values else None


def developer_figures(record: dict) -> dict:
    """One developer's figures from their record (a dict, as written to the .jsonl file)."""
    fresh = record["fresh_ms"]
    responses = record["responses"]
    return {
        "developer": record["developer"],
        "region": record["region"],
        "fresh_n": len(fresh),
        "fresh_p50_ms": _p(fresh, 50),
        "fresh_p95_ms": _p(fresh, 95),
        "accepted_chars": record["accepted_chars"],
        "chars": record["chars"],
        "errors": responses.get("error", 0),
        "unanswered": responses.get("missing", 0),
        "slots": sorted(set(record.get("slots", []))),
    }


def group_figures(records: list[dict], phase_s: float, selection: dict | None = None) -> dict:
    """The figures of one N and configuration: its developers' records, the wall time of the
    typing phase (all of them together), and llama-server's slot choices when shared."""
    pooled = summarize(records)
    runs = [run for r in records for run in r["runs"]]
    generated = sum(run["generated_tokens"] for run in runs)
    evaluated = sum(run["evaluated_tokens"] for run in runs)
    developers = [developer_figures(r) for r in records]
    slots = [len(d["slots"]) for d in developers if d["slots"]]
    return {
        "developers": len(records),
        "fresh_p50_ms": pooled["fresh_p50_ms"],
        "fresh_p95_ms": pooled["fresh_p95_ms"],
        "developer_p50_ms": [d["fresh_p50_ms"] for d in developers],
        "developer_p95_ms": [d["fresh_p95_ms"] for d in developers],
        "accepted_chars": pooled["accepted_chars"],
        "chars": pooled["chars"],
        "accepted_pct": pooled["accepted_pct"],
        "errors": sum(d["errors"] for d in developers),
        "unanswered": sum(d["unanswered"] for d in developers),
        "responses": pooled["responses"],
        "line_starts": pooled["line_starts"],
        "line_starts_served": pooled["line_starts_served"],
        **reuse(runs),
        "model_runs": len(runs),
        "phase_s": round(phase_s, 1),
        "generated_tok_per_s": round(generated / phase_s, 2) if phase_s else None,
        "evaluated_tok_per_s": round(evaluated / phase_s, 1) if phase_s else None,
        "slots_per_developer_max": max(slots) if slots else None,
        "slot_selection": selection or {},
        "per_developer": developers,
    }


def goals(groups: dict[str, dict[str, dict]]) -> dict:
    """The issue's goals from the figures per N (as a string) and configuration."""
    shared = {n: parts["shared"] for n, parts in groups.items() if "shared" in parts}
    one, four = shared.get("1"), shared.get("4")
    pooled = worst = None
    if one and four and one["fresh_p50_ms"] and four["fresh_p50_ms"]:
        pooled = round(four["fresh_p50_ms"] / one["fresh_p50_ms"], 2)
        # "Each one's" p50: the slowest developer at N=4 against the single developer.
        mine = [p for p in four["developer_p50_ms"] if p is not None]
        worst = round(max(mine) / one["fresh_p50_ms"], 2) if mine else None
    unanswered = sum(g["unanswered"] for g in shared.values()) if shared else None
    reuse_pct = _ratio_pct(
        sum(g["typing_reused_tokens"] for g in shared.values()),
        sum(g["typing_prompt_tokens"] for g in shared.values()),
    )
    each = [g["typing_reuse_pct"] for g in shared.values() if g["typing_reuse_pct"] is not None]
    return {
        "p50_n4_over_n1_pooled": pooled,
        "p50_n4_over_n1_worst_developer": worst,
        "p50_goal_met": None if worst is None else worst <= P50_RATIO_GOAL,
        "unanswered_shared": unanswered,
        "unanswered_all": sum(g["unanswered"] for p in groups.values() for g in p.values()),
        "unanswered_goal_met": None if unanswered is None else unanswered == 0,
        "typing_reuse_pct_shared": reuse_pct,
        "typing_reuse_pct_lowest_n": min(each) if each else None,
        "reuse_goal_met": None if reuse_pct is None else reuse_pct >= REUSE_GOAL_PCT,
    }


def _fmt(value: float | None, unit: str = "") -> str:
    return "-" if value is None else f"{value:g}{unit}"


def table(groups: dict[str, dict[str, dict]], checks: dict) -> str:
    """The figures as a plain table, a row per N and configuration, then the goals."""
    head = (
        f"{'N':>3} {'config':<7}{'p50 ms':>8}{'p95 ms':>8}  {'dev p50 ms':<22}{'accepted':>9}"
        f"{'err':>5}{'unans':>6}{'starts<1s':>10}{'reuse typ':>10}{'reuse all':>10}"
        f"{'gen t/s':>8}{'eval t/s':>9}{'slots/dev':>10}"
    )
    rows = [head, "-" * len(head)]
    for n, parts in groups.items():
        for config, g in parts.items():
            devs = "/".join(_fmt(p) for p in g["developer_p50_ms"])
            starts = f"{g['line_starts_served']}/{g['line_starts']}"
            rows.append(
                f"{n:>3} {config:<7}{_fmt(g['fresh_p50_ms']):>8}{_fmt(g['fresh_p95_ms']):>8}  "
                f"{devs:<22}{_fmt(g['accepted_pct'], '%'):>9}{g['errors']:>5}"
                f"{g['unanswered']:>6}{starts:>10}{_fmt(g['typing_reuse_pct'], '%'):>10}"
                f"{_fmt(g['overall_reuse_pct'], '%'):>10}{_fmt(g['generated_tok_per_s']):>8}"
                f"{_fmt(g['evaluated_tok_per_s']):>9}{_fmt(g['slots_per_developer_max']):>10}"
            )
    rows.append(
        "p50/p95: key to a non-empty answer, all developers pooled; dev p50: each one's; "
        "accepted: chars accepted over the regions' chars; unans: requests never answered; "
        "reuse: prompt tokens from the server's cache over those sent (typ: without each "
        "region's arrival); t/s: tokens generated / prompt tokens evaluated over the typing "
        "phase's wall time; slots/dev: most llama-server slots one developer's runs used"
    )
    for n, parts in groups.items():
        selection = parts.get("shared", {}).get("slot_selection")
        if selection:
            rows.append(f"N={n} shared: slot chosen by {selection}")
    rows.append(f"goals: {checks}")
    return "\n".join(rows)
