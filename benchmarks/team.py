"""The team benchmark: N simulated developers type at once, each in their own `tide-lsp`, all
served by one llama-server, against the same N each running the in-process engine (issue 31).

    .venv/bin/python -m benchmarks.team [--name run] [--developers 1,2,4,8]
        [--configs shared,local] [--slot-context 2048] [--stagger-s 4] [--server-args FLAGS]
        [--seed 0]
        [--files-per-language 3]
        [--regions-per-file 1] [--lines 6] [--max-region-chars 320] [--key-ms 150]
        [--arrival-ms 1500] [--line-ms 600] [--punctuation-ms 300] [--tide-settings JSON]
        [--summarize]

Each developer is the typing replay's (benchmarks/replay.py, whose corpus and pause arguments
these are): a region of a real file (Python, TypeScript, Go; developer i types region i of the
replay's seeded list, languages taking turns) retyped key by key in real time with VS Code's
request pattern (a didChange per key, `$/cancelRequest` for the open request, a new inline
request), accepting what is right of what is seen. Every developer has a scratch workspace of
their own holding their region's project, the file without the region on disk.

For each N in `--developers` and each configuration, the order alternating from N to N so that
the machine's drift hits both alike:
- `shared`: a fresh llama-server (benchmarks.peer's build, the default model, 2 threads) with N
  slots (`-np N`), `--slot-context` cells per slot (`-c` is all slots' cells together),
  continuous batching (`-cb` where the binary has it), `--cache-reuse 256`, peer's batch sizes
  (`-b 2048 -ub 1024`), then `--server-args` (later flags win), on loopback; N `tide-lsp`s
  with the model setting set to its URL (the HTTP engine);
- `local`: N `tide-lsp`s with the in-process engine, the machine's cores split between them
  (threads = max(1, cores // N)).
All N are started and indexed before the clock starts; then developer i arrives at their region
`i * --stagger-s` seconds after the clock starts (a team does not open its files in the same
second; on two cores, N first prompts at once are what the whole typing of a short region
takes), and all type on at once; the typing phase's wall time runs until the last one has typed
their region.

Reported per N and configuration: each developer's and the pooled p50/p95 of the time from a key
to a non-empty answer to its request, characters accepted, requests answered with an error and
requests never answered (no answer within 60 s of the region's end), line starts with a
suggestion seen within 1 s, the prompt reuse (reusedTokens over promptTokens of the
`tide/generation` reports: while typing, without each region's arrival run, and overall), and
the tokens generated and prompt tokens evaluated per second of the typing phase, all developers
together. For `shared`, how many slots each developer's runs used (stickiness): from Tide's
reports where they carry the server's `slot`, else from llama-server's log, which gives each
task's slot, its release time and how the slot was chosen (by id, by LCP similarity, by LRU;
`lcp_close`: by a prompt at least half alike, the developer's own earlier one). The log does
not name the client: a request of the benchmark's own before the developers start ties the
log's clock to the benchmark's, and a task is a developer's when their tide/generation report,
and no other developer's, came within 0.3 s of its end (the cancel when Tide closed the stream,
else the release; benchmarks/team_summary.py).
Goals: N=4 over N=1 fresh p50 (the slowest developer's, at most 2), no request unanswered in
the shared runs, reuse while typing at least 90% (the shared runs' tokens pooled).
Results: benchmarks/results/team-NAME.jsonl (a record per developer run with its requests, and
per N and configuration) and team-NAME-summary.json; `--summarize` recomputes the summary.
"""

import argparse
import asyncio
import contextlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from benchmarks import peer
from benchmarks.quality import RESULTS
from benchmarks.replay import (
    Region,
    TideSession,
    add_typing_arguments,
    choose_regions,
    pauses_from,
    replay,
    workspace_for,
    write,
)
from benchmarks.replay_policy import RegionRecord, tally
from benchmarks.team_summary import (
    SlotTask,
    clock_offset,
    goals,
    group_figures,
    match_tasks,
    parse_server_log,
    selection_counts,
    table,
)

CONFIGS = ("shared", "local")
MAX_FILES_PER_LANGUAGE = 20  # how far the corpus is widened to give every developer a region


@dataclass
class Developer:
    index: int
    region: Region
    session: TideSession
    home: Path
    path: Path  # the region's file in the developer's workspace


def regions_for(args: argparse.Namespace, count: int) -> list[Region]:
    """The replay's regions, the corpus widened file by file until there are `count`."""
    files = args.files_per_language
    while True:
        wide = argparse.Namespace(**{**vars(args), "regions": 0, "files_per_language": files})
        regions = choose_regions(wide)
        if len(regions) >= count or files >= MAX_FILES_PER_LANGUAGE:
            break
        files += 1
    if len(regions) < count:
        raise SystemExit(f"{len(regions)} regions in the corpus for {count} developers")
    return regions[:count]


