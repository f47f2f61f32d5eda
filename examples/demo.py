"""`make demo`: start the real `tide-lsp`, type into the example files, print each completion.

A real LSP client (pygls) drives the server over stdio exactly as an editor would: initialize,
open, incremental edits one key at a time, inline completion requests, shutdown.
"""

import asyncio
import sys
import time
from pathlib import Path

from lsprotocol import types
from pygls.lsp.client import LanguageClient

HERE = Path(__file__).resolve().parent

# (file, language, the line to type into, the text to type there before asking)
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


def _position_after(text: str, anchor: str) -> types.Position:
    offset = text.index(anchor) + len(anchor)
    line = text.count("\n", 0, offset)
    return types.Position(line, offset - (text.rfind("\n", 0, offset) + 1))


async def _type(
    client: LanguageClient, uri: str, text: str, at: types.Position, keys: str, version: int
):
    """Send one didChange per key, like an editor; returns the new text, cursor and version."""
    line, col = at.line, at.character
    for key in keys:
        version += 1
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[
                    types.TextDocumentContentChangePartial(
                        range=types.Range(types.Position(line, col), types.Position(line, col)),
                        text=key,
                    )
                ],
            )
        )
        lines = text.split("\n")
        lines[line] = lines[line][:col] + key + lines[line][col:]
        text = "\n".join(lines)
        if key == "\n":
            line, col = line + 1, 0
        else:
            col += 1
    return text, types.Position(line, col), version


async def main() -> int:
    client = LanguageClient("tide-demo", "0.1")
    statuses: list[dict] = []

    @client.feature("tide/status")
    def on_status(params) -> None:
        statuses.append(params)

    await client.start_io(sys.executable, "-m", "lsp_server", "--log-level", "warning")
    await client.initialize_async(
        types.InitializeParams(
            capabilities=types.ClientCapabilities(
                general=types.GeneralClientCapabilities(position_encodings=["utf-16"])
            ),
            root_uri=HERE.as_uri(),
        )
    )
    client.initialized(types.InitializedParams())
    print("Tide demo: the real server and the default model, driven over stdio.\n")
    opened: dict[str, tuple[str, int]] = {}
    for name, language, anchor, keys in SCENES:
        path = HERE / name
        uri = path.as_uri()
        if uri not in opened:
            text = path.read_text()
            client.text_document_did_open(
                types.DidOpenTextDocumentParams(
                    types.TextDocumentItem(uri=uri, language_id=language, version=1, text=text)
                )
            )
            opened[uri] = (text, 1)
        text, version = opened[uri]
        text, cursor, version = await _type(
            client, uri, text, _position_after(text, anchor), keys, version
        )
        opened[uri] = (text, version)
        started = time.perf_counter()
        result = await client.text_document_inline_completion_async(
            types.InlineCompletionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=cursor,
                context=types.InlineCompletionContext(
                    trigger_kind=types.InlineCompletionTriggerKind.Automatic
                ),
            )
        )
        latency = (time.perf_counter() - started) * 1000
        line = text.split("\n")[cursor.line]
        if result and result.items:
            item = result.items[0]
            r = item.range
            shown = (
                line[: r.start.character]
                + "\x1b[2m"
                + item.insert_text
                + "\x1b[0m"
                + line[r.end.character :]
            )
        else:
            shown = line + "   (no suggestion)"
        print(f"{name} ({language}) line {cursor.line + 1}, {latency:6.0f} ms\n    {shown}\n")
    model = statuses[-1].model if statuses else "?"
    print(f"model: {model}")
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
