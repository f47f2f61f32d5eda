"""One inline completion, top to bottom: gate -> type-through -> trigger -> in flight ->
context and generation on the engine's worker -> what to compute in the next pause
(`background.PauseWork`: ahead of an accept, a better prompt head, and after a short arrival
the whole prompt and the fuller answer it gives).

The answer carries the snapshot it was computed on, so the editor's ranges are converted with
the very text the edit was made for, whatever was typed meanwhile.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ..config import Settings
from ..context.service import ContextService
from ..engines.base import Engine, GenerationStats
from ..runtime.inflight import InFlight, Progress
from ..runtime.scheduler import Scheduler, Superseded, Ticket
from ..text.documents import DocumentStore, Pos, Snapshot
from .background import Buffers, PauseWork
from .edit import line_around, make_edit
from .generate import CutShort, Early, GenerationRequest, Generator, Layout, Plan
from .head import Head, HeadPolicy, fingerprint, line_of, short_arrival
from .result import CompletionResult
from .trigger import Trigger, decide, skip_reason
from .type_through import AFTER_CHARS, TypeThroughCache

log = logging.getLogger(__name__)

# Prompt tokens a keystroke adds: more evaluated under a held head means the text after the
# cursor changed (the cursor moved), which the report names.
TYPED_TOKENS = 16


@dataclass(frozen=True)
class Answer:
    """A completion and the snapshot it was computed on (its offsets are into that text)."""

    snapshot: Snapshot
    result: CompletionResult | None  # None: nothing to suggest here, for `reason`
    reason: str = ""
    latency_ms: float = 0.0


@dataclass(frozen=True)
class GenerationReport:
    """One model run, as `tide/generation` reports it."""

    uri: str
    version: int
    # request; fuller (the same request on its whole prompt, after a short arrival's answer);
    # or ahead (computed as if the shown suggestion were accepted)
    kind: str
    stats: GenerationStats
    # Why prompt tokens past the reused ones were evaluated: typing, arrival (a new place),
    # context (other files' snippets changed), window (its start moved), file (another
    # document), cursor (moved within the place).
    cause: str = ""
    short: bool = False  # on a short arrival window: a fuller run follows


ReportFn = Callable[[GenerationReport], None]


@dataclass(frozen=True)
class _Place:
    """A run's prompt, and the head held for its place before it was chosen."""

    request: GenerationRequest
    layout: Layout
    head: Head | None
    cause: str  # as `HeadPolicy.held` gave it
    moved: bool  # the window's start moved from the held head's


@dataclass(frozen=True)
class Ready:
    """A request answered early, before its generation ended: the rest is ready now, and a
    request at the same place and version gets it at once."""

    uri: str
    version: int
    position: Pos


ReadyFn = Callable[[Ready], None]


