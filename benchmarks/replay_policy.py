"""The typing replay's rules, as plain functions on plain data (benchmarks/replay.py runs them).

What the simulated developer types next and how long they pause, what counts as a suggestion
seen, how much of a seen suggestion they accept (whole, by line, by word), the histogram of
prompt tokens re-evaluated per model run, the cause of a re-evaluation where the server gives
none, and the arithmetic of the summary. Nothing here touches a server or the clock, so the unit
tests (tests/unit/test_replay_policy.py) check it on literal data.
"""

import re
from collections import Counter
from dataclasses import dataclass, field

from benchmarks.latency import percentile
from lsp_server.text.brackets import CLOSERS, bracket_trace

PUNCTUATION = ".(=,:"
BUCKETS = ("0", "1-16", "17-64", "65-256", ">256")
SMALL_RUN = 16  # a model run re-evaluating more prompt tokens than this is listed with its cause
LINE_START_S = 1.0  # a line start counts as served when a suggestion is seen this soon after it
_COMMENT = ("#", "//", "/*", "*", '"""', "'''")
# VS Code's accept-word steps over leading spaces and then one word or one run of punctuation;
# a run of spaces at the very end is a step of its own.
_WORD = re.compile(r"\s*(?:\w+|[^\w\s]+)|\s+\Z")


@dataclass(frozen=True)
class Pauses:
    """How long the simulated user waits after each kind of key, in milliseconds."""

    key_ms: float = 150.0
    arrival_ms: float = 1500.0
    line_ms: float = 600.0
    punctuation_ms: float = 300.0


def pause_after(inserted: str, kind: str, pauses: Pauses) -> float:
    """The pause after an event that inserted `inserted` (kind: arrival, char, enter, accept)."""
    if kind == "arrival":
        return pauses.arrival_ms
    if "\n" in inserted and not inserted[inserted.rfind("\n") + 1 :].strip():
        return pauses.line_ms
    if inserted and inserted[-1] in PUNCTUATION:
        return pauses.punctuation_ms
    return pauses.key_ms


def next_key(target: str, pos: int) -> tuple[str, str]:
    """What the next key press inserts at `pos` of the text being typed, and its kind.

    Enter carries the next line's indentation, as the editor's auto-indent puts it there, so
    the user types only the rest of the line.
    """
    if target[pos] != "\n":
        return target[pos], "char"
    indent = re.match(r"[ \t]*", target[pos + 1 :]).group()
    return "\n" + indent, "enter"


@dataclass(frozen=True)
class Accept:
    kind: str  # whole, line, word, or wrong (nothing of it is right), or none (nothing shown)
    text: str  # what accepting inserts


def decide_accept(ghost: str, remaining: str) -> Accept:
    """What a user who accepts only what is right takes of the suggestion shown.

    Whole when the whole suggestion is what they were going to type; else the longer of its
    first line and its longest run of whole words that is (VS Code's accept-line and
    accept-word, pressed as often as they stay right).
    """
    if not ghost:
        return Accept("none", "")
    if remaining.startswith(ghost):
        return Accept("whole", ghost)
    line = ghost.split("\n", 1)[0]
    line = line if "\n" in ghost and remaining.startswith(line) else ""
    words = ""
    for match in _WORD.finditer(ghost):
        step = words + match.group()
        if match.start() != len(words) or not remaining.startswith(step):
            break
        words = step
    if line and len(line) >= len(words):
        return Accept("line", line)
    if words:
        return Accept("word", words)
    return Accept("wrong", "")


def ghost_text(text: str, cursor: int, start: int, end: int, insert: str) -> str:
    """What the editor shows after the cursor for an item replacing text[start:end] by
    `insert`; empty when the item does not continue what is typed before the cursor."""
    if not start <= cursor <= max(end, cursor):
        return ""
    typed = text[start:cursor]
    return insert[len(typed) :] if insert.startswith(typed) else ""


