"""The LSP face of Tide: the server's parts, and each LSP method wired to its handler.

Handlers live one module per feature beside this one (lifecycle, sync, completions,
fix_actions, commands); each converts LSP types and calls a service.
"""

import json
import logging
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer

from .. import __version__
from ..completion.service import Answer, CompletionService, GenerationReport, Ready
from ..config import Settings, apply_settings, engine_changed, log_level_number
from ..context.service import ContextService
from ..engines.base import Engine
from ..errors import DocumentError, TideError
from ..fixes.service import FixService
from ..next_edit.service import NextEditService
from ..runtime.engine_slot import EngineSlot
from ..runtime.health import EngineHealth
from ..runtime.scheduler import Scheduler
from ..text.documents import DocumentStore, Snapshot
from . import commands, completions, fix_actions, inline_edits, lifecycle, sync
from .protocol import TideProtocol
from .status import StatusReporter

log = logging.getLogger(__name__)

GENERATION_NOTIFICATION = "tide/generation"
# Sent to clients that declare `experimental.tide.inlineCompletionReady`: a suggestion shown
# early has grown; asking again at the same place and version gets the whole at once.
READY_NOTIFICATION = "tide/inlineCompletionReady"


class TideServer(LanguageServer):
    def __init__(self, settings: Settings) -> None:
        super().__init__("tide-lsp", __version__, protocol_cls=TideProtocol)
        self.settings = settings
        # Above ~1 MB a reparse per keystroke costs 40+ ms on the event loop; such files get
        # no tree (completions still work, without syntax-aware rules).
        self.documents = DocumentStore(max_parse_bytes=1_000_000)
        self.scheduler = Scheduler()
        self.last_latency_ms: float | None = None
        self.status = StatusReporter(self, lambda: self.last_latency_ms)
        self.slot = EngineSlot(self.scheduler, self.status.send)
        self.health = EngineHealth(
            self.scheduler, lambda: self.slot.engine, lambda: self.slot.ready, self.status.send
        )
        self.context = ContextService()
        self.completions = CompletionService(
            self.documents,
            self.scheduler,
            self.context,
            self.slot.get,
            lambda: self.settings,
            self.report_generation,
            self.announce_ready,
        )
        self.fixes = FixService(
            self.scheduler,
            self.current_engine,
            self.documents.find,
            lambda snapshot, problems: fix_actions.publish(self, snapshot, problems),
            lambda: self.context.index.root if self.context.index is not None else None,
        )
        self.next_edits = NextEditService(
            self.documents,
            self.scheduler,
            self.current_engine,
            lambda uri: self.context.gatherer.path_of(uri),
        )

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

    async def current_engine(self) -> Engine | None:
        try:
            return await self.slot.get()
        except TideError:
            return None

    def answered(self, answer: Answer) -> None:
        """A completion request was answered: the status bar shows its latency."""
        self.last_latency_ms = answer.latency_ms
        self.status.resend()

    def report_generation(self, report: GenerationReport) -> None:
        """One model run, as a `tide/generation` notification, when the client asked for them."""
        if report.stats.stop_reason != "cancelled":
            self.health.served()
        if not self.settings.report_generations:
            return
        stats = report.stats
        payload = {
            "uri": report.uri,
            "version": report.version,
            "kind": report.kind,
            "promptTokens": stats.prompt_tokens,
            "reusedTokens": stats.reused_tokens,
            "evaluatedTokens": stats.evaluated_tokens,
            "generatedTokens": stats.generated_tokens,
            "promptMs": round(stats.prompt_ms, 1),
            "generateMs": round(stats.generate_ms, 1),
            "stopReason": stats.stop_reason,
            "cause": report.cause,
            "short": report.short,
        }
        self.protocol.notify(GENERATION_NOTIFICATION, payload)

    def announce_ready(self, ready: Ready) -> None:
        """Tell a client that asked for it that the rest of an early suggestion is ready."""
        capabilities = self.client_capabilities
        experimental = capabilities.experimental if capabilities else None
        tide = experimental.get("tide") if isinstance(experimental, dict) else None
        if not (isinstance(tide, dict) and tide.get("inlineCompletionReady") is True):
            return
        payload = {
            "textDocument": {"uri": ready.uri, "version": ready.version},
            "position": {"line": ready.position.line, "character": ready.position.character},
        }
        self.protocol.notify(READY_NOTIFICATION, payload)

    def snapshot(self, uri: str) -> Snapshot:
        try:
            return self.documents.get(uri)
        except DocumentError as exc:
            raise JsonRpcInvalidParams(str(exc)) from exc


def create_server(settings: Settings | None = None) -> TideServer:
    server = TideServer(settings or Settings())
    features: list[tuple[str, Any, Any]] = [
        (types.INITIALIZE, None, lifecycle.initialize),
        (types.INITIALIZED, None, lifecycle.initialized),
        (types.WORKSPACE_DID_CHANGE_CONFIGURATION, None, lifecycle.did_change_configuration),
        (types.SHUTDOWN, None, lifecycle.shutdown),
        (types.EXIT, None, lifecycle.exit_),
        (types.TEXT_DOCUMENT_DID_OPEN, None, sync.did_open),
        (types.TEXT_DOCUMENT_DID_CHANGE, None, sync.did_change),
        (types.TEXT_DOCUMENT_DID_CLOSE, None, sync.did_close),
        (
            types.TEXT_DOCUMENT_INLINE_COMPLETION,
            types.InlineCompletionOptions(),
            completions.inline_completion,
        ),
        (types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(), completions.completion),
        (
            types.TEXT_DOCUMENT_CODE_ACTION,
            types.CodeActionOptions(
                code_action_kinds=[types.CodeActionKind.QuickFix], resolve_provider=True
            ),
            fix_actions.code_action,
        ),
        (types.CODE_ACTION_RESOLVE, None, fix_actions.code_action_resolve),
        (inline_edits.INLINE_EDIT, None, inline_edits.inline_edit),
        (inline_edits.DID_SHOW_INLINE_EDIT, None, inline_edits.did_show_inline_edit),
    ]
    for method, options, handler in features:
        server.feature(method, options)(handler)
    server.command(commands.PULL_COMMAND)(commands.pull_model)
    return server
