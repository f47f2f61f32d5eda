"""The engine in use, and swapping it safely when the settings change.

A failed reload keeps the previous engine serving; requests that arrive while a model loads
wait for it rather than failing. Finding the model and building the engine are the engines
package's (`engines.loading`); loads run on the scheduler's worker, one at a time.
"""

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..config import Settings
from ..engines import loading
from ..engines.adapter_choice import AdapterChoice
from ..engines.base import Engine
from ..errors import EngineError, ModelError
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


class EngineSlot:
    """Holds the current engine and swaps it for a new one once that one has loaded."""

    def __init__(self, scheduler: Scheduler, on_status: StatusFn) -> None:
        self._scheduler = scheduler
        self._on_status = on_status
        self.engine: Engine | None = None
        self.error: str | None = None
        self.workspace: Path | None = None  # whose adapter "auto" picks
        self._loading: asyncio.Task | None = None

    def start_load(self, settings: Settings) -> "asyncio.Task[None]":
        """Begin loading in the background; a later load waits for this one to finish."""
        previous = self._loading
        self._loading = asyncio.ensure_future(self._load_after(previous, settings))
        return self._loading

    async def _load_after(self, previous: "asyncio.Task | None", settings: Settings) -> None:
        if previous is not None and not previous.done():
            await asyncio.gather(previous, return_exceptions=True)
        await self._load(settings)

    async def _load(self, settings: Settings) -> None:
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

        try:
            self._on_status(Status("loading", label, None, "locating model"))
            path = await asyncio.to_thread(loading.locate_model, settings, progress)
            choice = await asyncio.to_thread(loading.pick_adapter, settings, path, self.workspace)
            self._on_status(Status("loading", label, None, f"loading {path}"))
            engine, choice = await self._open(path, settings, choice)
        except (ModelError, EngineError) as exc:
            self.error = str(exc)
            kept = f" (still using {self.engine.model_name})" if self.engine else ""
            self._on_status(Status("error", label, None, f"{exc}{kept}"))
            raise
        old = self.engine
        self.engine = engine
        self.error = None
        if old is not None:
            await self._scheduler.run(None, lambda _t: old.close())
        log.info("serving %s with %s", engine.model_name, choice.describe())
        self._on_status(Status("ready", engine.model_name, 100, choice.problem, choice.label))

    async def _open(
        self, path: Path | str, settings: Settings, choice: AdapterChoice
    ) -> tuple[Engine, AdapterChoice]:
        """The engine with the chosen adapter; the base model alone when the adapter fails to
        load, with the reason in the choice returned."""
        if choice.problem:
            log.warning("%s", choice.problem)
        try:
            engine = await self._scheduler.run(
                None, lambda _t: loading.load_engine(path, settings, choice.path)
            )
            return engine, choice
        except (ModelError, EngineError) as exc:
            if choice.path is None:
                raise
            problem = f"adapter {choice.path} could not be loaded ({exc}); using the base model"
            log.warning("%s", problem)
        engine = await self._scheduler.run(None, lambda _t: loading.load_engine(path, settings))
        return engine, AdapterChoice(problem=problem)

    async def get(self) -> Engine:
        """The engine to use now, waiting for a load in progress."""
        if self._loading is not None and not self._loading.done():
            await asyncio.gather(asyncio.shield(self._loading), return_exceptions=True)
        if self.engine is None:
            raise ModelError(self.error or "no model is loaded yet")
        return self.engine

    async def close(self) -> None:
        if self.engine is not None:
            engine = self.engine
            self.engine = None
            await self._scheduler.run(None, lambda _t: engine.close())