def vim_ghost(content: str, line: str) -> str:
    """llama.vim's hint from an /infill answer on the cursor's line `line`: trailing empty
    lines removed; on a line of only spaces (sent as empty) the answer's own indentation is
    laid over the line's, as much as both have; nothing if it is blank."""
    lines = content.split("\n")
    while lines and not lines[-1]:
        lines.pop()
    if lines and not line.strip():
        lead = len(lines[0]) - len(lines[0].lstrip())
        lines[0] = lines[0][min(lead, len(line)) :]
    shown = "\n".join(lines)
    return shown if shown.strip() else ""


def vim_window(text: str, cursor: int, n_prefix: int = 256, n_suffix: int = 64):
    """llama.vim's local context (its fim_ctx_local): the `n_prefix` lines before the cursor's
    line, the cursor's line up to the cursor (empty on a line of only spaces, which llama.vim
    completes from its start), and the rest of the line plus the `n_suffix` lines after.
    Returned as (prefix, middle, suffix), the request's input_prefix, prompt and input_suffix."""
    line_start = text.rfind("\n", 0, cursor) + 1
    line_end = text.find("\n", cursor)
    line_end = len(text) if line_end < 0 else line_end
    before = text[: max(line_start - 1, 0)].split("\n") if line_start else []
    after = text[line_end + 1 :].split("\n") if line_end < len(text) else []
    if after and after[-1] == "":
        after.pop()  # the file's final newline ends the last line; it is not one more line
    middle, rest = text[line_start:cursor], text[cursor:line_end]
    if not text[line_start:line_end].strip():
        middle = rest = ""
    prefix = "\n".join(before[-n_prefix:]) + "\n" if n_prefix else "\n"
    suffix = rest + "\n" + "\n".join(after[:n_suffix]) + "\n"
    return prefix, middle, suffix


def bucket(tokens: int) -> str:
    if tokens <= 0:
        return "0"
    if tokens <= 16:
        return "1-16"
    if tokens <= 64:
        return "17-64"
    if tokens <= 256:
        return "65-256"
    return ">256"


def histogram(values: list[int]) -> dict[str, int]:
    counts = Counter(bucket(v) for v in values)
    return {name: counts.get(name, 0) for name in BUCKETS}


def infer_cause(run: dict, previous: dict | None) -> str:
    """Why a model run re-evaluated its prompt, judged from the outside where the server does
    not say: the first run after arriving at a region, a run for another file than the one
    before, a run computed ahead of an accept, the context from other files changing size (the
    log gives its token count), else unknown."""
    if previous is None:
        return "arrival"
    if run.get("uri") != previous.get("uri"):
        return "file switch"
    if run.get("kind") == "ahead":
        return "ahead-of-accept"
    now, before = run.get("files_tokens"), previous.get("files_tokens")
    if now is not None and before is not None and now != before:
        return "context change"
    return "unknown"


@dataclass(frozen=True)
class RegionText:
    """A region cut out of a file: what the user arrives at and what they type."""

    before: str  # the whole lines before the region
    indent: str  # the first line's indentation, already there when the user arrives
    target: str  # the rest: typed, auto-indented or accepted, key by key
    after: str  # the lines after the region

    @property
    def opened(self) -> str:
        """The editor's text on arrival: an empty line at the region's indentation."""
        return self.before + self.indent + "\n" + self.after

    @property
    def cursor(self) -> int:
        return len(self.before) + len(self.indent)

    @property
    def on_disk(self) -> str:
        """The file as it was before the region was written, for context read from disk."""
        return self.before + self.after


def split_region(text: str, first: int, count: int) -> RegionText:
    """The `count` lines from line `first` (0-based) of `text`, which must have a line after."""
    lines = text.split("\n")
    if first + count >= len(lines):
        raise ValueError("a region needs a line break after its last line")
    region = lines[first : first + count]
    indent = re.match(r"[ \t]*", region[0]).group()
    before = "".join(line + "\n" for line in lines[:first])
    after = "\n".join(lines[first + count :])
    return RegionText(before, indent, "\n".join(region)[len(indent) :], after)


