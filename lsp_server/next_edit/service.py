"""Next-edit suggestions for the server: refuse, choose the region, prompt, rewrite on the
engine's worker, and turn the rewrite into a checked minimal edit.

The model runs as background work under the document's own key: a completion request takes the
worker at once (the rewrite picks up again after it), and a newer next-edit request for the same
document replaces an older one. Answers are kept per document version and region, so a client
that asks again for what it was just shown costs no model run.
"""

import contextlib
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ..engines.base import Engine, GenerationParams, GenerationStats
from ..errors import TideError
from ..fixes.service import in_background
from ..runtime.scheduler import Scheduler, Superseded, Ticket
from ..text.documents import DocumentStore, Snapshot
from ..text.line_index import Pos
from .edit import NextEdit, refusal, region_edit, region_refusal, rejection
from .history import EditHistory, line_hunk
from .prompts import (
    Layout,
    NextEditRequest,
    draft_for,
    layout_for,
    request_for,
    rewrite_from,
    served_prompt,
)
from .region import Region, region_for

log = logging.getLogger(__name__)

CACHED_ANSWERS = 32
# A rewrite longer than this many times the region (plus a little) has run away from it.
_RUNAWAY_FACTOR, _RUNAWAY_SLACK = 3, 400


class StaleVersion(TideError):
    """The request is about a document version that is no longer the current one."""


class Interrupted(Exception):
    """The rewrite was cancelled before the model finished it."""


@dataclass(frozen=True)
class NextEditAnswer:
    """The suggestion for one request, with the snapshot its offsets refer to; without an
    edit, `reason` says why."""

    snapshot: Snapshot
    edit: NextEdit | None
    reason: str = ""
    region: Region | None = None


@dataclass(frozen=True)
class Rewrite:
    """What the model made of a region: the rewrite, or None with the reason."""

    text: str | None
    reason: str = ""


def rewrite_region(
    engine: Engine,
    layout: Layout,
    request: NextEditRequest,
    cancelled: Callable[[], bool],
) -> Rewrite:
    """The model's rewrite of the request's region, read until it closes the region; raises
    Interrupted when `cancelled()` stopped it."""
    prompt, budget = served_prompt(
        layout, request, engine.chat_prompt, engine.count_tokens, engine.n_ctx
    )
    if prompt is None:
        return Rewrite(None, "the model has no chat format, or the region does not fit")
    # Most of a rewrite copies the region: with it as the draft, an engine that can verify
    # drafts decodes the copied runs a batch at a time.
    # Under the engine's next-edit adapter, never the completion adapter (GenerationParams).
    draft = draft_for(layout, request)
    params = GenerationParams(max_tokens=budget, background=True, draft=draft, next_edit=True)
    stats = GenerationStats()
    limit = _RUNAWAY_FACTOR * len(request.region.text) + _RUNAWAY_SLACK
    answer = ""
    with contextlib.closing(engine.stream(prompt, params, cancelled, stats)) as pieces:
        for piece in pieces:
            answer += piece
            if layout.region_end in answer or len(answer) > limit:
                break
    if cancelled():
        raise Interrupted
    log.debug("next-edit answer (%s): %r", stats.stop_reason, answer[:400])
    text = rewrite_from(answer, layout, finished=stats.stop_reason == "eos")
    if text is None:
        return Rewrite(None, f"the model did not close the region ({stats.stop_reason or 'cut'})")
    return Rewrite(text)


