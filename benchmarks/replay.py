"""The typing replay: a simulated developer retypes regions of real files key by key, in real
time, against the real server, and what they live with is measured (issue 29).

    .venv/bin/python -m benchmarks.replay [--name run] [--seed 0] [--files-per-language 3]
        [--regions-per-file 1] [--configs tide,tide-nocross,tide-lookup,llama-vim] [--regions N]
        [--key-ms 150] [--arrival-ms 1500] [--line-ms 600] [--punctuation-ms 300]
        [--lines 6] [--max-region-chars 320] [--tide-settings JSON] [--vim-context 4096]
        [--generations notification|log] [--summarize]

Corpus: the real files of the quality benchmark's line part (`quality.real_code_files`: Python
packages in the venv, TypeScript from the VS Code extension's npm packages, Go from Debian's
golang-1.19-src). Per language a seeded choice of files, and per file six-line regions of code:
not blank, not comments or docstrings, no trailing spaces, in no generated or minified file.
Languages take turns, so a run cut short (`--regions`) still covers each.

For each region, each configuration in turn, the order rotating from region to region so that
the machine's drift hits all alike:
- the region's project (its Python package, npm package or Go package folder) is copied into a
  scratch workspace where the file holds the text without the region, so no context read from
  disk gives the answer away; the editor opens the file the same way, with an empty line at the
  region's indentation and the cursor on it;
- the user types the region key by key, as VS Code sends it: a `textDocument/didChange` per key,
  a `$/cancelRequest` for the inline-completion request still open, a new automatic
  inline-completion request. Enter carries the next line's indentation (auto-indent). Pauses:
  between keys, on arriving, at line starts after Enter, after `.`, `(`, `=`, `,`, `:`;
- a suggestion is seen when its answer arrives before the next key; a seen suggestion is
  accepted (one didChange) whole when it is all right, else by line or by word (VS Code's partial
  accepts) as far as it is right, and typing goes on from there.

Configurations: `tide` (default settings), `tide-nocross` (crossFileBudget 0), `tide-lookup`
(promptLookup on) and `tide-short` (arrivalTokens 128: an arrival is answered on a short
window first), each a fresh
`tide-lsp` over stdio per region with the project as its workspace, started and indexed before
the clock starts; `llama-vim`, llama-server (benchmarks.peer's build, same model, same threads)
sent llama.vim's `/infill` request per key on llama.vim's window (256 lines before, 64 after,
which llama-server cuts to its batch; `--vim-context` cells of context so that it fits), the
previous request dropped by closing its connection, an answer after the next key not seen.

Reported per configuration, per language and overall: characters inserted by accepts over the
regions' characters, suggestions seen per key, line starts (after Enter or arrival) with a
suggestion seen within 1 s, wrong suggestions seen, p50/p95 of the time from a key to a
non-empty answer to its request, responses (answered, empty, cancelled, errors), model runs,
prompt tokens re-evaluated per run (histogram), and each run that re-evaluated more than 16 with
its cause. Tide's runs come from its `tide/generation` notifications (reportGenerations) or, from
a server that sends none (or with `--generations log`, which leaves the setting off), from its
log; causes the server does not give are inferred here (arrival, file switch, ahead-of-accept,
context change, else unknown), and the log has no line for a run cancelled before it finished.
llama-server's runs are its answers' timings; the tasks it started and dropped unanswered are
counted from its log as runs without figures.
Results: benchmarks/results/replay-NAME.jsonl (a record per key event, and per region and
configuration) and replay-NAME-summary.json; `--summarize` recomputes the summary from the
.jsonl file.
"""

import argparse
import asyncio
import hashlib
import itertools
import json
import os
import random
import re
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcRequestCancelled

