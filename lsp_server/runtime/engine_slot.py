"""The engine in use, and swapping it safely when the settings change.

A failed reload keeps the previous engine serving; requests that arrive while a model loads
wait for it rather than failing. A completion server that cannot be reached at start is tried
again in the background, and at once when a request needs it, so that completions come back by
themselves when it is up. Finding the model and building the engine are the engines package's
(`engines.loading`); loads run on the scheduler's worker, one at a time.
"""

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..config import Settings
from ..engines import loading
from ..engines.adapter_choice import NO_ADAPTER, AdapterChoice
from ..engines.base import Engine
from ..engines.choice import engine_for
from ..errors import EngineError, ModelError, TideError
from .scheduler import Scheduler

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Status:
    state: str  # downloading, loading, ready, error
    model: str
    percent: int | None = None
    message: str | None = None
    adapter: str | None = None  # the LoRA adapter in use, when ready


StatusFn = Callable[[Status], None]

RETRY_S = 5.0  # between background attempts to reach a completion server
NUDGE_S = 1.0  # a request tries again at once when the last attempt is older than this


class EngineSlot:
    """Holds the current engine and swaps it for a new one once that one has loaded."""

    def __init__(self, scheduler: Scheduler, on_status: StatusFn) -> None:
        self._scheduler = scheduler
        self._on_status = on_status
        self.engine: Engine | None = None
        self.error: str | None = None
        self.workspace: Path | None = None  # whose adapter "auto" picks
        self.ready: Status | None = None  # the status sent when the engine became ready
        self._loading: asyncio.Task | None = None
        # A completion server that could not be reached: the settings to try again with.
        self._unreached: Settings | None = None
        self._attempted = 0.0
        self._retry: asyncio.TimerHandle | None = None

    def start_load(self, settings: Settings, retry: bool = False) -> "asyncio.Task[None]":
        """Begin loading in the background; a later load waits for this one to finish."""
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        if not retry:
            self._unreached = None
        previous = self._loading
        self._loading = asyncio.ensure_future(self._load_after(previous, settings, retry))
        return self._loading

    async def _load_after(
        self, previous: "asyncio.Task | None", settings: Settings, retry: bool
    ) -> None:
        if previous is not None and not previous.done():
            await asyncio.gather(previous, return_exceptions=True)
        await self._load(settings, retry)

    def _try_again_later(self, settings: Settings) -> None:
        self._unreached = settings
        loop = asyncio.get_running_loop()

        def retry() -> None:
            self.start_load(settings, retry=True).add_done_callback(consume_load)

        self._retry = loop.call_later(RETRY_S, retry)

    async def _load(self, settings: Settings, retry: bool = False) -> None:
        label = loading.model_label(settings)
        loop = asyncio.get_running_loop()

        last: list[Status] = []

        def progress(message: str, done: int, total: int | None) -> None:
            percent = int(done * 100 / total) if total else None
            status = Status("downloading", label, percent, message)
            # Hashing and downloading call back per chunk; the editor needs a percent step.
            if not last or last[-1] != status:
                last[:] = [status]
                loop.call_soon_threadsafe(self._on_status, status)

        self._attempted = time.monotonic()
        try:
            if not retry:  # a retry is quiet until something changes
                self._on_status(Status("loading", label, None, "locating model"))
            path = await asyncio.to_thread(loading.locate_model, settings, progress)
            choice = await asyncio.to_thread(loading.pick_adapter, settings, path, self.workspace)
            edits = await asyncio.to_thread(
                loading.pick_next_edit_adapter, settings, path, self.workspace
            )
            if not retry:
                self._on_status(Status("loading", label, None, f"loading {path}"))
            engine, choice, edits = await self._open(path, settings, choice, edits)
        except (ModelError, EngineError) as exc:
            remote = engine_for(settings.model, settings.engine) == "http"
            if remote and isinstance(exc, EngineError) and self.engine is None:
                self._try_again_later(settings)
            if not retry or str(exc) != self.error:
                kept = f" (still using {self.engine.model_name})" if self.engine else ""
                self._on_status(Status("error", label, None, f"{exc}{kept}"))
            self.error = str(exc)
            raise
        self._unreached = None
        old = self.engine
        self.engine = engine
        self.error = None
        if old is not None:
            await self._scheduler.run(None, lambda _t: old.close())
        log.info(
            "serving %s with %s; next edits with %s",
            engine.model_name,
            choice.describe(),
            edits.describe(),
        )
        problems = "; ".join(c.problem for c in (choice, edits) if c.problem) or None
        self.ready = Status("ready", engine.model_name, 100, problems, choice.label)
        self._on_status(self.ready)

    async def _open(
        self, path: Path | str, settings: Settings, choice: AdapterChoice, edits: AdapterChoice
    ) -> tuple[Engine, AdapterChoice, AdapterChoice]:
        """The engine with the chosen adapters (the completions' and the next edits'); the base
        model alone when they fail to load, with the reason in the choice returned."""
        for chosen in (choice, edits):
            if chosen.problem:
                log.warning("%s", chosen.problem)
        try:
            engine = await self._scheduler.run(
                None, lambda _t: loading.load_engine(path, settings, choice.path, edits.path)
            )
            return engine, choice, edits
        except (ModelError, EngineError) as exc:
            tried = " and ".join(str(c.path) for c in (choice, edits) if c.path)
            if not tried:
                raise
            problem = f"adapter {tried} could not be loaded ({exc}); using the base model"
            log.warning("%s", problem)
        engine = await self._scheduler.run(None, lambda _t: loading.load_engine(path, settings))
        return engine, AdapterChoice(problem=problem), NO_ADAPTER

    async def get(self) -> Engine:
        """The engine to use now, waiting for a load in progress; a completion server that
        could not be reached is tried once more first."""
        if self._loading is not None and not self._loading.done():
            await asyncio.gather(asyncio.shield(self._loading), return_exceptions=True)
        unreached = self._unreached
        if self.engine is None and unreached is not None:
            if time.monotonic() - self._attempted >= NUDGE_S:
                self.start_load(unreached, retry=True)
            if self._loading is not None:
                await asyncio.gather(asyncio.shield(self._loading), return_exceptions=True)
        if self.engine is None:
            raise ModelError(self.error or "no model is loaded yet")
        return self.engine

    async def close(self) -> None:
        if self._retry is not None:
            self._retry.cancel()
        if self.engine is not None:
            engine = self.engine
            self.engine = None
            await self._scheduler.run(None, lambda _t: engine.close())


def consume_load(task: "asyncio.Task[None]") -> None:
    """Load failures are reported through status; keep asyncio from logging them again."""
    if not task.cancelled() and task.exception() is not None:
        exc = task.exception()
        if not isinstance(exc, TideError):
            log.error("model load failed unexpectedly", exc_info=exc)
