"""Finding the model the settings ask for, choosing its LoRA adapter, and opening the engine.

Plain functions, used by the server's engine slot, the command line and the benchmarks.
"""

import os
from pathlib import Path

from .. import models
from ..config import Settings
from ..errors import ModelError
from ..models.progress import no_progress
from ..tuning.adapters import COMPLETION, NEXT_EDIT
from .adapter_choice import AdapterChoice, choose_adapter
from .base import Engine
from .choice import engine_for, is_gguf_reference


def model_label(settings: Settings) -> str:
    return settings.model or models.default_model().name


def api_key(settings: Settings) -> str | None:
    """The completion server's key: the setting, else the environment; never a workspace file,
    which anyone who shares the repository could read or plant."""
    return settings.api_key or os.environ.get("TIDE_API_KEY") or None


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
    """The completions' LoRA adapter the settings ask for on `model`, checked against it."""
    return _pick(settings.adapter, COMPLETION, settings, model, workspace)


def pick_next_edit_adapter(
    settings: Settings, model: Path | str, workspace: Path | None
) -> AdapterChoice:
    """The next edits' LoRA adapter the settings ask for on `model`, checked against it."""
    return _pick(settings.next_edit_adapter, NEXT_EDIT, settings, model, workspace)


def _pick(
    setting: str, purpose: str, settings: Settings, model: Path | str, workspace: Path | None
) -> AdapterChoice:
    cache = models.cache_dir(settings.model_dir)

    def base_sha256() -> str:
        # A registry model's digest was verified when it was pulled; any other file is hashed.
        spec = _registry_spec(settings, cache)
        return spec.sha256 if spec and spec.sha256 else models.sha256_of(Path(model), no_progress)

    kind = engine_for(settings.model, settings.engine)
    return choose_adapter(setting, kind, workspace, cache, model, base_sha256, purpose)


def _registry_spec(settings: Settings, cache: Path) -> models.ModelSpec | None:
    try:
        return models.resolve(settings.model, cache, pull_missing=False)[1]
    except ModelError:
        return None


def load_engine(
    model: Path | str,
    settings: Settings,
    adapter: Path | None = None,
    next_edit_adapter: Path | None = None,
) -> Engine:
    """Open the engine the settings name (or the model reference implies) on `model`, with the
    LoRA adapter `adapter` (checked by `pick_adapter`) on top, and for next edits
    `next_edit_adapter` (checked by `pick_next_edit_adapter`, so llama.cpp's only)."""
    kind = engine_for(settings.model, settings.engine)
    name = model_label(settings)
    threads = settings.threads or None
    if kind == "http":
        from .remote.engine import HttpEngine

        return HttpEngine(
            str(model),
            model_name=name,
            n_ctx=settings.context_length,
            api_key=api_key(settings),
            timeout_s=settings.server_timeout,
            ca_file=settings.server_ca_file,
        )
    if kind == "transformers":
        from .transformers_engine import TransformersEngine

        return TransformersEngine(
            model, model_name=name, n_ctx=settings.context_length, adapter_dir=adapter
        )
    if kind == "ctransformers":
        from .ctransformers_engine import CTransformersEngine

        return CTransformersEngine(
            Path(model), model_name=name, n_ctx=settings.context_length, n_threads=threads
        )
    from .llamacpp.engine import LlamaCppEngine

    return LlamaCppEngine(
        Path(model),
        model_name=name,
        n_ctx=settings.context_length,
        n_threads=threads,
        shift_kv=settings.move_kv,
        lora_path=adapter,
        next_edit_lora_path=next_edit_adapter,
    )