from benchmarks import peer
from benchmarks.quality import RESULTS, inside_literal, real_code_files
from benchmarks.replay_policy import (
    BUCKETS,
    KeyEvent,
    Pauses,
    RegionRecord,
    RegionText,
    RequestFact,
    RunFact,
    decide_accept,
    ghost_text,
    infer_cause,
    leaves_a_closer_ahead,
    next_key,
    pause_after,
    plain_region,
    split_region,
    summarize,
    tally,
    vim_ghost,
    vim_window,
)
from benchmarks.tune import copy_project
from benchmarks.typing import landed, request
from examples.driver import Buffer, ScriptedEditor, as_dict
from lsp_server.tuning.files import FileLimits
from lsp_server.tuning.files import _read as read_source  # the tuner's generated/minified test

CONFIGS: dict[str, dict | None] = {
    "tide": {},
    "tide-nocross": {"crossFileBudget": 0},
    "tide-lookup": {"promptLookup": True},
    "tide-short": {"arrivalTokens": 128},
    "tide-short-nocross": {"arrivalTokens": 128, "crossFileBudget": 0},
    "llama-vim": None,  # not Tide: llama-server's /infill
}
READY_S = 180  # model load and workspace indexing, before the clock starts
ANSWER_S = 60  # how long the requests still open at a region's end may take
CONTEXT_LINES = 10  # a region starts at least this far into its file
# Tide's log line for a model run, the peer benchmark's pattern with the run's label in front.
_RUN = re.compile(peer._WINDOW.pattern.replace("complete ", "(complete|ahead of accept,) ", 1))
HISTOGRAM_HEAD = "re-evaluated " + "/".join(BUCKETS)
_FILES = re.compile(r"tok, (\d+) in files\)")
_LAUNCH = re.compile(r"launch_slot_: .*processing task")


@dataclass(frozen=True)
class Region:
    id: str
    language: str
    source: Path  # the corpus file
    project: Path  # the folder a developer would open it in
    text: RegionText


# --- corpus -------------------------------------------------------------------------------------


def project_root(path: Path, language: str) -> Path:
    """The top Python package, the npm package, or the Go package (a folder) of a file."""
    if language == "python":
        root = path.parent
        while (root.parent / "__init__.py").exists():
            root = root.parent
        return root
    if language == "typescript":
        return next((p for p in path.parents if (p / "package.json").exists()), path.parent)
    return path.parent


def mostly_literal(text: str, first: int, count: int, language: str) -> bool:
    """Whether most of the region's lines start inside a comment or a string (docstrings)."""
    lines = text.split("\n")
    offset = sum(len(line) + 1 for line in lines[:first])
    inside = filled = 0
    for line in lines[first : first + count]:
        if line.strip():
            at = offset + len(line) - len(line.lstrip()) + 1
            case = {"language": language, "prefix": text[:at], "suffix": text[at:]}
            inside += inside_literal(case)
            filled += 1
        offset += len(line) + 1
    return 2 * inside > filled


def regions_in(
    path: Path, language: str, args: argparse.Namespace, rng: random.Random
) -> list[Region]:
    """Up to `--regions-per-file` regions of the file, apart, at seeded places that pass."""
    source, _ = read_source(path, path.name, FileLimits().max_file_bytes)
    if source is None:
        return []
    text = source.text.replace("\r\n", "\n")
    lines = text.split("\n")
    starts = list(range(CONTEXT_LINES, len(lines) - args.lines - 1))
    rng.shuffle(starts)
    picked: list[int] = []
    for first in starts:
        if len(picked) == args.regions_per_file:
            break
        if any(abs(first - other) < args.lines for other in picked):
            continue
        block = lines[first : first + args.lines]
        if (
            plain_region(block, args.max_region_chars)
            and not leaves_a_closer_ahead(block)
            and not mostly_literal(text, first, args.lines, language)
        ):
            picked.append(first)
    project = project_root(path, language)
    rel = path.relative_to(project.parent)
    return [
        Region(
            f"{language}/{rel}:{first + 1}",
            language,
            path,
            project,
            split_region(text, first, args.lines),
        )
        for first in sorted(picked)
    ]


