"""The next-edit benchmark (issue 30): real commits replayed as edits into the real server, and
the edit it suggests next compared with the commit's next hunk.

    .venv/bin/python -m benchmarks.next_edit [--split bench|train] [--limit N] [--seed 0]
        [--name run] [--tide-settings JSON] [--adapter GGUF] [--data DIR] [--request-s 300]
        [--summarize]

Data: `../shared/bench/next-edit/` (its README: 854 commits from eight public Python histories,
each changing one file in 2-4 small hunks, split by repository into `train` and `bench`). Choose
settings on `train` (`--split train`), report on `bench`. A commit of n hunks gives n-1 cases:
the first k hunks applied, the cursor at the end of the last one's last new line (for a
deletion, the start of the line after it), the truth hunk k+1; and one "nothing" case, the
commit cut after its last hunk, where the right answer is no edit. A full `bench` run is 317
cases (192 next, 125 nothing); `train` is 1805.
`--limit N` takes a seeded sample of the split's cases (`--seed`).

One `tide-lsp` over stdio for the whole run (examples/driver.py's ScriptedEditor), its workspace
an empty scratch folder, so no adapter of a workspace is found: the default settings are the
default model zero-shot, plus diagnostics off (they would share the two cores with the
rewrites); `--tide-settings` adds to them (`{"adapter": "off"}`, `{"adapter": PATH}`,
`{"model": ...}`), and `--adapter GGUF` serves the next edits with a next-edit adapter
(`{"nextEditAdapter": GGUF}`; one trained on `train` by `python -m benchmarks.next_edit_tune`).
The clock starts once the model is loaded. For each case the file is opened as it was before
the commit at its repository path under the workspace, the earlier hunks arrive as
incremental didChange notifications, one per hunk in order, each the smallest edit within the
hunk's lines (the server's edit history takes them as the user's), then
`textDocument/copilotInlineEdit` is sent with copilot-lsp's params (the document's uri and
version, the cursor's position, UTF-16); copilot-lsp's `didShowInlineEdit` follows an offered
edit; the document is closed, which clears its history and cached answers.

Measured, per split, overall and per repository, over the next-edit cases:
- exact next edit: the file after applying the suggestion equals the file after applying the
  true hunk (trailing whitespace of lines and of the file ignored);
- location right: a suggested range overlaps the lines the true hunk replaces (for an insertion,
  the line before or after it);
- offered: an edit came at all;
and over every case: offered edits that add syntax errors (tree-sitter's, counted as the server
counts them, after against before), the request's latency p50/p95 at the client (answered
requests; failures and timeouts are counted as errors); on the "nothing" cases, the share where
no edit came. The issue's goals are checked in the summary.
Results: benchmarks/results/next-edit-NAME.jsonl (a record per case, with the server's log line
saying why it offered nothing) and next-edit-NAME-summary.json (with the command line and the
server's status); `--summarize` recomputes the summary from the .jsonl.
"""

import argparse
import asyncio
import json
import os
import re
import signal
import sys
import tempfile
import time
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from lsprotocol import types

from benchmarks.next_edit_cases import (
    DATA,
    Case,
    CaseRecord,
    choose_cases,
    grouped,
    lsp_range,
    position_of,
    read_commits,
    score,
    table,
)
from examples.driver import ScriptedEditor
from lsp_server.fixes.syntax import syntax_error_nodes
from lsp_server.text.languages import language_for, parser_for
from lsp_server.text.line_index import utf8

INLINE_EDIT = "textDocument/copilotInlineEdit"
DID_SHOW = "textDocument/didShowInlineEdit"
RESULTS = Path(__file__).resolve().parent / "results"
READY_S = 600  # loading the model (and an adapter) before the clock starts
DEFAULT_SETTINGS = {"diagnostics": False}
_PARSER = parser_for(language_for("python"))


def count_errors(text: str) -> int:
    return sum(1 for _ in syntax_error_nodes(_PARSER.parse(utf8(text))))


def plain(value: Any) -> Any:
    """A JSON value from what pygls made of a custom method's result."""
    if hasattr(value, "_asdict"):
        return {key: plain(item) for key, item in value._asdict().items()}
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    if hasattr(value, "__dict__") and not isinstance(value, type):
        return {key: plain(item) for key, item in vars(value).items()}
    return value


def server_reason(log: Path, start: int, uri: str) -> str:
    """The server's last line about a next edit for uri, written after byte `start`."""
    with log.open("rb") as handle:
        handle.seek(start)
        written = handle.read().decode(errors="replace")
    pattern = re.compile(rf"(?:no )?next edit for {re.escape(uri)}\b[^\n]*")
    found = pattern.findall(written)
    return found[-1][:300] if found else ""


def send_change(editor: ScriptedEditor, uri: str, version: int, text: str, change) -> str:
    """One incremental didChange; the text after it."""
    rng = lsp_range(text, change.start, change.end)
    editor.client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=types.Range(types.Position(**rng["start"]), types.Position(**rng["end"])),
                    text=change.text,
                )
            ],
        )
    )
    return text[: change.start] + change.text + text[change.end :]


