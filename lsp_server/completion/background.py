"""What is computed while the user pauses, queued after each answer: the suggestion that
follows accepting the one shown, exact KV cells for moved ones, a better prompt head for the
place, and after a short arrival the whole prompt and the fuller answer it gives; after a
request that made no suggestion (in a comment), the place's prompt.

All of it runs as the scheduler's background work, which any request stops within a chunk.
"""

import asyncio
import logging
from collections.abc import Callable

from ..config import Settings
from ..runtime.idle import IdleWork
from ..runtime.scheduler import Scheduler, Ticket
from ..text.documents import DocumentStore, Pos, Snapshot, snapshot_with_text
from .edit import Edit
from .generate import GenerationRequest, Generator, Plan
from .head import Head, HeadPolicy, fingerprint, line_of
from .result import CompletionResult
from .trigger import Trigger, decide
from .type_through import TypeThroughCache

log = logging.getLogger(__name__)

Buffers = tuple[tuple[str, str], ...]


# The service's model run for a place, on the worker, as a request makes it: (generator,
# snapshot, cursor, trigger, invoked, buffers, ticket, kind).
RunFn = Callable[[Generator, Snapshot, int, Trigger, bool, Buffers, Ticket, str], CompletionResult]
PlanFn = Callable[[Generator, Snapshot, int, Buffers], Plan]
# The whole suggestion for a place whose request was answered with less: (snapshot, cursor,
# position, what was shown, the whole).
RestFn = Callable[[Snapshot, int, Pos, CompletionResult, CompletionResult], None]
# The prompt a place would get on arriving, evaluated where no suggestion was made: (generator,
# snapshot, cursor, buffers, ticket) -> whether it was.
WarmFn = Callable[[Generator, Snapshot, int, Buffers, Ticket], bool]


