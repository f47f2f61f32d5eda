"""A scripted editor: drives the real `tide-lsp` over stdio with pygls' LSP client.

Used by `make demo` and by the benchmarks, so both measure exactly what an editor sees.
"""

import asyncio
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lsprotocol import types
from pygls.lsp.client import LanguageClient


def as_dict(params: Any) -> Any:
    """A notification's params as plain data: pygls hands over unknown methods' objects as
    namedtuples, nested ones too."""
    if hasattr(params, "_asdict"):
        params = params._asdict()
    elif not isinstance(params, (dict, list, str, int, float, bool, type(None))):
        params = dict(vars(params))
    if isinstance(params, dict):
        return {key: as_dict(value) for key, value in params.items()}
    if isinstance(params, list):
        return [as_dict(value) for value in params]
    return params


@dataclass
class Buffer:
    uri: str
    text: str
    version: int = 1
    cursor: types.Position = field(default_factory=lambda: types.Position(0, 0))

    def offset(self, position: types.Position) -> int:
        lines = self.text.split("\n")
        return sum(len(line) + 1 for line in lines[: position.line]) + position.character

    def position(self, offset: int) -> types.Position:
        line = self.text.count("\n", 0, offset)
        return types.Position(line, offset - (self.text.rfind("\n", 0, offset) + 1))


@dataclass
class Answer:
    text: str  # what the editor would show after the cursor
    latency_ms: float
    item: types.InlineCompletionItem | None