def choose_regions(args: argparse.Namespace) -> list[Region]:
    per_language = []
    for language, files in real_code_files().items():
        # A generator per language: a package upgraded in one language's corpus must not change
        # the regions drawn in the others.
        rng = random.Random(f"{args.seed}:{language}")
        chosen: list[Region] = []
        taken = 0
        for path in rng.sample(files, len(files)):
            if taken == args.files_per_language:
                break
            found = regions_in(path, language, args, rng)
            taken += bool(found)
            chosen += found
        per_language.append(chosen)
    turns = itertools.zip_longest(*per_language)
    regions = [r for turn in turns for r in turn if r is not None]
    return regions[: args.regions] if args.regions else regions


def workspace_for(region: Region, scratch: Path) -> tuple[Path, Path]:
    """The scratch workspace holding a copy of the region's project, and the file in it."""
    digest = hashlib.sha1(str(region.project).encode()).hexdigest()[:8]
    home = scratch / "workspaces" / f"{region.language}-{region.project.name}-{digest}"
    copy = home / region.project.name
    if region.language == "go":
        # The package's own files: Go's other packages are a whole standard library away.
        if not copy.is_dir():
            shutil.copytree(
                region.project,
                copy,
                ignore=lambda d, names: [n for n in names if (Path(d) / n).is_dir()],
            )
    else:
        copy_project(region.project, home)
    path = copy / region.source.relative_to(region.project)
    if not path.exists():  # left out by the copy's patterns (a lib/ folder, say)
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(region.source, path)
    return home, path


# --- sessions: one configuration's server for one region ----------------------------------------