async def run_case(
    editor: ScriptedEditor, case: Case, n: int, root: Path, log: Path, request_s: float
) -> CaseRecord:
    truth = asdict(case.truth) if case.truth is not None else None
    record = CaseRecord(
        case.id, case.split, case.repo, case.path, case.kind, case.applied, case.hunks, truth
    )
    uri = (root / case.path).as_uri()
    log_start = log.stat().st_size if log.exists() else 0
    editor.open(uri, case.opened, "python")
    text, version = case.opened, 1
    for change in case.changes:
        version += 1
        text = send_change(editor, uri, version, text, change)
    assert text == case.text, case.id
    line, character = position_of(text, case.cursor)
    # copilot-lsp's request: make_position_params(0, "utf-16") plus the document's version.
    params = {
        "textDocument": {"uri": uri, "version": version},
        "position": {"line": line, "character": character},
    }
    msg_id = f"next-edit-{n}"
    started = time.perf_counter()
    future = editor.client.protocol.send_request_async(INLINE_EDIT, params, msg_id=msg_id)
    try:
        result = plain(await asyncio.wait_for(future, request_s))
        record.latency_ms = round((time.perf_counter() - started) * 1000, 1)
        edits = list((result or {}).get("edits") or [])
        stale = [e for e in edits if e.get("textDocument", {}).get("version") != version]
        if stale:
            record.error = f"an edit for another version: {stale[0].get('textDocument')}"
        score(record, case, edits, count_errors)
        if edits:
            shown = {"item": {"command": edits[0].get("command")}}
            editor.client.protocol.notify(DID_SHOW, shown)
    except TimeoutError:
        editor.client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=msg_id))
        record.error = f"no answer within {request_s:g} s"
    except Exception as exc:  # noqa: BLE001 - an LSP error is a result to record, not a crash
        record.latency_ms = round((time.perf_counter() - started) * 1000, 1)
        record.error = repr(exc)[:300]
    editor.close(uri)
    await asyncio.sleep(0.2)  # the log line of an answer written just after it was sent
    record.reason = server_reason(log, log_start, uri)
    return record


def write(out: Path, record: CaseRecord) -> None:
    with out.open("a") as handle:
        handle.write(json.dumps(asdict(record)) + "\n")


async def run(args: argparse.Namespace) -> dict:
    cases = choose_cases(read_commits(args.split, args.data), args.split, args.limit, args.seed)
    if not cases:
        raise SystemExit(f"no cases in {args.data}/{args.split}.jsonl.gz")
    scratch = Path(tempfile.mkdtemp(prefix="tide-next-edit-"))
    root = scratch / "workspace"
    root.mkdir()
    log = scratch / "server.log"
    settings = {**DEFAULT_SETTINGS, **args.tide_settings}
    if args.adapter:
        settings["nextEditAdapter"] = str(args.adapter.resolve())
    print(f"scratch folder: {scratch}; {len(cases)} cases of {args.split}; settings {settings}")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"next-edit-{args.name}.jsonl"
    out.unlink(missing_ok=True)
    editor = ScriptedEditor("--log-file", str(log), "--log-level", "info")
    await editor.start(settings, root.as_uri())
    records: list[CaseRecord] = []
    try:
        status = plain(await editor.wait_ready(READY_S))
        if status.get("state") != "ready":
            raise SystemExit(f"tide-lsp failed to load its model: {status}")
        if args.adapter and status.get("message"):
            raise SystemExit(f"the next-edit adapter is not served: {status['message']}")
        began = time.perf_counter()
        for n, case in enumerate(cases):
            record = await run_case(editor, case, n, root, log, args.request_s)
            write(out, record)
            records.append(record)
            verdict = (
                record.error
                or ("exact" if record.exact else "location" if record.location else "")
                or ("offered" if record.offered else "nothing")
            )
            print(
                f"[{n + 1}/{len(cases)}] {case.id} {case.kind}: {verdict}, "
                f"{record.latency_ms} ms ({time.perf_counter() - began:.0f} s in)",
                flush=True,
            )
    finally:
        try:
            await asyncio.wait_for(editor.stop(), 30)
        except Exception:  # noqa: BLE001 - a server that will not stop is ours: killed by its id
            os.kill(editor.server_pid, signal.SIGKILL)
    return finish(records, args, {"status": status, "settings": settings, "log": str(log)})


def finish(records: list[CaseRecord], args: argparse.Namespace, server: dict | None) -> dict:
    summary = {
        "command": " ".join([".venv/bin/python -m benchmarks.next_edit", *sys.argv[1:]]),
        **({"server": server} if server else {}),
        "splits": grouped(records),
    }
    path = RESULTS / f"next-edit-{args.name}-summary.json"
    if server is None and path.exists():
        # Recomputed: the run's own command and server stay.
        old = json.loads(path.read_text())
        summary = {**old, "splits": summary["splits"], "resummarized_by": summary["command"]}
    path.write_text(json.dumps(summary, indent=2) + "\n")
    print(table(summary["splits"]))
    return summary


def load_records(path: Path) -> list[CaseRecord]:
    names = {f.name for f in fields(CaseRecord)}
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [CaseRecord(**{k: v for k, v in row.items() if k in names}) for row in rows]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=("bench", "train"), default="bench")
    parser.add_argument("--limit", type=int, default=0, help="a seeded sample of N cases (0: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--name", default="run", help="results go to results/next-edit-NAME*")
    parser.add_argument(
        "--tide-settings", type=json.loads, default={}, help="JSON settings added to the defaults"
    )
    parser.add_argument(
        "--adapter", type=Path, help="a next-edit adapter (GGUF) to serve the next edits with"
    )
    parser.add_argument("--data", type=Path, default=DATA, help="the folder of the .jsonl.gz")
    parser.add_argument("--request-s", type=float, default=300.0, help="per-request time limit")
    parser.add_argument(
        "--summarize", action="store_true", help="only recompute the summary from the .jsonl"
    )
    args = parser.parse_args()
    if args.summarize:
        finish(load_records(RESULTS / f"next-edit-{args.name}.jsonl"), args, None)
        return 0
    asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
