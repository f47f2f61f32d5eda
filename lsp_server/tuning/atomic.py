"""Writing files and folders so that a reader, or a run that was killed, never sees half of one.

Everything is written under a temporary name in the same folder, flushed to disk, and renamed
into place; a rename within one file system is atomic, so the final name holds either nothing,
the old content, or the whole new content, even after a power cut.
"""

import os
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path

TEMP_PREFIX = ".tmp-"


def _temporary(target: Path) -> Path:
    # Not tempfile's: its files and folders are private to the user whatever the umask says,
    # and an adapter is as readable as anything else the user writes.
    return target.with_name(f"{TEMP_PREFIX}{target.name}.{os.getpid()}.{secrets.token_hex(4)}")


def write_file(target: Path, write: Callable[[Path], None]) -> Path:
    """Have `write` create and fill a temporary file next to `target`, then rename it over
    `target`."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = _temporary(target)
    try:
        write(temporary)
        _sync(temporary)
        os.replace(temporary, target)
        _sync_dir(target.parent)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return target


def write_text(target: Path, text: str) -> Path:
    """Write `text` (UTF-8) to `target` atomically."""
    return write_file(target, lambda path: path.write_text(text, encoding="utf-8"))


def write_dir(target: Path, fill: Callable[[Path], None]) -> Path:
    """Have `fill` populate a temporary folder next to `target`, then rename it to `target`.

    `target` must not exist: a folder cannot be renamed over a non-empty one, so callers give
    each version its own name and drop the old one once the new one is in place.
    """
    if target.exists():
        raise FileExistsError(f"{target} already exists")
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = _temporary(target)
    temporary.mkdir()
    try:
        fill(temporary)
        for path in temporary.rglob("*"):
            if path.is_file():
                _sync(path)
        os.replace(temporary, target)
        _sync_dir(target.parent)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return target


def _sync(path: Path) -> None:
    with path.open("rb") as file:
        os.fsync(file.fileno())


def _sync_dir(directory: Path) -> None:
    # The rename itself is durable only once the folder holding it is.
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_leftovers(directory: Path) -> None:
    """Delete what an interrupted write left in `directory` (its temporary files and folders)."""
    if not directory.is_dir():
        return
    for entry in directory.iterdir():
        if entry.name.startswith(TEMP_PREFIX):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