def batching_flags(binary: Path) -> tuple[str, ...]:
    """`-cb` where llama-server has it (newer builds batch continuously without being asked)."""
    help_text = subprocess.run(
        [str(binary), "--help"], capture_output=True, text=True, timeout=60
    ).stdout
    return ("-cb",) if "--cont-batching" in help_text else ()


async def stop(session: TideSession) -> None:
    try:
        await asyncio.wait_for(session.editor.stop(), 30)
    except Exception:  # a server that will not stop is killed (it is ours, by its id)
        with contextlib.suppress(Exception):  # gone already, or never started
            os.kill(session.editor.server_pid, signal.SIGKILL)


async def run_group(
    n: int, config: str, regions: list[Region], args: argparse.Namespace, scratch: Path
) -> tuple[list[dict], dict]:
    """N developers typing at once in one configuration; their records and the group's."""
    server = None
    if config == "shared":
        server = peer.LlamaServer(
            args.binary,
            args.model,
            scratch / f"llama-server-n{n}.log",
            n * args.slot_context,
            slots=n,
            extra=(*args.batching, *shlex.split(args.server_args)),
        )
    developers: list[Developer] = []
    finished = False
    probe = (0.0, 0.0)
    try:
        if server is not None:
            # A request of our own, the log's first task, ties the log's clock to ours.
            sent = time.perf_counter()
            server.post("/completion", {"prompt": "def", "n_predict": 1})
            probe = (sent, time.perf_counter())
        for i, region in enumerate(regions[:n]):
            if server is not None:
                settings = {"model": server.url}
            else:
                settings = {"threads": max(1, (os.cpu_count() or 1) // n)}
            settings.update(reportGenerations=True, **args.tide_settings)
            prefix = f"n{n}-{config}-d{i}"
            session = TideSession(settings, scratch / "logs" / f"{prefix}.log", prefix)
            # A workspace per developer: two regions of one project must not see each other.
            home, path = workspace_for(region, scratch / f"developer-{i}")
            path.write_text(region.text.on_disk)
            developers.append(Developer(i, region, session, home, path))
        await asyncio.gather(*(d.session.start(d.home) for d in developers))
        started = time.perf_counter()

        async def arrive(d: Developer) -> list:
            # A team does not open its files in the same second: each arrives in turn.
            await asyncio.sleep(d.index * args.stagger_s)
            return await replay(d.session, d.region, d.path.as_uri(), args.pauses)

        typed = await asyncio.gather(*(arrive(d) for d in developers))
        phase_s = time.perf_counter() - started
        results = await asyncio.gather(*(d.session.finish() for d in developers))
        finished = True
    finally:
        if not finished:
            await asyncio.gather(*(stop(d.session) for d in developers))
        for d in developers:
            shutil.copy2(d.region.source, d.path)
        if server is not None:
            server.stop()
    rows = []
    for d, events, (requests, runs, source) in zip(developers, typed, results, strict=True):
        record = RegionRecord(config, d.region.id, d.region.language, len(d.region.text.target))
        tally(record, events, requests)
        record.runs = [asdict(r) for r in runs]
        if source == "notification":  # a run per report, in order: the report's time and slot
            for run, report in zip(record.runs, d.session.generations, strict=True):
                run["received_s"] = round(report["received_s"] - started, 4)
                run["slot"] = report.get("slot")
        record.generation_source = source
        record.seconds = round(events[-1].t_ms / 1000, 1)
        rows.append(
            {
                "record": "developer",
                "n": n,
                "developer": d.index,
                **asdict(record),
                "slots": [],
                "requests": [asdict(r) for r in requests],
            }
        )
    group = {"record": "group", "n": n, "config": config, "phase_s": round(phase_s, 1)}
    if server is not None:
        group.update(slot_figures(rows, scratch / f"llama-server-n{n}.log", probe, started))
    return rows, group


def slot_figures(rows: list[dict], log: Path, probe: tuple[float, float], started: float) -> dict:
    """Each developer's slots (into their rows) and the group's slot choices, from the server's
    own word where Tide reports it (a `slot` in tide/generation), else from its log."""
    first, *tasks = parse_server_log(log.read_text(errors="replace")) or [SlotTask(-1, -1)]
    figures: dict = {"selection": selection_counts(tasks)}
    reported = {
        r["developer"]: [run["slot"] for run in r["runs"] if run.get("slot") is not None]
        for r in rows
    }
    if any(reported.values()):
        for row in rows:
            row["slots"] = reported[row["developer"]]
        figures["slots_from"] = "tide/generation"
        return figures
    offset = clock_offset(*probe, first)
    figures["slots_from"] = "log"
    figures["tasks"] = {"started": len(tasks), "cancelled": sum(t.cancelled for t in tasks)}
    if offset is None:
        return figures
    match = match_tasks(tasks, {r["developer"]: r["runs"] for r in rows}, offset - started)
    for row in rows:
        row["slots"] = match.slots[row["developer"]]
    figures["log_offset_s"] = round(offset - started, 4)
    figures["tasks"].update(
        ended=match.ended,
        matched=sum(len(s) for s in match.slots.values()),
        ambiguous=match.ambiguous,
        unmatched=match.unmatched,
    )
    return figures


def grouped(rows: list[dict], configs: list[str]) -> dict[str, dict[str, dict]]:
    groups: dict[str, dict[str, dict]] = {}
    for head in (r for r in rows if r["record"] == "group"):
        mine = [
            r
            for r in rows
            if r["record"] == "developer" and r["n"] == head["n"] and r["config"] == head["config"]
        ]
        figures = group_figures(mine, head["phase_s"], head.get("selection"))
        figures["tasks"] = head.get("tasks")
        groups.setdefault(str(head["n"]), {})[head["config"]] = figures
    # Rows in the order of --configs, whatever order they ran in.
    return {
        n: {c: parts[c] for c in configs if c in parts}
        for n, parts in sorted(groups.items(), key=lambda item: int(item[0]))
    }


def finish(rows: list[dict], args: argparse.Namespace) -> dict:
    groups = grouped(rows, args.configs)
    checks = goals(groups)
    summary = {
        "command": " ".join(["python -m benchmarks.team", *sys.argv[1:]]),
        "cores": os.cpu_count(),
        "groups": groups,
        "goals": checks,
    }
    (RESULTS / f"team-{args.name}-summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(table(groups, checks))
    return summary


async def run(args: argparse.Namespace) -> dict:
    unknown = [c for c in args.configs if c not in CONFIGS]
    if unknown:
        raise SystemExit(f"unknown configurations {unknown}; known: {list(CONFIGS)}")
    regions = regions_for(args, max(args.developers))
    scratch = Path(tempfile.mkdtemp(prefix="tide-team-"))
    (scratch / "logs").mkdir()
    print(f"scratch folder: {scratch}; regions: {[r.id for r in regions]}", flush=True)
    if "shared" in args.configs:
        args.binary = peer.build_llama_server()
        args.model = Path(peer.locate_model(peer.Settings()))
        args.batching = batching_flags(args.binary)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"team-{args.name}.jsonl"
    out.unlink(missing_ok=True)
    rows: list[dict] = []
    for k, n in enumerate(args.developers):
        # The order alternates, so that no configuration always goes first after a change of N.
        for config in args.configs[k % len(args.configs) :] + args.configs[: k % len(args.configs)]:
            mine, group = await run_group(n, config, regions, args, scratch)
            for row in [*mine, group]:
                write(out, row)
            rows += [*mine, group]
            for row in mine:
                print(
                    f"[N={n} {config} developer {row['developer']}] {row['region']}: accepted "
                    f"{row['accepted_chars']}/{row['chars']} chars, {row['responses']}, "
                    f"{len(row['runs'])} runs, slots {sorted(set(row['slots']))}",
                    flush=True,
                )
            print(f"[N={n} {config}] typing phase {group['phase_s']} s, {group}", flush=True)
    return finish(rows, args)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default="run", help="results go to results/team-NAME*.json*")
    parser.add_argument("--developers", default="1,2,4,8", help="the values of N, in order")
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("--slot-context", type=int, default=2048, help="llama-server cells/slot")
    parser.add_argument(
        "--stagger-s", type=float, default=4.0, help="seconds between developers' arrivals"
    )
    parser.add_argument(
        "--server-args", default="", help="more llama-server flags, after the others (-b 256)"
    )
    add_typing_arguments(parser)
    parser.add_argument(
        "--tide-settings", type=json.loads, default={}, help="JSON settings for every Tide"
    )
    parser.add_argument(
        "--summarize", action="store_true", help="only recompute the summary from the .jsonl"
    )
    args = parser.parse_args()
    args.developers = [int(n) for n in args.developers.split(",")]
    args.configs = args.configs.split(",")
    args.pauses = pauses_from(args)
    if args.summarize:
        path = RESULTS / f"team-{args.name}.jsonl"
        finish([json.loads(line) for line in path.read_text().splitlines() if line.strip()], args)
        return 0
    asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