def plain_region(lines: list[str], max_chars: int, max_line: int = 120) -> bool:
    """Whether these lines make a region worth retyping: code that starts and ends on a line
    that is not blank, mostly not blank, not comments only, no trailing spaces (nobody types
    them), no line longer than people write, no character outside the Basic Multilingual Plane
    (positions are counted in UTF-16 units), and short enough."""
    if not lines or not lines[0].strip() or not lines[-1].strip():
        return False
    filled = [line.strip() for line in lines if line.strip()]
    if 2 * len(filled) < len(lines) or all(line.startswith(_COMMENT) for line in filled):
        return False
    if any(line != line.rstrip() or len(line) > max_line for line in lines):
        return False
    if any(ord(ch) > 0xFFFF for line in lines for ch in line):
        return False
    indent = len(lines[0]) - len(lines[0].lstrip())
    return len("\n".join(lines)) - indent <= max_chars


def leaves_a_closer_ahead(lines: list[str]) -> bool:
    """Whether the region has a line that begins by closing a block and, after it, opens a
    block it leaves open at its end. Typed without the region, the text after it then holds
    that later block's closer where the user types the earlier one's, and Tide's cut rightly
    takes the closer the user is about to type as already there. A file being written has no
    such closer: the editor auto-closes only what was opened. The ninth run lost three line
    starts to this (FlowActionResultV2.ts:80, symbol.go:109)."""
    text = "\n".join(lines)
    closer_line = None
    offset = 0
    for line in lines:
        if line.strip()[:1] in CLOSERS:
            closer_line = offset
        offset += len(line) + 1
    if closer_line is None:
        return False
    trace = list(bracket_trace(text))
    before = [depth for at, depth in trace if at < closer_line]
    after = [depth for at, depth in trace if at >= closer_line]
    start = before[-1] if before else 0
    return bool(after) and after[-1] > min(start, *after)


# --- records and their arithmetic -------------------------------------------------------------


@dataclass
class KeyEvent:
    """One thing the user did, the request it caused, and what they saw before the next."""

    index: int
    kind: str  # arrival, char, enter, accept
    inserted: str
    pos: int  # where in the region's text it was inserted
    t_ms: float  # since the region's arrival
    pause_ms: float
    request: str  # the id of the request sent after it
    accept_kind: str = ""  # whole, line, word: for kind accept
    shown: str = ""  # the suggestion seen before the next event ("" when none)
    shown_ms: float | None = None  # from this event to the suggestion's arrival
    wrong: bool = False  # seen, and not even its first word is right


@dataclass
class RequestFact:
    id: str
    event: int
    sent_ms: float  # since the region's arrival
    status: str = "missing"  # answer, empty, cancelled, error, missing
    latency_ms: float | None = None
    error: str = ""
    # Asked again, with no key since, because the server said the rest of an early answer
    # was ready (as Tide's clients do); not a fresh suggestion of its own.
    ready: bool = False


@dataclass
class RunFact:
    """One model run, from the server's notification, its log, or llama-server's timings."""

    kind: str  # request, ahead, prepare
    version: int
    prompt_tokens: int
    reused_tokens: int
    evaluated_tokens: int
    generated_tokens: int
    prompt_ms: float
    generate_ms: float
    stop_reason: str = ""
    cause: str = ""
    cause_source: str = ""  # server or inferred
    uri: str = ""
    files_tokens: int | None = None


@dataclass
class RegionRecord:
    """Everything one configuration's replay of one region left, enough to recompute figures."""

    config: str
    region: str
    language: str
    chars: int  # the region's text after the first line's indentation
    typed_chars: int = 0
    auto_indent_chars: int = 0
    accepted_chars: int = 0
    accepts: dict[str, int] = field(default_factory=dict)
    keys: int = 0  # key presses: characters, Enters, and the accepts themselves
    seen: int = 0
    wrong: int = 0
    line_starts: int = 0
    line_starts_served: int = 0
    arrivals_served: int = 0  # of the line starts served, those on arriving at the region
    fresh_ms: list[float] = field(default_factory=list)
    readies: int = 0  # requests asked again on a ready notice
    responses: dict[str, int] = field(default_factory=dict)
    runs: list[dict] = field(default_factory=list)
    generation_source: str = ""
    unreported_runs: int = 0  # runs the server started that left no figures (dropped midway)
    seconds: float = 0.0


