"""The model cache: where it is, where each model's file goes, and whether a file there is good.

A verified file's digest is recorded next to it, so later starts need not hash it again.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from lsp_server.errors import ModelError

from .gguf_file import sha256_of, validate_gguf
from .progress import ProgressFn
from .registry import ModelSpec


def cache_dir(override: str | Path | None = None) -> Path:
    """The model cache directory: `override`, else $TIDE_MODEL_DIR, else tide/models under
    $XDG_CACHE_HOME or ~/.cache."""
    if override:
        return Path(override).expanduser()
    if env := os.environ.get("TIDE_MODEL_DIR"):
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    # The XDG spec says relative values are invalid and must be ignored.
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / "tide" / "models"


def model_path(spec: ModelSpec, cache: Path) -> Path:
    """Where the verified file for `spec` lives in `cache`."""
    return cache / spec.file_name


def is_installed(spec: ModelSpec, target: Path, progress: ProgressFn) -> bool:
    """Whether `target` is a good copy of `spec`'s file; hashes it only when no record says so."""
    try:
        info = target.stat()
    except OSError:
        return False
    if not stat.S_ISREG(info.st_mode) or (spec.size is not None and info.st_size != spec.size):
        return False
    if spec.sha256 is None:
        try:
            validate_gguf(target)
        except ModelError:
            return False
        return True
    if _recorded_digest(target, info) == spec.sha256:
        return True
    if sha256_of(target, progress) != spec.sha256:
        return False
    write_sidecar(target, spec.sha256)
    return True


def _sidecar(target: Path) -> Path:
    return target.with_name(target.name + ".sha256")


def _recorded_digest(target: Path, info: os.stat_result) -> str | None:
    try:
        record = json.loads(_sidecar(target).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict):
        return None
    unchanged = record.get("size") == info.st_size and record.get("mtime_ns") == info.st_mtime_ns
    return record.get("sha256") if unchanged else None


def write_sidecar(target: Path, sha256: str) -> None:
    """Record that `target`, as it is now, has digest `sha256`."""
    info = target.stat()
    record = {"sha256": sha256, "size": info.st_size, "mtime_ns": info.st_mtime_ns}
    sidecar = _sidecar(target)
    temporary = sidecar.with_name(sidecar.name + ".tmp")
    try:
        temporary.write_text(json.dumps(record) + "\n", encoding="utf-8")
        os.replace(temporary, sidecar)
    except OSError:
        # A read-only cache still works; the file is just hashed again on the next start.
        temporary.unlink(missing_ok=True)