class ScriptedEditor:
    def __init__(self, *server_args: str) -> None:
        self.client = LanguageClient("tide-scripted-editor", "0.1")
        self.statuses: list[Any] = []
        self.messages: list[str] = []
        self.buffers: dict[str, Buffer] = {}
        # Every publishDiagnostics per URI, in arrival order: (version, diagnostics).
        self.diagnostics: dict[str, list[tuple[int | None, list[types.Diagnostic]]]] = {}
        # `tide/inlineCompletionReady` notices, as Tide's own clients get them; `on_ready`
        # answers one as they do (asking again where the user still is).
        self.readies: list[Any] = []
        self.on_ready: Callable[[Any], None] | None = None
        self._server_args = server_args

        @self.client.feature("tide/status")
        def on_status(params: Any) -> None:
            self.statuses.append(params)

        @self.client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def on_diagnostics(params: types.PublishDiagnosticsParams) -> None:
            self.diagnostics.setdefault(params.uri, []).append(
                (params.version, list(params.diagnostics))
            )

        @self.client.feature("tide/inlineCompletionReady")
        def on_ready(params: Any) -> None:
            ready = as_dict(params)
            self.readies.append(ready)
            if self.on_ready is not None:
                self.on_ready(ready)

        @self.client.feature(types.WINDOW_SHOW_MESSAGE)
        def on_message(params: types.ShowMessageParams) -> None:
            self.messages.append(params.message)

    async def start(self, init: dict | None = None, root_uri: str | None = None) -> None:
        await self.client.start_io(sys.executable, "-m", "lsp_server", *self._server_args)
        await self.client.initialize_async(
            types.InitializeParams(
                capabilities=types.ClientCapabilities(
                    general=types.GeneralClientCapabilities(position_encodings=["utf-16"]),
                    experimental={"tide": {"inlineCompletionReady": True}},
                ),
                initialization_options=init,
                root_uri=root_uri,
            )
        )
        self.client.initialized(types.InitializedParams())

    @property
    def server_pid(self) -> int:
        return self.client._server.pid

    def open(self, uri: str, text: str, language: str) -> Buffer:
        buffer = Buffer(uri, text)
        self.buffers[uri] = buffer
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                types.TextDocumentItem(uri=uri, language_id=language, version=1, text=text)
            )
        )
        return buffer

    def configure(self, **settings: Any) -> None:
        self.client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings={"tide": settings})
        )

    def move(self, uri: str, offset: int) -> None:
        buffer = self.buffers[uri]
        buffer.cursor = buffer.position(offset)

    def replace(self, uri: str, start: types.Position, end: types.Position, text: str) -> None:
        """One incremental didChange replacing [start, end) with `text`."""
        buffer = self.buffers[uri]
        a, b = buffer.offset(start), buffer.offset(end)
        buffer.version += 1
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(
                    uri=uri, version=buffer.version
                ),
                content_changes=[
                    types.TextDocumentContentChangePartial(range=types.Range(start, end), text=text)
                ],
            )
        )
        buffer.text = buffer.text[:a] + text + buffer.text[b:]

    def type(self, uri: str, keys: str) -> None:
        """One didChange per key at the cursor, as an editor sends them."""
        buffer = self.buffers[uri]
        for key in keys:
            at = buffer.offset(buffer.cursor)
            self.replace(uri, buffer.cursor, buffer.cursor, key)
            buffer.cursor = buffer.position(at + 1)

    async def complete(self, uri: str) -> Answer:
        buffer = self.buffers[uri]
        started = time.perf_counter()
        result = await self.client.text_document_inline_completion_async(
            types.InlineCompletionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=buffer.cursor,
                context=types.InlineCompletionContext(
                    trigger_kind=types.InlineCompletionTriggerKind.Automatic
                ),
            )
        )
        latency = (time.perf_counter() - started) * 1000
        if not result or not result.items:
            return Answer("", latency, None)
        item = result.items[0]
        typed = buffer.cursor.character - item.range.start.character
        return Answer(item.insert_text[typed:], latency, item)

    async def wait_ready(self, timeout: float = 600.0) -> Any:
        """The first `tide/status` saying the model is ready, or that it failed to load."""
        deadline = time.perf_counter() + timeout
        while True:
            for status in self.statuses:
                if status.state in ("ready", "error"):
                    return status
            if time.perf_counter() > deadline:
                raise TimeoutError(f"tide-lsp's model not ready within {timeout:.0f} s")
            await asyncio.sleep(0.05)

    async def wait_diagnostics(
        self, uri: str, publishes: int = 1, timeout: float = 300.0
    ) -> list[types.Diagnostic]:
        """The diagnostics of the buffer's current version once `publishes` have arrived."""
        version = self.buffers[uri].version
        deadline = time.perf_counter() + timeout
        while True:
            mine = [d for v, d in self.diagnostics.get(uri, []) if v == version]
            if len(mine) >= publishes:
                return mine[-1]
            if time.perf_counter() > deadline:
                raise TimeoutError(f"{publishes} diagnostics publishes for {uri} v{version}")
            await asyncio.sleep(0.05)

    async def code_actions(
        self, uri: str, rng: types.Range, diagnostics: list[types.Diagnostic]
    ) -> list[types.CodeAction]:
        result = await self.client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                range=rng,
                context=types.CodeActionContext(diagnostics=diagnostics),
            )
        )
        return [a for a in result or [] if isinstance(a, types.CodeAction)]

    async def resolve(self, action: types.CodeAction) -> types.CodeAction:
        return await self.client.code_action_resolve_async(action)

    def apply(self, edit: types.WorkspaceEdit) -> None:
        """Apply a workspace edit to the open buffers, as one didChange per text edit."""
        for change in edit.document_changes or []:
            if not isinstance(change, types.TextDocumentEdit):
                continue
            uri = change.text_document.uri
            # Back to front, so earlier ranges stay valid.
            for text_edit in sorted(
                change.edits,
                key=lambda e: (e.range.start.line, e.range.start.character),
                reverse=True,
            ):
                self.replace(uri, text_edit.range.start, text_edit.range.end, text_edit.new_text)

    def close(self, uri: str) -> None:
        self.buffers.pop(uri, None)
        self.client.text_document_did_close(
            types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(uri=uri))
        )

    async def stop(self) -> None:
        await self.client.shutdown_async(None)
        self.client.exit(None)
        await self.client.stop()
