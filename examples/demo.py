"""`make demo`: start the real `tide-lsp`, type into the example files, print each completion.

A real LSP client (pygls, through `examples.driver`) drives the server over stdio exactly as
an editor would: initialize, open, one incremental edit per key, inline completion requests,
shutdown. Typing starts once the server says the model is ready, so the first latency is a
completion's and not the model's load. Where there is no suggestion, the server's log says why,
and the demo prints it.
"""

import asyncio
import re
import sys
import tempfile
from pathlib import Path

from examples.driver import ScriptedEditor

HERE = Path(__file__).resolve().parent
DIM, PLAIN = "\x1b[2m", "\x1b[0m"

# (file, language, the text after which to type, what to type there before asking). Each scene
# writes code the file does not have yet: typed above a line that already says it, the model
# would repeat that line, and the server rightly cuts a suggestion that repeats the next line.
SCENES = [
    (
        "geometry.py",
        "python",
        "    return a - b",
        "\n\n\ndef multiply(a: float, b: float) -> float:\n    return a",
    ),
    (
        "geometry.py",
        "python",
        "    return total",
        "\n\n\ndef area(points: list[Point]) -> float:\n",
    ),
    (
        "cart.ts",
        "typescript",
        "    return this.items.length;",
        "\n  }\n\n  clear(): void {\n    this.",
    ),
    (
        "stack.go",
        "go",
        "\treturn len(s.items)",
        "\n}\n\n// Pop removes the top value.\nfunc (s *Stack[T]) Pop() T {\n\tv := s.items[",
    ),
]

# The server's log lines that say why a request got no suggestion, and how to say it here.
_WHY = [
    (re.compile(r"skipped, (.+)$"), "the trigger said {0}"),
    (re.compile(r"no completion for \S+: (.+)$"), "{0}"),
    (re.compile(r"dropped: (.+)$"), "the request was dropped: {0}"),
    (
        re.compile(r"generate (\d+) tok .*?, (\d+) chars cut.*no suggestion"),
        "the model wrote {0} tokens and the cut left nothing of its {1} characters",
    ),
]


def why_none(log: Path, start: int, uri: str) -> str:
    """Why the request whose log lines begin at byte `start` of the server's log got nothing."""
    with log.open("rb") as f:
        f.seek(start)
        lines = [line for line in f.read().decode("utf-8", "replace").splitlines() if uri in line]
    if not lines:
        return f"the server logged nothing for it ({log})"
    message = lines[-1].split(": ", 1)[-1]
    for pattern, say in _WHY:
        match = pattern.search(message)
        if match:
            return say.format(*match.groups())
    return message


async def main() -> int:
    log = Path(tempfile.mkstemp(prefix="tide-demo-", suffix=".log")[1])
    editor = ScriptedEditor("--log-level", "info", "--log-file", str(log))
    await editor.start()
    print("Tide demo: the real server and the default model, driven over stdio.\n")
    status = await editor.wait_ready()
    if status.state == "error":
        print(f"the model did not load: {status.message} (server log: {log})")
        await editor.stop()
        return 1
    print(f"model ready: {status.model}\n")
    for name, language, anchor, keys in SCENES:
        uri = (HERE / name).as_uri()
        if uri not in editor.buffers:
            editor.open(uri, (HERE / name).read_text(), language)
        buffer = editor.buffers[uri]
        editor.move(uri, buffer.text.index(anchor) + len(anchor))
        editor.type(uri, keys)
        logged = log.stat().st_size
        answer = await editor.complete(uri)
        line = buffer.text.split("\n")[buffer.cursor.line]
        head, tail = line[: buffer.cursor.character], line[buffer.cursor.character :]
        if answer.item:
            shown = f"{head}{DIM}{answer.text}{PLAIN}{tail}"
        else:
            shown = f"{line}  (none: {why_none(log, logged, uri)})"
        print(f"{name} ({language}) line {buffer.cursor.line + 1}: {answer.latency_ms:.0f} ms")
        print(f"    {shown}\n")
    print(f"server log: {log}")
    await editor.stop()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