class TideSession:
    """A fresh `tide-lsp` over stdio, driven as VS Code drives it."""

    def __init__(self, settings: dict, log: Path, prefix: str) -> None:
        self.settings = settings
        self.log = log
        self.editor = ScriptedEditor("--log-file", str(log), "--log-level", "info")
        self.generations: list[dict] = []
        generations = self.generations

        # A plain function: pygls marks what it registers, which a bound method refuses. The
        # time it came lets the team benchmark find the run in llama-server's log.
        def on_generation(params: Any) -> None:
            generations.append({**as_dict(params), "received_s": time.perf_counter()})

        self.editor.client.feature("tide/generation")(on_generation)
        self.requests: list[RequestFact] = []
        self.futures: dict[str, asyncio.Future] = {}
        self.arrived: dict[str, float] = {}
        self.answers: dict[str, str] = {}  # request id -> the suggestion it showed
        self.uri = ""
        self.origin = 0.0
        self.prefix = prefix  # request ids: unique over the run
        self.editor.on_ready = self._ready

    async def start(self, root: Path) -> None:
        await self.editor.start(self.settings, root.as_uri())
        deadline = time.monotonic() + READY_S
        while time.monotonic() < deadline:
            states = [as_dict(s).get("state") for s in self.editor.statuses]
            if "error" in states:
                raise RuntimeError(f"tide-lsp failed to load: {self.editor.statuses[-1]}")
            indexed = self.log.exists() and "indexed " in self.log.read_text(errors="replace")
            if "ready" in states and indexed:
                return
            await asyncio.sleep(0.2)
        raise RuntimeError(f"tide-lsp not ready and indexed within {READY_S} s")

    def arrive(self, uri: str, language: str, text: str, cursor: int) -> str:
        self.uri = uri
        self.origin = time.perf_counter()
        self.editor.open(uri, text, language)
        self.editor.move(uri, cursor)
        return self._send(0)

    def edit(self, inserted: str, event: int) -> str:
        buffer = self.editor.buffers[self.uri]
        at = buffer.offset(buffer.cursor)
        self.editor.replace(self.uri, buffer.cursor, buffer.cursor, inserted)
        self.editor.move(self.uri, at + len(inserted))
        last = self.requests[-1].id
        if not self.futures[last].done():
            # As VS Code does when the user types on: the open request is no longer wanted.
            self.editor.client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=last))
        return self._send(event)

    def _ready(self, ready: dict) -> None:
        """As Tide's clients do: asked again when the rest of an early answer is ready and
        the user has neither typed nor moved since."""
        buffer = self.editor.buffers.get(self.uri)
        if buffer is None or not self.requests:
            return
        where = ready.get("position", {})
        if ready.get("textDocument", {}).get("version") == buffer.version and (
            where.get("line"),
            where.get("character"),
        ) == (buffer.cursor.line, buffer.cursor.character):
            self._send(self.requests[-1].event, ready=True)

    def _send(self, event: int, ready: bool = False) -> str:
        buffer = self.editor.buffers[self.uri]
        snapshot = Buffer(self.uri, buffer.text, cursor=buffer.cursor)
        asked = sum(r.event == event for r in self.requests)
        suffix = f"-again{asked}" if ready else ""
        fact = RequestFact(f"{self.prefix}-{event}{suffix}", event, self._ms(), ready=ready)
        future = request(self.editor, self.uri, fact.id)
        future.add_done_callback(lambda f: landed(f, fact.id, self.arrived))
        future.add_done_callback(lambda f: self._answered(f, fact, snapshot))
        self.requests.append(fact)
        self.futures[fact.id] = future
        return fact.id

    def _answered(self, future: asyncio.Future, fact: RequestFact, snapshot: Buffer) -> None:
        fact.latency_ms = round((self.arrived[fact.id] - self.origin) * 1000 - fact.sent_ms, 1)
        if future.cancelled() or isinstance(future.exception(), JsonRpcRequestCancelled):
            fact.status = "cancelled"
            return
        if future.exception() is not None:
            fact.status, fact.error = "error", repr(future.exception())[:300]
            return
        result = future.result()
        items = getattr(result, "items", result) or []
        shown = ""
        if items:
            item = items[0]
            cursor = snapshot.offset(snapshot.cursor)
            start = snapshot.offset(item.range.start) if item.range else cursor
            end = snapshot.offset(item.range.end) if item.range else cursor
            text = item.insert_text if isinstance(item.insert_text, str) else item.insert_text.value
            shown = ghost_text(snapshot.text, cursor, start, end, text)
        fact.status = "answer" if shown else "empty"
        self.answers[fact.id] = shown

    def _ms(self) -> float:
        return round((time.perf_counter() - self.origin) * 1000, 1)

    def shown(self) -> tuple[str, float] | None:
        """The suggestion on screen now, and when one first showed since the last key: the
        latest answer to this key's requests (a ready notice's replaces the early one)."""
        event = self.requests[-1].event
        answered = [r.id for r in self.requests if r.event == event and r.id in self.answers]
        if not answered or not self.answers[answered[-1]]:
            return None
        first = next(i for i in answered if self.answers[i])
        return self.answers[answered[-1]], self.arrived[first]

    async def finish(self) -> tuple[list[RequestFact], list[RunFact], str]:
        pending = [f for f in self.futures.values() if not f.done()]
        if pending:
            await asyncio.wait(pending, timeout=ANSWER_S)
        await asyncio.sleep(0.5)  # a last notification or log line
        self.editor.close(self.uri)
        try:
            await asyncio.wait_for(self.editor.stop(), 30)
        except Exception:  # a server that will not stop is killed (it is ours, by its id)
            os.kill(self.editor.server_pid, signal.SIGKILL)
        if self.generations:
            runs, source = [self._run(g) for g in self.generations], "notification"
        else:
            runs, source = self._logged_runs(), "log"
        previous = None
        for run in runs:
            if not run.cause:
                run.cause = infer_cause(asdict(run), previous and asdict(previous))
                run.cause_source = "inferred"
            previous = run
        return self.requests, runs, source

    @staticmethod
    def _run(g: dict) -> RunFact:
        return RunFact(
            kind=g.get("kind", "request"),
            version=g.get("version", 0),
            prompt_tokens=g.get("promptTokens", 0),
            reused_tokens=g.get("reusedTokens", 0),
            evaluated_tokens=g.get("evaluatedTokens", 0),
            generated_tokens=g.get("generatedTokens", 0),
            prompt_ms=g.get("promptMs", 0.0),
            generate_ms=g.get("generateMs", 0.0),
            stop_reason=g.get("stopReason", ""),
            cause=g.get("cause", ""),
            cause_source="server" if g.get("cause") else "",
            uri=g.get("uri", ""),
        )

    def _logged_runs(self) -> list[RunFact]:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        runs = []
        for m in _RUN.finditer(text):
            files = _FILES.search(m.group())
            runs.append(
                RunFact(
                    kind="request" if m.group(1) == "complete" else "ahead",
                    version=int(m.group(3)),
                    prompt_tokens=int(m.group(6)),
                    reused_tokens=int(m.group(7)),
                    evaluated_tokens=int(m.group(8)),
                    generated_tokens=int(m.group(10)),
                    prompt_ms=float(m.group(9)),
                    generate_ms=float(m.group(11)),
                    uri=m.group(2),
                    files_tokens=int(files.group(1)) if files else None,
                )
            )
        return runs