class NextEditService:
    def __init__(
        self,
        documents: DocumentStore,
        scheduler: Scheduler,
        engine: Callable[[], Awaitable[Engine | None]],
        path_of: Callable[[str], str],
        history: EditHistory | None = None,
    ) -> None:
        self._documents = documents
        self._scheduler = scheduler
        self._engine = engine
        self._path_of = path_of
        self.history = history or EditHistory()
        self._answers: OrderedDict[tuple[str, int, int, int], NextEditAnswer] = OrderedDict()

    def changed(self, before: Snapshot, after: Snapshot, lines: tuple[int, int] | None) -> None:
        """A document changed from `before` to `after` in `lines` (first and last, of `after`);
        None when the client sent the whole text, so the texts tell where it changed."""
        if lines is None:
            hunk = line_hunk(after.uri, before.text, after.text)
            if hunk is None:
                return
            lines = (hunk.line, hunk.line + hunk.after.count("\n"))
        self.history.record(after.uri, before.text, after.text, *lines)

    def closed(self, uri: str) -> None:
        self.history.forget(uri)
        for key in [k for k in self._answers if k[0] == uri]:
            del self._answers[key]

    def _current(self, uri: str, version: int | None) -> Snapshot:
        snapshot = self._documents.get(uri)
        if version is not None and snapshot.version != version:
            raise StaleVersion(
                f"version {version} of {uri} is gone (now {snapshot.version}); ask again"
            )
        return snapshot

    async def suggest(self, uri: str, version: int | None, position: Pos) -> NextEditAnswer:
        """The next edit for the document at `version` (None: the current one), with the
        cursor at position. Raises DocumentError for a document that is not open and
        StaleVersion for a version that is not, or no longer, the current one."""
        snapshot = self._current(uri, version)
        refused = refusal(snapshot)
        if refused is not None:
            log.info("no next edit for %s: %s", uri, refused)
            return NextEditAnswer(snapshot, None, refused)
        cursor = snapshot.offset_at(position)
        region = region_for(snapshot, cursor, self.history)
        refused = region_refusal(region)
        if refused is not None:
            log.info("no next edit for %s: %s", uri, refused)
            return NextEditAnswer(snapshot, None, refused, region)
        key = (uri, snapshot.version, region.first, region.last)
        cached = self._answers.get(key)
        if cached is not None:
            return cached
        engine = await self._engine()
        if engine is None:
            return NextEditAnswer(snapshot, None, "no model is loaded", region)
        request = request_for(snapshot, region, cursor, self.history, self._path_of)
        layout = layout_for(engine.template.family)

        def job(ticket: Ticket) -> Rewrite:
            try:
                return rewrite_region(engine, layout, request, ticket.is_cancelled)
            except Interrupted as exc:
                # The ticket's reason tells a request that preempted the rewrite (which is
                # tried again) from a newer rewrite that replaced it.
                raise Superseded(ticket.reason) from exc

        try:
            rewrite = await in_background(self._scheduler, f"next-edit:{uri}", job)
        except Superseded as exc:
            return NextEditAnswer(snapshot, None, f"dropped: {exc}", region)
        # The rewrite takes seconds: an edit made meanwhile leaves this one for a gone version.
        self._current(uri, snapshot.version)
        answer = self._answer(snapshot, region, rewrite)
        adapter = engine.next_edit_adapter
        log.info(
            "next edit for %s v%d lines %d-%d (%s): %s",
            uri,
            snapshot.version,
            region.first,
            region.last,
            f"next-edit adapter {adapter}" if adapter else "no next-edit adapter",
            "offered" if answer.edit else answer.reason,
        )
        self._answers[key] = answer
        while len(self._answers) > CACHED_ANSWERS:
            self._answers.popitem(last=False)
        return answer

    def _answer(self, snapshot: Snapshot, region: Region, rewrite: Rewrite) -> NextEditAnswer:
        if rewrite.text is None:
            return NextEditAnswer(snapshot, None, rewrite.reason, region)
        edit = region_edit(region, rewrite.text)
        if edit is None:
            return NextEditAnswer(snapshot, None, "the model changes nothing", region)
        latest = next((h for h in reversed(self.history.recent()) if h.uri == snapshot.uri), None)
        rejected = rejection(snapshot, region, edit, latest)
        if rejected is not None:
            return NextEditAnswer(snapshot, None, rejected, region)
        return NextEditAnswer(snapshot, edit, "", region)
