"""Checking a GGUF file: a cheap structural check from its header, and its sha256."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

from lsp_server.errors import ModelError

from .gguf_header import read_gguf_header
from .progress import ProgressFn, no_progress

_HASH_CHUNK = 8 << 20


def validate_gguf(path: Path, expected_size: int | None = None) -> None:
    """Check cheaply (no hashing) that `path` is a whole GGUF file; raise ModelError if not."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise ModelError(f"Model file {path} does not exist.") from None
    except OSError as err:
        raise ModelError(f"Cannot read model file {path}: {err.strerror}.") from err
    if not stat.S_ISREG(info.st_mode):
        raise ModelError(f"Model file {path} is not a regular file.")
    with path.open("rb") as file:
        magic = file.read(4)
    if magic != b"GGUF":
        raise ModelError(f"Model file {path} is not a GGUF file (it does not start with 'GGUF').")
    if expected_size is not None and info.st_size != expected_size:
        raise ModelError(
            f"Model file {path} has {info.st_size} bytes, expected {expected_size}: it is "
            "truncated or a different file. Delete it and download it again."
        )
    try:
        read_gguf_header(path)
    except ValueError as err:
        raise ModelError(
            f"Model file {path} is damaged or incomplete ({err}). Delete it and download it again."
        ) from err
    except OSError as err:
        raise ModelError(f"Cannot read model file {path}: {err.strerror}.") from err


def verify_checksum(path: Path, sha256: str, progress: ProgressFn | None = None) -> None:
    """Hash `path` and raise ModelError naming both digests when it is not `sha256`."""
    actual = sha256_of(path, progress or no_progress)
    if actual != sha256.lower():
        raise ModelError(
            f"Checksum mismatch for {path}: expected sha256 {sha256.lower()}, got {actual}. "
            "The file is damaged or is not this model."
        )


def sha256_of(path: Path, progress: ProgressFn) -> str:
    """The hex sha256 of `path`, hashed a chunk at a time."""
    digest = hashlib.sha256()
    try:
        total = path.stat().st_size
        done = 0
        with path.open("rb") as file:
            while chunk := file.read(_HASH_CHUNK):
                digest.update(chunk)
                done += len(chunk)
                progress(f"Verifying {path.name}", done, total)
    except OSError as err:
        raise ModelError(f"Cannot read model file {path}: {err.strerror}.") from err
    return digest.hexdigest()