class VimSession:
    """llama-server sent llama.vim's request per key, on loopback."""

    def __init__(self, server: peer.LlamaServer, prefix: str, log: Path) -> None:
        self.server = server
        self.prefix = prefix
        self.log = log
        self.log_start = 0
        self.unreported = 0
        self.requests: list[RequestFact] = []
        self.tasks: dict[str, asyncio.Task] = {}
        self.answers: dict[str, tuple[str, float]] = {}
        self.timings: list[tuple[int, dict]] = []
        self.text = ""
        self.cursor = 0
        self.uri = ""
        self.origin = 0.0

    async def start(self, root: Path) -> None:
        """Nothing to start: one llama-server serves the whole run."""

    def arrive(self, uri: str, language: str, text: str, cursor: int) -> str:
        self.uri, self.text, self.cursor = uri, text, cursor
        self.log_start = self.log.stat().st_size
        self.origin = time.perf_counter()
        return self._send(0)

    def edit(self, inserted: str, event: int) -> str:
        self.text = self.text[: self.cursor] + inserted + self.text[self.cursor :]
        self.cursor += len(inserted)
        last = self.tasks[self.requests[-1].id]
        if not last.done():
            last.cancel()  # llama.vim stops the job: curl's connection closes
        return self._send(event)

    def _send(self, event: int) -> str:
        prefix, middle, suffix = vim_window(self.text, self.cursor)
        body = peer.infill_body(peer.Window(prefix, middle, suffix))
        line_start = self.text.rfind("\n", 0, self.cursor) + 1
        line_end = self.text.find("\n", self.cursor)
        line = self.text[line_start : line_end if line_end >= 0 else len(self.text)]
        fact = RequestFact(f"{self.prefix}-{event}", event, self._ms())
        task = asyncio.ensure_future(self._post(body))
        task.add_done_callback(lambda t: self._answered(t, fact, line))
        self.requests.append(fact)
        self.tasks[fact.id] = task
        return fact.id

    async def _post(self, body: dict) -> dict:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.server.port)
        try:
            data = json.dumps(body).encode()
            head = (
                f"POST /infill HTTP/1.1\r\nHost: 127.0.0.1:{self.server.port}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
                "Connection: close\r\n\r\n"
            )
            writer.write(head.encode() + data)
            await writer.drain()
            raw = await reader.read()
        finally:
            writer.close()
        header, _, payload = raw.partition(b"\r\n\r\n")
        status = int(header.split()[1]) if header else 0
        if status != 200:
            raise RuntimeError(f"llama-server answered {status}: {payload[:300]!r}")
        return json.loads(payload)

    def _answered(self, task: asyncio.Task, fact: RequestFact, line: str) -> None:
        fact.latency_ms = round(self._ms() - fact.sent_ms, 1)
        if task.cancelled():
            fact.status = "cancelled"
            return
        if task.exception() is not None:
            fact.status, fact.error = "error", repr(task.exception())[:300]
            return
        answer = task.result()
        self.timings.append((fact.event, answer.get("timings", {})))
        shown = vim_ghost(answer.get("content", ""), line)
        fact.status = "answer" if shown else "empty"
        if shown:
            self.answers[fact.id] = (shown, time.perf_counter())

    def _ms(self) -> float:
        return round((time.perf_counter() - self.origin) * 1000, 1)

    def shown(self) -> tuple[str, float] | None:
        return self.answers.get(self.requests[-1].id)

    async def finish(self) -> tuple[list[RequestFact], list[RunFact], str]:
        pending = [t for t in self.tasks.values() if not t.done()]
        if pending:
            await asyncio.wait(pending, timeout=ANSWER_S)
        for task in pending:
            task.cancel()
        # A task dropped while it ran gives no timings; llama-server's log still shows it start.
        with self.log.open("rb") as handle:
            handle.seek(self.log_start)
            started = len(_LAUNCH.findall(handle.read().decode(errors="replace")))
        self.unreported = max(started - len(self.timings), 0)
        runs = []
        for event, timing in self.timings:
            cached = timing.get("cache_n", 0)
            runs.append(
                RunFact(
                    kind="request",
                    version=event + 1,
                    prompt_tokens=timing.get("prompt_n", 0) + cached,
                    reused_tokens=cached,
                    evaluated_tokens=timing.get("prompt_n", 0),
                    generated_tokens=timing.get("predicted_n", 0),
                    prompt_ms=round(timing.get("prompt_ms", 0.0), 1),
                    generate_ms=round(timing.get("predicted_ms", 0.0), 1),
                    uri=self.uri,
                )
            )
        previous = None
        for run in runs:
            run.cause, run.cause_source = (
                infer_cause(asdict(run), previous and asdict(previous)),
                "inferred",
            )
            previous = run
        return self.requests, runs, "llama-server timings"


