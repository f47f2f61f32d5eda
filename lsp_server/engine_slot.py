"""The loaded model: finding, fetching, verifying and loading it, and swapping it safely.

A failed reload keeps the previous model serving; requests that arrive while a model loads
wait for it rather than failing.
"""

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import models
from .completion import Completer
from .config import Settings
from .engines.base import Engine
from .engines.choice import engine_for, is_gguf_reference
from .errors import EngineError, ModelError
from .scheduler import Scheduler

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Status:
    state: str  # downloading, loading, ready, error
    model: str
    percent: int | None = None
    message: str | None = None


StatusFn = Callable[[Status], None]


def model_label(settings: Settings) -> str:
    return settings.model or models.default_model().name


def locate_model(settings: Settings, progress: models.ProgressFn | None = None) -> Path | str:
    """The verified model file the settings ask for, pulled into the cache if need be; a
    server URL, model directory or hub id is returned as it is, for its own engine."""
    if not is_gguf_reference(settings.model or "") or engine_for(settings.model) == "http":
        return settings.model or ""
    path, spec = models.resolve(
        settings.model, models.cache_dir(settings.model_dir), pull_missing=True, progress=progress
    )
    models.validate_gguf(path, spec.size if spec else None)
    return path


def load_engine(model: Path | str, settings: Settings) -> Engine:
    """Open the engine the settings name (or the model reference implies) on `model`."""
    kind = engine_for(settings.model, settings.engine)
    name = model_label(settings)
    threads = settings.threads or None
    if kind == "http":
        from .engines.http import HttpEngine

        return HttpEngine(str(model), model_name=name, n_ctx=settings.context_length)
    if kind == "transformers":
        from .engines.transformers_engine import TransformersEngine

        return TransformersEngine(model, model_name=name, n_ctx=settings.context_length)
    if kind == "ctransformers":
        from .engines.ctransformers_engine import CTransformersEngine

        return CTransformersEngine(
            Path(model), model_name=name, n_ctx=settings.context_length, n_threads=threads
        )
    from .engines.llama_cpp import LlamaCppEngine

    return LlamaCppEngine(
        Path(model),
        model_name=name,
        n_ctx=settings.context_length,
        n_threads=threads,
        shift_kv=settings.move_kv,
    )


class EngineSlot:
    """Holds the current `Completer`; loads run on the scheduler's worker, one at a time."""

    def __init__(self, scheduler: Scheduler, on_status: StatusFn) -> None:
        self._scheduler = scheduler
        self._on_status = on_status
        self.completer: Completer | None = None
        self.error: str | None = None
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
        label = model_label(settings)
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
            path = await asyncio.to_thread(locate_model, settings, progress)
            self._on_status(Status("loading", label, None, f"loading {path}"))
            engine = await self._scheduler.run(None, lambda _t: load_engine(path, settings))
        except (ModelError, EngineError) as exc:
            self.error = str(exc)
            kept = f" (still using {self.completer.engine.model_name})" if self.completer else ""
            self._on_status(Status("error", label, None, f"{exc}{kept}"))
            raise
        old = self.completer
        self.completer = Completer(engine)
        self.error = None
        if old is not None:
            await self._scheduler.run(None, lambda _t: old.engine.close())
        self._on_status(Status("ready", engine.model_name, 100, None))

    async def get(self) -> Completer:
        """The completer to use now, waiting for a load in progress."""
        if self._loading is not None and not self._loading.done():
            await asyncio.gather(asyncio.shield(self._loading), return_exceptions=True)
        if self.completer is None:
            raise ModelError(self.error or "no model is loaded yet")
        return self.completer

    async def close(self) -> None:
        if self.completer is not None:
            engine = self.completer.engine
            self.completer = None
            await self._scheduler.run(None, lambda _t: engine.close())
