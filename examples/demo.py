"""`make demo`: start the real `tide-lsp`, type into the example files, print each completion.

A real LSP client (pygls, through `examples.driver`) drives the server over stdio exactly as
an editor would: initialize, open, one incremental edit per key, inline completion requests,
shutdown.
"""

import asyncio
import sys
from pathlib import Path

from examples.driver import ScriptedEditor

HERE = Path(__file__).resolve().parent
DIM, PLAIN = "\x1b[2m", "\x1b[0m"

# (file, language, the text after which to type, what to type there before asking)
SCENES = [
    ("geometry.py", "python", "def subtract(a: float, b: float) -> float:", "\n    return a"),
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


async def main() -> int:
    editor = ScriptedEditor("--log-level", "warning")
    await editor.start()
    print("Tide demo: the real server and the default model, driven over stdio.\n")
    for name, language, anchor, keys in SCENES:
        uri = (HERE / name).as_uri()
        if uri not in editor.buffers:
            editor.open(uri, (HERE / name).read_text(), language)
        buffer = editor.buffers[uri]
        editor.move(uri, buffer.text.index(anchor) + len(anchor))
        editor.type(uri, keys)
        answer = await editor.complete(uri)
        line = buffer.text.split("\n")[buffer.cursor.line]
        head, tail = line[: buffer.cursor.character], line[buffer.cursor.character :]
        shown = f"{head}{DIM}{answer.text}{PLAIN}{tail}" if answer.item else f"{line}  (none)"
        print(f"{name} ({language}) line {buffer.cursor.line + 1}: {answer.latency_ms:.0f} ms")
        print(f"    {shown}\n")
    model = editor.statuses[-1].model if editor.statuses else "?"
    print(f"model: {model}")
    await editor.stop()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