# --- the replay -----------------------------------------------------------------------------------


async def replay(session, region: Region, uri: str, pauses: Pauses) -> list[KeyEvent]:
    """Type the region in real time; return what the user did and saw, event by event."""
    target = region.text.target
    request_id = session.arrive(uri, region.language, region.text.opened, region.text.cursor)
    event = KeyEvent(0, "arrival", "", 0, 0.0, pauses.arrival_ms, request_id)
    events: list[KeyEvent] = []
    pos = 0
    while True:
        wake = session.origin + (event.t_ms + event.pause_ms) / 1000
        await asyncio.sleep(max(0.0, wake - time.perf_counter()))
        shown = session.shown()
        if shown is not None:
            event.shown = shown[0]
            event.shown_ms = round((shown[1] - session.origin) * 1000 - event.t_ms, 1)
        events.append(event)
        if pos >= len(target):
            return events
        accept = decide_accept(event.shown, target[pos:])
        event.wrong = accept.kind == "wrong"
        if accept.text:
            inserted, kind = accept.text, "accept"
        else:
            inserted, kind = next_key(target, pos)
        t_ms = round((time.perf_counter() - session.origin) * 1000, 1)
        request_id = session.edit(inserted, len(events))
        event = KeyEvent(
            len(events),
            kind,
            inserted,
            pos,
            t_ms,
            pause_after(inserted, kind, pauses),
            request_id,
            accept_kind=accept.kind if kind == "accept" else "",
        )
        pos += len(inserted)


async def run_region(
    region: Region, n: int, config: str, args: argparse.Namespace, scratch: Path, llama
) -> tuple[RegionRecord, list[KeyEvent], list[RequestFact]]:
    started = time.perf_counter()
    prefix = f"r{n}-{config}"
    if CONFIGS[config] is None:
        session = VimSession(llama, prefix, scratch / "llama-server.log")
        home, path = scratch, scratch / "vim" / region.source.name
    else:
        settings = {**CONFIGS[config], **args.tide_settings}
        if args.generations == "notification":
            settings["reportGenerations"] = True
        session = TideSession(settings, scratch / "logs" / f"{prefix}.log", prefix)
        home, path = workspace_for(region, scratch)
        # What was on disk before the region was written: no context from disk shows it.
        path.write_text(region.text.on_disk)
    try:
        await session.start(home)
        events = await replay(session, region, path.as_uri(), args.pauses)
        requests, runs, source = await session.finish()
    finally:
        if CONFIGS[config] is not None:
            shutil.copy2(region.source, path)
    record = RegionRecord(config, region.id, region.language, len(region.text.target))
    tally(record, events, requests)
    record.runs = [asdict(r) for r in runs]
    record.generation_source = source
    record.unreported_runs = getattr(session, "unreported", 0)
    record.seconds = round(time.perf_counter() - started, 1)
    return record, events, requests