def tally(record: RegionRecord, events: list[KeyEvent], requests: list[RequestFact]) -> None:
    """Fill the region record's counts from its events and requests."""
    accepts: Counter[str] = Counter()
    for event in events:
        if event.kind == "accept":
            record.accepted_chars += len(event.inserted)
            accepts[event.accept_kind] += 1
        elif event.kind == "enter":
            record.typed_chars += 1
            record.auto_indent_chars += len(event.inserted) - 1
        elif event.kind == "char":
            record.typed_chars += 1
        record.keys += event.kind != "arrival"
        record.seen += bool(event.shown)
        record.wrong += event.wrong
        if event.kind in ("arrival", "enter"):
            record.line_starts += 1
            quick = event.shown_ms is not None and event.shown_ms <= LINE_START_S * 1000
            record.line_starts_served += bool(event.shown) and quick
            record.arrivals_served += bool(event.shown) and quick and event.kind == "arrival"
    record.accepts = dict(accepts)
    record.responses = dict(Counter(r.status for r in requests))
    record.fresh_ms = [
        round(r.latency_ms, 1)
        for r in requests
        if r.status == "answer" and r.latency_ms and not r.ready
    ]
    record.readies = sum(r.ready for r in requests)


def _pct(part: float, whole: float) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def summarize(records: list[dict]) -> dict:
    """The figures of a set of region records (dicts, as written to the .jsonl file)."""
    chars = sum(r["chars"] for r in records)
    accepted = sum(r["accepted_chars"] for r in records)
    keys = sum(r["keys"] for r in records)
    seen = sum(r["seen"] for r in records)
    starts = sum(r["line_starts"] for r in records)
    served = sum(r["line_starts_served"] for r in records)
    fresh = [ms for r in records for ms in r["fresh_ms"]]
    accepts: Counter[str] = Counter()
    responses: Counter[str] = Counter()
    for r in records:
        accepts.update(r["accepts"])
        responses.update(r["responses"])
    runs = [run for r in records for run in r["runs"]]
    typing = [run for run in runs if run["cause"] != "arrival"]
    large = [
        {
            "region": r["region"],
            "version": run["version"],
            "kind": run["kind"],
            "evaluated_tokens": run["evaluated_tokens"],
            "cause": run["cause"],
        }
        for r in records
        for run in r["runs"]
        if run["evaluated_tokens"] > SMALL_RUN
    ]
    return {
        "regions": len(records),
        "chars": chars,
        "accepted_chars": accepted,
        "accepted_pct": _pct(accepted, chars),
        "accepts": dict(sorted(accepts.items())),
        "typed_chars": sum(r["typed_chars"] for r in records),
        "auto_indent_chars": sum(r["auto_indent_chars"] for r in records),
        "keys": keys,
        "seen": seen,
        "seen_per_key": round(seen / keys, 3) if keys else None,
        "wrong_seen": sum(r["wrong"] for r in records),
        "line_starts": starts,
        "line_starts_served": served,
        "line_starts_served_pct": _pct(served, starts),
        # Each region is one arrival: the line starts after Enter are the rest.
        "arrivals_served": sum(r.get("arrivals_served", 0) for r in records),
        "enter_starts_served_pct": _pct(
            served - sum(r.get("arrivals_served", 0) for r in records), starts - len(records)
        ),
        "asked_again_on_ready": sum(r.get("readies", 0) for r in records),
        "fresh_n": len(fresh),
        "fresh_p50_ms": round(percentile(fresh, 50), 1) if fresh else None,
        "fresh_p95_ms": round(percentile(fresh, 95), 1) if fresh else None,
        "responses": dict(sorted(responses.items())),
        "errors": responses.get("error", 0) + responses.get("missing", 0),
        "model_runs": len(runs),
        # Cut short by a key (reported since the tenth run): their work was thrown away.
        "cancelled_runs": sum(run.get("stop_reason") == "cancelled" for run in runs),
        "unreported_runs": sum(r.get("unreported_runs", 0) for r in records),
        "evaluated_histogram": histogram([run["evaluated_tokens"] for run in runs]),
        "typing_runs": len(typing),
        "typing_runs_small_pct": _pct(
            sum(run["evaluated_tokens"] <= SMALL_RUN for run in typing), len(typing)
        ),
        "large_by_cause": dict(sorted(Counter(x["cause"] for x in large).items())),
        "large": large,
    }
