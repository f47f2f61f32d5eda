"""One completion, top to bottom: window -> prompt -> engine -> cut -> edit.

Runs on the scheduler's worker with an immutable document snapshot; knows nothing of LSP.
"""

import logging
import time
from dataclasses import dataclass, field

from .cache import AFTER_CHARS, TypeThroughCache
from .config import Settings
from .context.window import LineTokenCounter, cursor_window
from .documents import Snapshot
from .engines.base import Engine, GenerationParams, GenerationStats
from .postprocess import Edit, LineCut, line_around, make_edit
from .prompts import build_prompt
from .scheduler import Superseded, Ticket

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CompletionRequest:
    snapshot: Snapshot
    cursor: int  # code-point offset into snapshot.text
    settings: Settings


@dataclass(frozen=True)
class CompletionResult:
    edit: Edit | None
    model: str
    engine_ms: float
    stats: GenerationStats = field(default_factory=GenerationStats)
    text: str = ""  # what the suggestion inserts at the cursor


def skip_reason(snapshot: Snapshot, settings: Settings) -> str | None:
    """Why no completion should be offered in this document at all, if any."""
    if not settings.enable:
        return "completions are disabled"
    if snapshot.language_id in settings.disabled_languages:
        return f"completions are disabled for {snapshot.language_id}"
    if "\x00" in snapshot.text:
        return "the document holds binary content"
    return None


class Completer:
    """Turns a request into a completion with one loaded engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._count_line = LineTokenCounter(engine.count_tokens)
        self.type_through = TypeThroughCache()

    def complete(self, request: CompletionRequest, ticket: Ticket) -> CompletionResult:
        start = time.perf_counter()
        snapshot, cursor = request.snapshot, request.cursor
        rest = self.type_through.lookup(snapshot.uri, snapshot.text, cursor)
        if rest is not None:
            line_prefix, line_suffix = line_around(snapshot.text, cursor)
            after = snapshot.text[cursor : cursor + AFTER_CHARS]
            edit = make_edit(cursor, line_prefix, line_suffix, after, rest)
            engine_ms = (time.perf_counter() - start) * 1000
            log.info("complete %s v%d: typed through, %r", snapshot.uri, snapshot.version, rest)
            stats = GenerationStats(stop_reason="typed-through")
            return CompletionResult(edit, self.engine.model_name, engine_ms, stats, rest)
        result = self._generate(request, ticket, start)
        shown = result.edit is not None
        self.type_through.remember(
            snapshot.uri, snapshot.text, cursor, result.text if shown else ""
        )
        return result

    def _generate(
        self, request: CompletionRequest, ticket: Ticket, start: float
    ) -> CompletionResult:
        settings = request.settings
        text = request.snapshot.text
        # The prompt and the completion share the engine's context; a budget beyond it is cut.
        budget = min(settings.context_budget, self.engine.n_ctx - settings.max_tokens - 16)
        window = cursor_window(
            text,
            request.cursor,
            budget,
            self._count_line,
            suffix_share=settings.suffix_share,
        )
        prompt = build_prompt(self.engine.template, window.prefix, window.suffix)
        window_ms = (time.perf_counter() - start) * 1000
        cut = LineCut(prompt.stops, settings.max_lines)
        stats = GenerationStats()
        params = GenerationParams(max_tokens=settings.max_tokens)
        pieces = self.engine.stream(prompt, params, ticket.is_cancelled, stats)
        try:
            for piece in pieces:
                if cut.feed(piece):
                    break
        finally:
            pieces.close()
        if stats.stop_reason == "cancelled":
            raise Superseded(ticket.reason)
        line_prefix, line_suffix = line_around(text, request.cursor)
        edit = make_edit(request.cursor, line_prefix, line_suffix, window.suffix, cut.text)
        engine_ms = (time.perf_counter() - start) * 1000
        log.info(
            "complete %s v%d: window %.0fms (%d+%d tok), prompt %d tok (%d reused, %d run) "
            "%.0fms, generate %d tok %.0fms, %s",
            request.snapshot.uri,
            request.snapshot.version,
            window_ms,
            window.prefix_tokens,
            window.suffix_tokens,
            stats.prompt_tokens,
            stats.reused_tokens,
            stats.evaluated_tokens,
            stats.prompt_ms,
            stats.generated_tokens,
            stats.generate_ms,
            "no suggestion" if edit is None else repr(edit.text),
        )
        return CompletionResult(edit, self.engine.model_name, engine_ms, stats, cut.text)