def write(out: Path, record: dict) -> None:
    with out.open("a") as handle:
        handle.write(json.dumps(record) + "\n")


def grouped(records: list[dict]) -> dict:
    """The summary per configuration: overall and per language, and the side-by-side ratios."""
    summary: dict = {}
    for config in dict.fromkeys(r["config"] for r in records):
        mine = [r for r in records if r["config"] == config]
        summary[config] = {"all": summarize(mine)}
        for language in dict.fromkeys(r["language"] for r in mine):
            summary[config][language] = summarize([r for r in mine if r["language"] == language])
    accepted = {c: s["all"]["accepted_pct"] for c, s in summary.items()}
    if accepted.get("tide") is not None and accepted.get("tide-nocross") is not None:
        summary["cross_file_gain_points"] = round(accepted["tide"] - accepted["tide-nocross"], 1)
    if accepted.get("tide") is not None and accepted.get("llama-vim") is not None:
        chars = {c: summary[c]["all"]["accepted_chars"] for c in ("tide", "llama-vim")}
        summary["tide_over_llama_vim_chars"] = (
            round(chars["tide"] / chars["llama-vim"], 1) if chars["llama-vim"] else None
        )
    return summary


def table(summary: dict) -> str:
    """The figures as a plain table, a row per configuration and language."""
    head = (
        f"{'config':<13}{'lang':<11}{'reg':>4}{'accepted':>10}{'seen/key':>9}{'starts<1s':>11}"
        f"{'arrived':>8}"
        f"{'wrong':>6}{'p50 ms':>8}{'p95 ms':>8}{'runs':>6}  {HISTOGRAM_HEAD:<38}"
        f"{'err':>4}  large runs by cause"
    )
    rows = [head, "-" * len(head)]
    for config, parts in summary.items():
        if not isinstance(parts, dict) or "all" not in parts:
            continue
        for language, s in parts.items():
            hist = "/".join(str(v) for v in s["evaluated_histogram"].values())
            causes = ", ".join(f"{k} {v}" for k, v in s["large_by_cause"].items()) or "-"
            starts = f"{s['line_starts_served']}/{s['line_starts']}"
            arrivals = f"{s.get('arrivals_served', 0)}/{s['regions']}"
            dropped = s.get("unreported_runs", 0)
            runs = f"{s['model_runs']}+{dropped}" if dropped else str(s["model_runs"])
            rows.append(
                f"{config:<13}{language:<11}{s['regions']:>4}{_fmt(s['accepted_pct'], '%'):>10}"
                f"{_fmt(s['seen_per_key']):>9}{starts:>11}{arrivals:>8}{s['wrong_seen']:>6}"
                f"{_fmt(s['fresh_p50_ms']):>8}{_fmt(s['fresh_p95_ms']):>8}{runs:>6}  "
                f"{hist:<38}{s['errors']:>4}  {causes}"
            )
    rows.append(
        "accepted: accepted chars over the regions' chars; starts<1s: line starts with a "
        "suggestion seen within 1 s (arrived: of them, on arriving at the region); "
        "p50/p95: key to a non-empty answer; runs: model runs "
        "(+N started and dropped without figures); large: runs re-evaluating more than 16 tokens"
    )
    for key in ("cross_file_gain_points", "tide_over_llama_vim_chars"):
        if key in summary:
            rows.append(f"{key}: {summary[key]}")
    return "\n".join(rows)


def _fmt(value: float | None, unit: str = "") -> str:
    return "-" if value is None else f"{value:g}{unit}"