class CompletionService:
    """Answers completion requests; the handlers only convert LSP types around `complete`."""

    def __init__(
        self,
        documents: DocumentStore,
        scheduler: Scheduler,
        context: ContextService,
        engine: Callable[[], Awaitable[Engine]],
        settings: Callable[[], Settings],
        report: ReportFn = lambda _r: None,
        ready: ReadyFn = lambda _r: None,
    ) -> None:
        self._documents = documents
        self._scheduler = scheduler
        self._context = context
        self._engine = engine
        self._settings = settings
        self._report = report
        self._ready = ready
        # Per document: the whole suggestion of a request answered early, for the request its
        # Ready brings (version, cursor, result).
        self._rest: dict[str, tuple[int, int, CompletionResult]] = {}
        self._inflight = InFlight()
        self.type_through = TypeThroughCache()
        self._heads = HeadPolicy()
        self._pause = PauseWork(
            scheduler,
            documents,
            self._heads,
            self.type_through,
            settings,
            self._generate,
            self._plan,
            self._rest_ready,
            self._warm,
        )
        self._loop: asyncio.AbstractEventLoop | None = None  # where reports are delivered
        self._generator: Generator | None = None

    async def complete(self, uri: str, position: Pos, invoked: bool = False) -> Answer:
        started = time.perf_counter()
        self._loop = asyncio.get_running_loop()
        self._pause.cancel()  # a request means the user is not pausing
        snapshot = self._documents.get(uri)
        cursor = snapshot.offset_at(position)
        settings = self._settings()

        def answer(result: CompletionResult | None, reason: str = "") -> Answer:
            latency_ms = (time.perf_counter() - started) * 1000
            return Answer(snapshot, result, reason or (result.reason if result else ""), latency_ms)

        skip = skip_reason(snapshot, settings)
        if skip:
            log.info("no completion for %s: %s", uri, skip)
            return answer(None, skip)
        generator = await self._generator_now()
        rest = self._rest.pop(uri, None)
        if rest is not None and not invoked and rest[:2] == (snapshot.version, cursor):
            self._pause.after_answer(generator, snapshot, cursor, position, rest[2], settings)
            return answer(rest[2])
        through = self._typed_through(generator, snapshot, cursor, invoked)
        if through is not None:
            self._pause.after_answer(generator, snapshot, cursor, position, through, settings)
            return answer(through)
        trigger = decide(snapshot, cursor, invoked)
        if not trigger.complete:
            log.info("complete %s v%d: skipped, %s", uri, snapshot.version, trigger.reason)
            if not invoked:
                self._pause.after_skip(generator, snapshot, cursor)
            return answer(None, trigger.reason)
        if not invoked and await self._inflight.wait_for(uri, snapshot.text, cursor):
            log.debug("waited for the generation in flight for %s", uri)
            through = self._typed_through(generator, snapshot, cursor, invoked)
            if through is not None:
                self._pause.after_answer(generator, snapshot, cursor, position, through, settings)
                return answer(through)
        buffers = self._documents.texts()
        early, handed = self._early(snapshot, cursor, started, settings, invoked)
        progress = Progress()

        def on_worker(ticket: Ticket) -> CompletionResult:
            return self._generate(
                generator,
                snapshot,
                cursor,
                trigger,
                invoked,
                buffers,
                ticket,
                early=early,
                progress=progress,
            )

        def on_whole(rest: CompletionResult, handed: CompletionResult) -> None:
            if rest.short and self._unchanged(snapshot):
                self._pause.after_answer(generator, snapshot, cursor, position, rest, settings)
            self._rest_ready(snapshot, cursor, position, handed, rest)

        try:
            result, whole = await self._generation(
                uri, snapshot.text, cursor, on_worker, handed, on_whole, progress
            )
        except Superseded as exc:
            log.info("completion for %s dropped: %s", uri, exc)
            return answer(None, f"dropped: {exc}")
        if whole:
            self._pause.after_answer(generator, snapshot, cursor, position, result, settings)
        return answer(result)

    async def _generation(
        self,
        uri: str,
        text: str,
        cursor: int,
        on_worker: Callable[[Ticket], CompletionResult],
        handed: "asyncio.Future[CompletionResult]",
        on_whole: Callable[[CompletionResult, CompletionResult], None],
        progress: Progress,
    ) -> tuple[CompletionResult, bool]:
        """The generation's answer, or what it handed over early; whether it is the whole.
        After an early answer, `on_whole` gets the whole and the early one when it ends."""
        job = self._scheduler.run(uri, on_worker)
        flight = asyncio.ensure_future(self._inflight.start(uri, text, cursor, job, progress))
        try:
            await asyncio.wait({flight, handed}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            flight.cancel()
            raise
        if flight.done():
            return flight.result(), True
        # The generation goes on for the next key, which the type-through cache then serves.
        early = handed.result()

        def ended(flight: "asyncio.Future[CompletionResult]") -> None:
            if not flight.cancelled() and flight.exception() is None:
                on_whole(flight.result(), early)

        flight.add_done_callback(ended)
        return early, False

    def _rest_ready(
        self,
        snapshot: Snapshot,
        cursor: int,
        position: Pos,
        early: CompletionResult,
        whole: CompletionResult,
    ) -> None:
        """The generation of a request answered early, or the fuller run after a short
        arrival, ended: if the suggestion grew or changed (or was cut to nothing) while the
        document stayed as it was, the client may ask again."""
        if whole.text == early.text or not self._unchanged(snapshot):
            return
        self._rest[snapshot.uri] = (snapshot.version, cursor, whole)
        self._ready(Ready(snapshot.uri, snapshot.version, position))

    def _unchanged(self, snapshot: Snapshot) -> bool:
        current = self._documents.find(snapshot.uri)
        return current is not None and current.version == snapshot.version

    def _early(
        self, snapshot: Snapshot, cursor: int, started: float, settings: Settings, invoked: bool
    ) -> "tuple[Early | None, asyncio.Future[CompletionResult]]":
        """Where a generation hands over what it has by the request's time limit, and the
        future the request's answer then comes by; no hand-over when the user asked
        explicitly (they wait for ranked alternatives) or the limit is off."""
        future: asyncio.Future[CompletionResult] = asyncio.get_running_loop().create_future()
        if invoked or not settings.answer_within_ms:
            return None, future
        loop = asyncio.get_running_loop()

        def give(result: CompletionResult) -> None:
            # On the worker: the next key may come before the generation ends.
            self.type_through.remember(snapshot.uri, snapshot.text, cursor, result.text)
            loop.call_soon_threadsafe(_settle, future, result)

        limit = settings.answer_within_ms / 1000
        return Early(started + limit, give, words_at=started + 2 * limit), future

    async def _generator_now(self) -> Generator:
        engine = await self._engine()
        if self._generator is None or self._generator.engine is not engine:
            # A new engine serves: what the last one suggested or counted no longer holds.
            self._generator = Generator(engine)
            self.type_through.clear()
            self._heads.clear()
        return self._generator

    def _generate(
        self,
        generator: Generator,
        snapshot: Snapshot,
        cursor: int,
        trigger: Trigger,
        invoked: bool,
        buffers: Buffers,
        ticket: Ticket,
        kind: str = "request",
        early: Early | None = None,
        progress: Progress | None = None,
    ) -> CompletionResult:
        """Context and generation, on the worker: the engine counts the context's tokens."""
        place = self._place(generator, snapshot, cursor, trigger.multiline, invoked, buffers, kind)
        request, layout, shown = place.request, place.layout, kind != "ahead"

        def report(stats: GenerationStats) -> None:
            why = _cause(place.cause, stats, place.head, place.moved) if shown else kind
            short = shown and request.budget is not None
            done = GenerationReport(snapshot.uri, snapshot.version, kind, stats, why, short)
            if self._loop is not None:
                # Runs on the worker; the report goes out from the event loop.
                self._loop.call_soon_threadsafe(self._report, done)

        try:
            result = generator.generate(request, ticket, layout, early, progress)
        except CutShort as cut:
            report(cut.stats)  # what the keystroke that cut it threw away
            raise
        if shown:
            self._heads.settle(snapshot.uri, layout.window.start)
            text = result.text if result.edit is not None else ""
            self.type_through.remember(snapshot.uri, snapshot.text, cursor, text)
        report(result.stats)
        return result

    def _place(
        self,
        generator: Generator,
        snapshot: Snapshot,
        cursor: int,
        multiline: bool,
        invoked: bool,
        buffers: Buffers,
        kind: str,
    ) -> "_Place":
        """The prompt for a run at `cursor`, on the head this place holds.

        The prompt head held for this place is used as it is. Arriving elsewhere in the same
        document keeps the snippets the engine already holds, so only the window is evaluated;
        arriving in another document gathers them afresh; an arrival whose prompt would take
        past the pause after arriving is answered on a short window. Either way a better head
        is prepared in the next pause.
        """
        settings = self._settings()
        head, cause = self._heads.held(snapshot, cursor)
        if head is not None:
            plan, start, budget = head.plan, head.start, head.budget
        else:
            left = self._heads.left_behind(snapshot.uri, cause, invoked, settings)
            plan = left or self._plan(generator, snapshot, cursor, buffers)
            start = budget = None
        label = "ahead of accept," if kind == "ahead" else "complete"
        request = GenerationRequest(
            snapshot, cursor, settings, multiline, invoked, plan, label, start, budget
        )
        layout = generator.layout(request)
        if head is None and kind == "request" and not invoked:
            request, layout = short_arrival(generator, request, layout)
        shown = kind != "ahead"  # the run's answer is what the user sees
        moved = shown and head is not None and layout.window.start != head.start
        if shown:
            kept = head is not None and not moved
            # Held before the model runs: a run superseded while it evaluates a new place's
            # prompt leaves the head, and the prompt's evaluated part, to the next request.
            self._heads.hold(
                Head(
                    snapshot.uri,
                    request.plan,
                    layout.window.start,
                    head.fingerprint
                    if kept
                    else fingerprint(snapshot.text, layout.window.start, cursor),
                    line_of(snapshot.text, cursor),
                    settled=kept and head.settled,
                    origin=head.origin if kept else ("window" if moved else cause),
                    budget=request.budget,
                )
            )
        return _Place(request, layout, head, cause, moved)

    def _warm(
        self,
        generator: Generator,
        snapshot: Snapshot,
        cursor: int,
        buffers: Buffers,
        ticket: Ticket,
    ) -> bool:
        """Where the trigger let a request go without a suggestion (a comment, a string), the
        prompt the next request here would evaluate on arriving, evaluated now; whether it
        was. The user who arrives in a comment writes code below it next, and that line's
        suggestion then costs what was typed since, not a new place's prompt."""
        head, _cause = self._heads.held(snapshot, cursor)
        if head is not None and head.settled:
            return False
        place = self._place(generator, snapshot, cursor, False, False, buffers, "request")
        if not generator.prepare(place.layout, ticket):
            return False
        self._heads.settle(snapshot.uri, place.layout.window.start)
        log.debug("warmed the prompt at %s v%d", snapshot.uri, snapshot.version)
        return True

    def _plan(
        self,
        generator: Generator,
        snapshot: Snapshot,
        cursor: int,
        buffers: Buffers,
    ) -> Plan:
        budget = self._settings().cross_file_budget
        return self._context.plan_for(
            snapshot, cursor, buffers, budget, generator.engine.count_tokens
        )

    def _typed_through(
        self, generator: Generator, snapshot: Snapshot, cursor: int, invoked: bool
    ) -> CompletionResult | None:
        """The rest of the suggestion the user is typing through, if any; needs no model."""
        if invoked:
            return None
        start = time.perf_counter()
        rest = self.type_through.lookup(snapshot.uri, snapshot.text, cursor)
        if rest is None:
            return None
        line_prefix, line_suffix = line_around(snapshot.text, cursor)
        after = snapshot.text[cursor : cursor + AFTER_CHARS]
        edit = make_edit(cursor, line_prefix, line_suffix, after, rest)
        engine_ms = (time.perf_counter() - start) * 1000
        log.info("complete %s v%d: typed through, %r", snapshot.uri, snapshot.version, rest)
        stats = GenerationStats(stop_reason="typed-through")
        return CompletionResult(edit, generator.engine.model_name, engine_ms, stats, rest)

    def forget(self, uri: str) -> None:
        self._rest.pop(uri, None)
        self.type_through.forget(uri)
        self._heads.forget(uri)

    def cancel(self) -> None:
        self._pause.cancel()


def _cause(cause: str, stats: GenerationStats, head: Head | None, moved: bool) -> str:
    """Why a shown run evaluated prompt tokens past the reused ones (see GenerationReport),
    from what `HeadPolicy.held` said before it ran and what it then evaluated."""
    if moved:
        return "window"
    small = stats.evaluated_tokens <= TYPED_TOKENS
    if cause == "typing" and not small:
        return "cursor"  # the head held: only the text after the cursor changed
    if head is not None and not head.settled and small:
        # The run before, on the same head, was cut short after paying for getting here.
        return "typing"
    return cause


def _settle(future: "asyncio.Future[CompletionResult]", result: CompletionResult) -> None:
    if not future.done():
        future.set_result(result)
