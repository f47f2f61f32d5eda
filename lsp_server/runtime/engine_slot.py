"""The loaded model: finding, fetching, verifying and loading it, and swapping it safely.

A failed reload keeps the previous model serving; requests that arrive while a model loads
wait for it rather than failing.
"""

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .. import models
from ..completion.service import Completer
from ..config import Settings
from ..engines.adapter_choice import AdapterChoice, choose_adapter
from ..engines.base import Engine
from ..engines.choice import engine_for, is_gguf_reference
from ..errors import EngineError, ModelError
from ..models.progress import no_progress
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


def pick_adapter(settings: Settings, model: Path | str, workspace: Path | None) -> AdapterChoice:
    """The LoRA adapter the settings ask for on `model`, checked against it."""
    cache = models.cache_dir(settings.model_dir)

    def base_sha256() -> str:
        # A registry model's digest was verified when it was pulled; any other file is hashed.
        spec = _registry_spec(settings, cache)
        return spec.sha256 if spec and spec.sha256 else models.sha256_of(Path(model), no_progress)

    kind = engine_for(settings.model, settings.engine)
    return choose_adapter(settings.adapter, kind, workspace, cache, model, base_sha256)


def _registry_spec(settings: Settings, cache: Path) -> models.ModelSpec | None:
    try:
        return models.resolve(settings.model, cache, pull_missing=False)[1]
    except ModelError:
        return None


def load_engine(model: Path | str, settings: Settings, adapter: Path | None = None) -> Engine:
    """Open the engine the settings name (or the model reference implies) on `model`, with the
    LoRA adapter `adapter` (checked by `pick_adapter`) on top."""
    kind = engine_for(settings.model, settings.engine)
    name = model_label(settings)
    threads = settings.threads or None
    if kind == "http":
        from ..engines.remote.engine import HttpEngine

        return HttpEngine(str(model), model_name=name, n_ctx=settings.context_length)
    if kind == "transformers":
        from ..engines.transformers_engine import TransformersEngine

        return TransformersEngine(
            model, model_name=name, n_ctx=settings.context_length, adapter_dir=adapter
        )
    if kind == "ctransformers":
        from ..engines.ctransformers_engine import CTransformersEngine

        return CTransformersEngine(
            Path(model), model_name=name, n_ctx=settings.context_length, n_threads=threads
        )
    from ..engines.llamacpp.engine import LlamaCppEngine

    return LlamaCppEngine(
        Path(model),
        model_name=name,
        n_ctx=settings.context_length,
        n_threads=threads,
        shift_kv=settings.move_kv,
        lora_path=adapter,
    )


class EngineSlot:
    """Holds the current `Completer`; loads run on the scheduler's worker, one at a time."""

    def __init__(self, scheduler: Scheduler, on_status: StatusFn) -> None:
        self._scheduler = scheduler
        self._on_status = on_status
        self.completer: Completer | None = None
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
            choice = await asyncio.to_thread(pick_adapter, settings, path, self.workspace)
            self._on_status(Status("loading", label, None, f"loading {path}"))
            engine, choice = await self._open(path, settings, choice)
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
                None, lambda _t: load_engine(path, settings, choice.path)
            )
            return engine, choice
        except (ModelError, EngineError) as exc:
            if choice.path is None:
                raise
            problem = f"adapter {choice.path} could not be loaded ({exc}); using the base model"
            log.warning("%s", problem)
        engine = await self._scheduler.run(None, lambda _t: load_engine(path, settings))
        return engine, AdapterChoice(problem=problem)

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