async def run(args: argparse.Namespace) -> dict:
    configs = args.configs.split(",")
    unknown = [c for c in configs if c not in CONFIGS]
    if unknown:
        raise SystemExit(f"unknown configurations {unknown}; known: {list(CONFIGS)}")
    regions = choose_regions(args)
    if not regions:
        raise SystemExit("no regions found in the corpus")
    scratch = Path(tempfile.mkdtemp(prefix="tide-replay-"))
    print(f"scratch folder: {scratch}; {len(regions)} regions x {len(configs)} configurations")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"replay-{args.name}.jsonl"
    out.unlink(missing_ok=True)
    llama = None
    if "llama-vim" in configs:
        binary = peer.build_llama_server()
        model = Path(peer.locate_model(peer.Settings()))
        llama = peer.LlamaServer(binary, model, scratch / "llama-server.log", args.vim_context)
    (scratch / "logs").mkdir()
    (scratch / "vim").mkdir()
    records: list[dict] = []
    try:
        for n, region in enumerate(regions):
            # The order rotates, so that no configuration always goes first after a change.
            for config in configs[n % len(configs) :] + configs[: n % len(configs)]:
                record, events, requests = await run_region(region, n, config, args, scratch, llama)
                for event in events:
                    write(
                        out,
                        {"record": "event", "config": config, "region": region.id, **asdict(event)},
                    )
                row = {
                    "record": "region",
                    **asdict(record),
                    "requests": [asdict(r) for r in requests],
                }
                write(out, row)
                records.append(row)
                print(
                    f"[{n + 1}/{len(regions)} {config}] {region.id}: accepted "
                    f"{record.accepted_chars}/{record.chars} chars, seen {record.seen} of "
                    f"{record.keys} keys, line starts {record.line_starts_served}/"
                    f"{record.line_starts}, {len(record.runs)} model runs "
                    f"({record.generation_source}), {record.seconds} s",
                    flush=True,
                )
    finally:
        if llama is not None:
            llama.stop()
    return finish(records, args)


def finish(records: list[dict], args: argparse.Namespace) -> dict:
    summary = {
        "command": " ".join(["python -m benchmarks.replay", *sys.argv[1:]]),
        **grouped(records),
    }
    (RESULTS / f"replay-{args.name}-summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(table(summary))
    return summary


def add_typing_arguments(parser: argparse.ArgumentParser) -> None:
    """The corpus and the typist: the choice of regions and the pauses, which the team benchmark
    (benchmarks/team.py) takes over as they are."""
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--files-per-language", type=int, default=3)
    parser.add_argument("--regions-per-file", type=int, default=1)
    parser.add_argument("--lines", type=int, default=6, help="lines per region")
    parser.add_argument("--max-region-chars", type=int, default=320)
    parser.add_argument("--key-ms", type=float, default=Pauses.key_ms)
    parser.add_argument("--arrival-ms", type=float, default=Pauses.arrival_ms)
    parser.add_argument("--line-ms", type=float, default=Pauses.line_ms)
    parser.add_argument("--punctuation-ms", type=float, default=Pauses.punctuation_ms)


def pauses_from(args: argparse.Namespace) -> Pauses:
    return Pauses(args.key_ms, args.arrival_ms, args.line_ms, args.punctuation_ms)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default="run", help="results go to results/replay-NAME*.json*")
    add_typing_arguments(parser)
    parser.add_argument("--regions", type=int, default=0, help="at most this many regions (0: all)")
    parser.add_argument("--configs", default=",".join(CONFIGS))
    # llama.vim's window (256 lines before, 64 after) is cut by llama-server to its 2048-token
    # batch; the request then needs more than the peer benchmark's 2048 cells of context.
    parser.add_argument("--vim-context", type=int, default=4096, help="llama-server's -c")
    parser.add_argument(
        "--tide-settings", type=json.loads, default={}, help="JSON settings for both Tide rows"
    )
    parser.add_argument(
        "--generations",
        choices=("notification", "log"),
        default="notification",
        help="Tide's model runs from its tide/generation notifications (the log when none come) "
        "or from its log only, without turning the notifications on",
    )
    parser.add_argument(
        "--summarize", action="store_true", help="only recompute the summary from the .jsonl"
    )
    args = parser.parse_args()
    args.pauses = pauses_from(args)
    if args.summarize:
        path = RESULTS / f"replay-{args.name}.jsonl"
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        finish([r for r in rows if r["record"] == "region"], args)
        return 0
    asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