class PauseWork:
    """Queues, after each answer, what makes the next request cheap, for the next pause."""

    def __init__(
        self,
        scheduler: Scheduler,
        documents: DocumentStore,
        heads: HeadPolicy,
        type_through: TypeThroughCache,
        settings: Callable[[], Settings],
        run: RunFn,
        plan: PlanFn,
        rest_ready: RestFn,
        warm: WarmFn,
    ) -> None:
        self._idle = IdleWork(scheduler)
        self._documents = documents
        self._heads = heads
        self._type_through = type_through
        self._settings = settings
        self._run = run
        self._plan = plan
        self._rest_ready = rest_ready
        self._warm = warm
        self._loop: asyncio.AbstractEventLoop | None = None

    def after_answer(
        self,
        generator: Generator,
        before: Snapshot,
        cursor: int,
        position: Pos,
        shown: CompletionResult,
        settings: Settings,
    ) -> None:
        """Queue what makes the next request cheap, for when the user pauses: the suggestion
        that follows accepting `shown`, (with moveKv) exact KV cells for moved ones, and a
        better prompt head for this place, evaluated before any request uses it.

        After an answer on a short arrival window, the whole prompt comes first, at once: the
        user has just arrived and pauses, the next key stops it within a chunk (what it
        evaluated is kept), and the fuller answer it gives is announced as ready."""
        self._loop = asyncio.get_running_loop()
        short = shown.short
        ahead = (
            not short
            and settings.precompute
            and shown.edit is not None
            and not self._has_ahead(before, shown)
        )

        def jobs() -> list[Callable[[Ticket], object]]:
            queued: list[Callable[[Ticket], object]] = []
            buffers = self._documents.texts()
            if ahead:
                queued.append(lambda t: self._ahead(generator, before, shown, buffers, t))
            if settings.move_kv and not short:
                queued.append(lambda t: generator.engine.refresh(t.is_cancelled))
            # It replaces the prompt the engine holds (saved first, so a request that still
            # wants it gets it back by a restore): last, but for the run that needs it.
            queued.append(lambda t: self._prepare_head(generator, before, cursor, buffers, t))
            if short:
                queued.append(
                    lambda t: self._fuller(generator, before, cursor, position, shown, buffers, t)
                )
            return queued

        self._idle.after_pause(jobs, delay=0 if short else None)

    def after_skip(self, generator: Generator, snapshot: Snapshot, cursor: int) -> None:
        """A request the trigger let go without a suggestion: the place's prompt, at once (the
        next key stops it within a chunk, what it evaluated kept)."""

        def jobs() -> list[Callable[[Ticket], object]]:
            buffers = self._documents.texts()
            return [lambda t: self._warm(generator, snapshot, cursor, buffers, t)]

        self._idle.after_pause(jobs, delay=0)

    def cancel(self) -> None:
        """A request came: the user is not pausing."""
        self._idle.cancel()

    def _prepare_head(
        self,
        generator: Generator,
        snapshot: Snapshot,
        cursor: int,
        buffers: Buffers,
        ticket: Ticket,
    ) -> bool:
        """The context and window the place would get afresh, evaluated by the engine and
        offered for the next request if they differ from the held ones."""
        head = self._heads.current(snapshot.uri)
        if head is None:
            return False
        plan = self._plan(generator, snapshot, cursor, buffers)
        request = GenerationRequest(snapshot, cursor, self._settings(), False, plan=plan)
        fresh = generator.layout(request)
        offered = [h for h in (head, head.prepared) if h is not None]
        if any(
            plan == h.plan and fresh.window.start == h.start and h.budget is None for h in offered
        ):
            return False
        if not generator.prepare(fresh, ticket):
            return False
        start = fresh.window.start
        self._heads.offer(
            snapshot.uri,
            Head(
                snapshot.uri,
                plan,
                start,
                fingerprint(snapshot.text, start, cursor),
                line_of(snapshot.text, cursor),
                settled=True,
            ),
        )
        log.debug("prepared a new prompt head for %s v%d", snapshot.uri, snapshot.version)
        return True

    def _fuller(
        self,
        generator: Generator,
        snapshot: Snapshot,
        cursor: int,
        position: Pos,
        shown: CompletionResult,
        buffers: Buffers,
        ticket: Ticket,
    ) -> bool:
        """The request `shown` answered on a short window, run again on the whole prompt the
        engine has just evaluated; its answer is offered by a ready notice. Whether it ran."""
        head, _cause = self._heads.held(snapshot, cursor)
        if head is None or head.budget is not None:
            return False  # the whole prompt was not prepared: a pause will try again
        trigger = decide(snapshot, cursor, False)
        if not trigger.complete:
            return False
        whole = self._run(generator, snapshot, cursor, trigger, False, buffers, ticket, "fuller")
        if self._loop is not None:
            self._loop.call_soon_threadsafe(
                self._rest_ready, snapshot, cursor, position, shown, whole
            )
        return True

    def _has_ahead(self, before: Snapshot, shown: CompletionResult) -> bool:
        assert shown.edit is not None
        text, cursor = _accepted(before, shown.edit)
        return self._type_through.has_ahead(before.uri, text, cursor)

    def _ahead(
        self,
        generator: Generator,
        before: Snapshot,
        shown: CompletionResult,
        buffers: Buffers,
        ticket: Ticket,
    ) -> bool:
        """Compute the suggestion that follows `shown` once it is accepted, and remember it so
        that the request after the accept is answered from memory; whether one was made."""
        if shown.edit is None or self._has_ahead(before, shown):
            return False
        text, cursor = _accepted(before, shown.edit)
        snapshot = snapshot_with_text(before, text)
        trigger = decide(snapshot, cursor, False)
        if not trigger.complete:
            return False
        result = self._run(generator, snapshot, cursor, trigger, False, buffers, ticket, "ahead")
        if result.edit is None:
            return False
        self._type_through.remember_ahead(before.uri, text, cursor, result.text)
        return True


def _accepted(before: Snapshot, edit: Edit) -> tuple[str, int]:
    """The document text and cursor once `edit` is accepted."""
    text = before.text[: edit.start] + edit.text + before.text[edit.end :]
    return text, edit.start + len(edit.text)
