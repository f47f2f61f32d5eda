"""The LSP face of Tide: thin handlers that convert LSP types and call the pipeline."""

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInternalError, JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer

from .. import __version__
from ..completion.service import Completer, CompletionRequest, CompletionResult, skip_reason
from ..config import Settings, apply_settings, engine_changed, log_level_number
from ..context.service import ContextService, file_path
from ..engines.base import Engine
from ..errors import DocumentError, TideError
from ..fixes.service import FixService
from ..runtime.engine_slot import EngineSlot, Status, model_label
from ..runtime.idle import IdleWork
from ..runtime.inflight import InFlight
from ..runtime.scheduler import Scheduler, Superseded, Ticket
from ..text.documents import Change, DocumentStore, Pos, Snapshot
from . import fix_actions
from .protocol import TideProtocol

log = logging.getLogger(__name__)

STATUS_NOTIFICATION = "tide/status"
PULL_COMMAND = "tide.pullModel"


class TideServer(LanguageServer):
    def __init__(self, settings: Settings) -> None:
        super().__init__("tide-lsp", __version__, protocol_cls=TideProtocol)
        self.settings = settings
        # Above ~1 MB a reparse per keystroke costs 40+ ms on the event loop; such files get
        # no tree (completions still work, without syntax-aware rules).
        self.documents = DocumentStore(max_parse_bytes=1_000_000)
        self.scheduler = Scheduler()
        self.inflight = InFlight()
        self.idle = IdleWork(self.scheduler)
        self.slot = EngineSlot(self.scheduler, self.send_status)
        self.context = ContextService()
        self.fixes = FixService(
            self.scheduler,
            self.current_engine,
            self.documents.find,
            lambda snapshot, problems: fix_actions.publish(self, snapshot, problems),
            lambda: self.context.index.root if self.context.index is not None else None,
        )
        self.last_latency_ms: float | None = None
        self._progress_token: str | None = None
        self._progress_steps: list[Status] = []
        self._progress_task: asyncio.Task | None = None
        self._last_status: Status | None = None

    def report_server_error(self, error: Exception, source) -> None:
        if isinstance(error, json.JSONDecodeError):
            self.protocol.answer_malformed(error)
            return
        super().report_server_error(error, source)

    def tell(self, message: str, kind: types.MessageType = types.MessageType.Warning) -> None:
        log.warning("%s", message)
        self.window_show_message(types.ShowMessageParams(type=kind, message=f"Tide: {message}"))

    def update_settings(self, raw: Any) -> bool:
        """Apply a settings object; reports problems and returns whether the engine must reload."""
        new, errors = apply_settings(self.settings, raw)
        for error in errors:
            self.tell(f"{error}; keeping the previous value")
        reload = engine_changed(self.settings, new)
        self.settings = new
        logging.getLogger("lsp_server").setLevel(log_level_number(new))
        return reload

    def send_status(self, status: Status) -> None:
        self._last_status = status
        payload = {
            "state": status.state,
            "model": status.model,
            "percent": status.percent,
            "message": status.message,
            "adapter": status.adapter,
            "latencyMs": self.last_latency_ms,
        }
        self.protocol.notify(STATUS_NOTIFICATION, payload)
        self._report_progress(status)
        if status.state == "error":
            self.tell(status.message or "model error", types.MessageType.Error)

    def _report_progress(self, status: Status) -> None:
        """Mirror model download and load as LSP work-done progress, when the client has it."""
        window = self.client_capabilities.window if self.client_capabilities else None
        if window and window.work_done_progress:
            self._progress_steps.append(status)
            if self._progress_task is None or self._progress_task.done():
                self._progress_task = asyncio.ensure_future(self._drain_progress())

    async def _drain_progress(self) -> None:
        # One task sends the steps in order; `begin` must wait for the client to accept the
        # token it was created with.
        progress = self.work_done_progress
        while self._progress_steps:
            status = self._progress_steps.pop(0)
            active = status.state in ("downloading", "loading")
            if active and self._progress_token is None:
                token = f"tide-model-{uuid.uuid4()}"
                try:
                    await asyncio.wait_for(progress.create_async(token), 10)
                except Exception as exc:  # noqa: BLE001 - a client may refuse; status still flows
                    log.info("client did not create a progress token: %s", exc)
                    continue
                self._progress_token = token
                begin = types.WorkDoneProgressBegin(
                    title=f"Tide: {status.model}", message=status.message, percentage=0
                )
                progress.begin(token, begin)
            elif active and self._progress_token is not None:
                report = types.WorkDoneProgressReport(
                    message=status.message, percentage=status.percent
                )
                progress.report(self._progress_token, report)
            elif self._progress_token is not None:
                token, self._progress_token = self._progress_token, None
                progress.end(token, types.WorkDoneProgressEnd(message=status.state))

    async def current_engine(self) -> Engine | None:
        try:
            return (await self.slot.get()).engine
        except TideError:
            return None

    def snapshot(self, uri: str) -> Snapshot:
        try:
            return self.documents.get(uri)
        except DocumentError as exc:
            raise JsonRpcInvalidParams(str(exc)) from exc

    async def complete_at(
        self, uri: str, position: types.Position, invoked: bool = False
    ) -> CompletionResult | None:
        """Shared by inline completion and completion: one pipeline run, or None."""
        started = time.perf_counter()
        self.idle.cancel()  # a request means the user is not pausing
        snapshot = self.snapshot(uri)
        try:
            cursor = snapshot.offset_at(Pos(position.line, position.character))
        except DocumentError as exc:
            raise JsonRpcInvalidParams(str(exc)) from exc
        reason = skip_reason(snapshot, self.settings)
        if reason:
            log.info("no completion for %s: %s", uri, reason)
            return None
        try:
            completer = await self.slot.get()
        except TideError as exc:
            raise JsonRpcInternalError(f"no model available: {exc}") from exc
        through = completer.typed_through(snapshot, cursor, invoked)
        if through is not None:
            if completer.needs_ahead(snapshot, through):
                self._after_completion(
                    completer, lambda: self._request(completer, snapshot, cursor), through
                )
            return self._answered(started, through)
        request = self._request(completer, snapshot, cursor, invoked)
        try:
            if not invoked and await self.inflight.wait_for(uri, snapshot.text, cursor):
                log.debug("waited for the generation in flight for %s", uri)
            job = self.scheduler.run(uri, lambda t: completer.complete(request, t))
            result = await self.inflight.start(uri, snapshot.text, cursor, job)
        except Superseded as exc:
            log.info("completion for %s dropped: %s", uri, exc)
            return None
        except TideError as exc:
            log.error("completion failed: %s", exc)
            raise JsonRpcInternalError(str(exc)) from exc
        self._after_completion(completer, lambda: request, result)
        return self._answered(started, result)

    def _request(
        self, completer: Completer, snapshot: Snapshot, cursor: int, invoked: bool = False
    ) -> CompletionRequest:
        buffers = tuple((u, self.documents.get(u).text) for u in self.documents.uris())
        files, path = self.context.files_for(
            snapshot, cursor, buffers, self.settings.cross_file_budget, completer.engine
        )
        return CompletionRequest(
            snapshot, cursor, self.settings, invoked, files, path, self.context.repo
        )

    def _answered(self, started: float, result: CompletionResult) -> CompletionResult:
        self.last_latency_ms = (time.perf_counter() - started) * 1000
        if self._last_status is not None:
            self.send_status(self._last_status)
        return result

    def _after_completion(
        self,
        completer: Completer,
        request: Callable[[], CompletionRequest],
        result: CompletionResult,
    ) -> None:
        """Queue what makes the next request cheap, for when the user pauses; the request for
        the suggestion computed ahead is made then, not while the user types."""
        ahead = self.settings.precompute and result.edit is not None
        if not ahead and not self.settings.move_kv:
            return

        def jobs() -> list[Callable[[Ticket], object]]:
            queued = []
            if ahead:
                made = request()
                queued.append(lambda t: completer.complete_ahead(made, result, t))
            if self.settings.move_kv:
                queued.append(lambda t: completer.engine.refresh(t.is_cancelled))
            return queued

        self.idle.after_pause(jobs)

    def lsp_range(self, snapshot: Snapshot, start: int, end: int) -> types.Range:
        a, b = snapshot.pos_at(start), snapshot.pos_at(end)
        return types.Range(types.Position(a.line, a.character), types.Position(b.line, b.character))


