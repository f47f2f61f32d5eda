"""Turning what the user typed (nothing, a registry name, or a path) into a model file."""

from __future__ import annotations

import os
from pathlib import Path

from lsp_server.errors import ModelError

from .cache import is_installed, model_path
from .fetch import pull
from .gguf_file import validate_gguf
from .progress import ProgressFn, no_progress
from .registry import ModelSpec, default_model, load_registry


def resolve(
    ref: str | None,
    cache: Path,
    *,
    pull_missing: bool = True,
    progress: ProgressFn | None = None,
) -> tuple[Path, ModelSpec | None]:
    """Turn a model reference into a file: None means the default model, a registry name its
    cached file (pulled if missing and `pull_missing`), anything else the path of a GGUF file."""
    registry = load_registry()
    if ref is not None and ref not in registry:
        return _resolve_path(ref, registry), None
    spec = default_model(registry) if ref is None else registry[ref]
    target = model_path(spec, cache)
    if is_installed(spec, target, progress or no_progress):
        return target, spec
    if pull_missing:
        return pull(spec, cache, progress), spec
    if target.exists():
        raise ModelError(
            f"The file at {target} does not match model {spec.name} (wrong size or checksum). "
            f"Delete it and run `tide-lsp models pull {spec.name}`."
        )
    raise ModelError(
        f"Model {spec.name} is not downloaded. Run `tide-lsp models pull {spec.name}`, "
        f"or put {spec.file_name} at {target}."
    )


def list_models(
    cache: Path, registry: dict[str, ModelSpec] | None = None
) -> list[tuple[ModelSpec, Path | None]]:
    """Every registry entry with its cached file's path, or None when it is not in the cache.

    Presence is judged by name and size only; `pull` and `resolve` do the full check."""
    registry = load_registry() if registry is None else registry
    listing: list[tuple[ModelSpec, Path | None]] = []
    for spec in registry.values():
        path = model_path(spec, cache)
        present = path.is_file() and (spec.size is None or path.stat().st_size == spec.size)
        listing.append((spec, path if present else None))
    return listing


def _resolve_path(ref: str, registry: dict[str, ModelSpec]) -> Path:
    path = Path(ref).expanduser()
    looks_like_name = "/" not in ref and os.sep not in ref and not ref.endswith(".gguf")
    if looks_like_name and not path.exists():
        raise ModelError(
            f"Unknown model '{ref}': it is not in the model registry and no such file exists. "
            f"Name one of {', '.join(registry)}, or give the path of a GGUF file."
        )
    validate_gguf(path)
    return path.resolve()
