"""Typing through the real server as an editor does it: a key every 60 ms, a request per key.

    .venv/bin/python -m benchmarks.typing [--keys 40] [--budgets 512,1024] [--key-ms 60]
        [--accepts 5]

For each budget, the server starts fresh, opens the first 500 lines of the standard library's
argparse.py, takes one suggestion at the start of line 255 (the user pauses there), then the
rest of that line is typed one key at a time: an incremental didChange, the previous request
cancelled if it is still unanswered (as VS Code does), and a new inline-completion request.
Reported per budget, from the client and from the server's log:
- model runs started (generations), and keys per model run;
- prompt tokens evaluated per key (KV cache reuse, in-flight sharing and type-through together);
- p50/p95 latency of the answers the client keeps (those that arrive before the next key, and
  the last one), and how many keys got a kept answer;
- type-through answers (no model run) and their p50;
- then a chain of accepts: the user pauses on the suggestion (long enough for the server to
  compute the next one as if it were accepted), accepts it, and the next suggestion's latency
  is measured; how many came from what was computed ahead.
"""

import argparse
import asyncio
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

from lsprotocol import types

from benchmarks.latency import percentile, source_file
from examples.driver import ScriptedEditor

RESULTS = Path(__file__).resolve().parent / "results"
_RUN = re.compile(r"complete (\S+) v(\d+): window .*? \((\d+) reused, (\d+) run\)")
_THROUGH = re.compile(r"complete (\S+) v(\d+): typed through")
PAUSE_GUARD = 60  # seconds to wait for the suggestion computed ahead; never measured


async def _computed_ahead(log: Path, uri: str, before: int) -> bool:
    marker = f"ahead of accept, {uri}"
    for _ in range(PAUSE_GUARD * 10):
        if log.read_text().count(marker) > before:
            return True
        await asyncio.sleep(0.1)
    return False


async def accept_chain(editor: ScriptedEditor, uri: str, log: Path, accepts: int) -> dict:
    """Pause on each suggestion, accept it, and time the one that follows."""
    answer = await editor.complete(uri)
    latencies: list[float] = []
    ahead = 0
    for _ in range(accepts):
        item = answer.item
        if item is None:
            break
        before = log.read_text().count(f"ahead of accept, {uri}")
        ahead += await _computed_ahead(log, uri, before)
        buffer = editor.buffers[uri]
        start = buffer.offset(item.range.start)
        editor.replace(uri, item.range.start, item.range.end, item.insert_text)
        editor.move(uri, start + len(item.insert_text))
        answer = await editor.complete(uri)
        latencies.append(answer.latency_ms)
    return {
        "accepts": len(latencies),
        "computed_ahead": ahead,
        "after_accept_p50_ms": round(statistics.median(latencies), 1) if latencies else None,
        "after_accept_max_ms": round(max(latencies), 1) if latencies else None,
    }


def request(editor: ScriptedEditor, uri: str, msg_id: str) -> "asyncio.Future":
    buffer = editor.buffers[uri]
    params = types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=buffer.cursor,
        context=types.InlineCompletionContext(
            trigger_kind=types.InlineCompletionTriggerKind.Automatic
        ),
    )
    return editor.client.protocol.send_request_async(
        types.TEXT_DOCUMENT_INLINE_COMPLETION, params, msg_id=msg_id
    )


def landed(future: "asyncio.Future", msg_id: str, arrived: dict[str, float]) -> None:
    arrived.setdefault(msg_id, time.perf_counter())
    if not future.cancelled():
        future.exception()  # a cancelled request's error is expected, not worth a warning


async def type_line(budget: int, keys: int, key_ms: float, line_index: int, accepts: int) -> dict:
    text = source_file("argparse", 500)
    lines = text.splitlines(keepends=True)
    start = sum(len(x) for x in lines[:line_index])
    line = lines[line_index].rstrip("\n")
    indent = len(line) - len(line.lstrip())
    typed = line[indent : indent + keys]
    doc = text[: start + indent] + text[start + len(line) :]
    log = Path(tempfile.mkdtemp(prefix="tide-typing-")) / "server.log"
    editor = ScriptedEditor("--log-file", str(log))
    await editor.start({"contextBudget": budget, "diagnostics": False})
    uri = "file:///bench/typing/argparse_head.py"
    editor.open(uri, doc, "python")
    editor.move(uri, start + indent)
    await editor.complete(uri)  # the pause before typing: a cold prompt, not measured
    kept: list[float] = []
    arrived: dict[str, float] = {}
    pending: tuple[asyncio.Future, str, float] | None = None
    for k, key in enumerate(typed):
        editor.type(uri, key)
        if pending is not None and not pending[0].done():
            # As VS Code does when the user types on: the old request is no longer wanted.
            cancel = types.CancelParams(id=pending[1])
            editor.client.protocol.notify(types.CANCEL_REQUEST, cancel)
        msg_id = f"key-{k}"
        future = request(editor, uri, msg_id)
        future.add_done_callback(lambda f, m=msg_id: landed(f, m, arrived))
        pending = (future, msg_id, time.perf_counter())
        await asyncio.sleep(key_ms / 1000)
        if future.done():
            # Shown before the next key: an answer the user sees.
            if not future.cancelled() and future.exception() is None:
                kept.append((arrived[msg_id] - pending[2]) * 1000)
            pending = None
    if pending is not None:
        future, msg_id, sent = pending
        try:
            await asyncio.wait_for(future, 120)
            kept.append((arrived[msg_id] - sent) * 1000)
        except Exception:  # noqa: BLE001 - a cancelled last request keeps nothing
            pass
    accepted = await accept_chain(editor, uri, log, accepts)
    await editor.stop()
    written = log.read_text()
    # Versions after the pause: 1 is the opened document, each key adds one.
    last_key = 1 + len(typed)
    runs = [
        m for m in _RUN.finditer(written) if m.group(1) == uri and 1 < int(m.group(2)) <= last_key
    ]
    through = [
        m for m in _THROUGH.finditer(written) if m.group(1) == uri and int(m.group(2)) <= last_key
    ]
    evaluated = sum(int(m.group(4)) for m in runs)
    return {
        "budget": budget,
        "keys": len(typed),
        "key_ms": key_ms,
        "model_runs": len(runs),
        "keys_per_model_run": round(len(typed) / len(runs), 1) if runs else None,
        "tokens_evaluated_per_key": round(evaluated / len(typed), 1),
        "typed_through": len(through),
        "kept_answers": len(kept),
        "kept_p50_ms": round(statistics.median(kept), 1) if kept else None,
        "kept_p95_ms": round(percentile(kept, 95), 1) if kept else None,
        **accepted,
    }


async def run(args: argparse.Namespace) -> list[dict]:
    budgets = [int(b) for b in args.budgets.split(",")]
    return [
        await type_line(b, args.keys, args.key_ms, args.typing_line, args.accepts) for b in budgets
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=40)
    parser.add_argument("--budgets", default="512,1024")
    parser.add_argument("--key-ms", type=float, default=60.0)
    parser.add_argument("--typing-line", type=int, default=254)
    parser.add_argument("--accepts", type=int, default=5)
    args = parser.parse_args()
    results = asyncio.run(run(args))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "typing.json").write_text(json.dumps(results, indent=2))
    print("command:", " ".join(["python", "-m", "benchmarks.typing", *sys.argv[1:]]))
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