def _to_change(change: Any) -> Change:
    if isinstance(change, types.TextDocumentContentChangePartial):
        r = change.range
        return Change(
            change.text, Pos(r.start.line, r.start.character), Pos(r.end.line, r.end.character)
        )
    return Change(change.text)


def create_server(settings: Settings | None = None) -> TideServer:
    server = TideServer(settings or Settings())

    @server.feature(types.INITIALIZE)
    def initialize(ls: TideServer, params: types.InitializeParams) -> None:
        ls.documents.encoding = ls.workspace.position_encoding or "utf-16"
        ls.update_settings(params.initialization_options)
        folders = params.workspace_folders or []
        root = file_path(folders[0].uri if folders else params.root_uri)
        ls.context.open_workspace(root)
        ls.slot.workspace = root if root is not None and root.is_dir() else None

    @server.feature(types.INITIALIZED)
    def initialized(ls: TideServer, params: types.InitializedParams) -> None:
        ls.slot.start_load(ls.settings).add_done_callback(_consume)

    @server.feature(types.SHUTDOWN)
    async def shutdown(ls: TideServer, params: None) -> None:
        ls.scheduler.cancel_all("shutting down")
        ls.idle.cancel()
        ls.fixes.cancel_all()
        ls.context.stop()
        await ls.slot.close()

    @server.feature(types.EXIT)
    def exit_(ls: TideServer, params: None) -> None:
        ls.scheduler.shutdown()

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: TideServer, params: types.DidOpenTextDocumentParams) -> None:
        doc = params.text_document
        snapshot = ls.documents.open(doc.uri, doc.language_id, doc.version, doc.text)
        ls.fixes.changed(snapshot, ls.settings)
        ls.context.saved_or_opened(snapshot)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: TideServer, params: types.DidChangeTextDocumentParams) -> None:
        doc = params.text_document
        changes = [_to_change(c) for c in params.content_changes]
        try:
            snapshot = ls.documents.change(doc.uri, doc.version, changes)
        except DocumentError as exc:
            ls.tell(f"ignored an edit to {doc.uri}: {exc}")
            return
        ls.fixes.changed(snapshot, ls.settings)
        for change in changes:
            if change.start is not None:
                last = change.start.line + change.text.count("\n")
                ls.context.changed(snapshot, change.start.line, last)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: TideServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.documents.close(params.text_document.uri)
        ls.fixes.closed(params.text_document.uri)
        ls.context.closed(params.text_document.uri)
        ls.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(params.text_document.uri, [])
        )
        if ls.slot.completer is not None:
            ls.slot.completer.type_through.forget(params.text_document.uri)

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    def did_change_configuration(
        ls: TideServer, params: types.DidChangeConfigurationParams
    ) -> None:
        if ls.update_settings(params.settings):
            ls.slot.start_load(ls.settings).add_done_callback(_consume)

    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    async def inline_completion(
        ls: TideServer, params: types.InlineCompletionParams
    ) -> types.InlineCompletionList:
        uri = params.text_document.uri
        invoked = params.context.trigger_kind == types.InlineCompletionTriggerKind.Invoked
        result = await ls.complete_at(uri, params.position, invoked)
        if result is None or result.edit is None:
            return types.InlineCompletionList(items=[])
        snapshot = ls.snapshot(uri)
        edits = [result.edit, *(c.edit for c in result.alternatives)]
        items = [
            types.InlineCompletionItem(
                insert_text=edit.text, range=ls.lsp_range(snapshot, edit.start, edit.end)
            )
            for edit in edits
        ]
        return types.InlineCompletionList(items=items)

    @server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions())
    async def completion(ls: TideServer, params: types.CompletionParams) -> types.CompletionList:
        uri = params.text_document.uri
        result = await ls.complete_at(uri, params.position)
        # Incomplete, so the client asks again as the user types instead of filtering a stale item.
        empty = types.CompletionList(is_incomplete=True, items=[])
        if result is None or result.edit is None:
            return empty
        snapshot = ls.snapshot(uri)
        edit = result.edit
        label = edit.text.strip().splitlines()[0] if edit.text.strip() else edit.text
        item = types.CompletionItem(
            label=label,
            kind=types.CompletionItemKind.Text,
            detail=f"Tide · {result.model}",
            filter_text=edit.text,
            sort_text="0",
            insert_text_format=types.InsertTextFormat.PlainText,
            text_edit=types.TextEdit(ls.lsp_range(snapshot, edit.start, edit.end), edit.text),
        )
        return types.CompletionList(is_incomplete=True, items=[item])

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(
            code_action_kinds=[types.CodeActionKind.QuickFix], resolve_provider=True
        ),
    )
    def code_action(ls: TideServer, params: types.CodeActionParams) -> list[types.CodeAction]:
        return fix_actions.code_actions(ls, params)

    @server.feature(types.CODE_ACTION_RESOLVE)
    async def code_action_resolve(ls: TideServer, params: types.CodeAction) -> types.CodeAction:
        return await fix_actions.resolve(ls, params)

    @server.command(PULL_COMMAND)
    async def pull_model(ls: TideServer, *args: Any) -> dict[str, str]:
        name = args[0] if args and isinstance(args[0], str) else None
        settings = ls.settings if name is None else apply_settings(ls.settings, {"model": name})[0]
        try:
            await ls.slot.start_load(settings)
        except TideError as exc:
            raise JsonRpcInternalError(str(exc)) from exc
        ls.settings = settings
        return {"model": model_label(settings), "state": "ready"}

    return server


def _consume(task: "asyncio.Task[None]") -> None:
    """Load failures are reported through status; keep asyncio from logging them again."""
    if not task.cancelled() and task.exception() is not None:
        exc = task.exception()
        if not isinstance(exc, TideError | JsonRpcException):
            log.error("model load failed unexpectedly", exc_info=exc)
