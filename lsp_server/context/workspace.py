"""The workspace's source files and what each one defines and imports, indexed a slice at a time.

`WorkspaceIndex.index_some` does a bounded amount of work and returns, so indexing can run
between requests and never holds one up. The walk honours .gitignore files (through pathspec),
skips version control, dependency, virtual environment and build folders, and admits only files
of languages that have definition queries. Everything is capped: files admitted, bytes they add
up to, bytes one file may have, and the parsed outlines kept (least recently used go first).
"""

import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from lsp_server.text.languages import language_for, language_query
from lsp_server.text.line_index import utf8

from .ignore import SKIPPED_DIRS, IgnoreRules, exclude_rules, is_ignored, rules_in
from .outline import EMPTY_OUTLINE, Outline, read_outline

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Cached:
    outline: Outline
    # The file's (mtime_ns, size) when read; a buffer's text is kept until the file changes.
    stamp: tuple[int, int] | None


MAX_FILES = 5_000  # files admitted to the index; a larger workspace is indexed up to this


class WorkspaceIndex:
    """The workspace's source files and their outlines; safe to use from several threads."""

    def __init__(
        self,
        root: Path,
        *,
        max_files: int = MAX_FILES,
        max_file_bytes: int = 200_000,
        max_total_bytes: int = 50_000_000,
        max_outline_chars: int = 8_000_000,
    ) -> None:
        self.root = root.resolve()
        self.max_files = max_files
        self.max_file_bytes = max_file_bytes
        self.max_total_bytes = max_total_bytes
        self.max_outline_chars = max_outline_chars
        self._lock = threading.RLock()
        self._files: dict[str, int] = {}  # workspace-relative POSIX path -> size in bytes
        self._by_dir: dict[str, set[str]] = {}
        self._total_bytes = 0
        # Folders still to walk, each with the ignore rules in force there (base, spec).
        self._pending: list[tuple[str, IgnoreRules]] = [("", exclude_rules(self.root))]
        self._entries: Iterator[os.DirEntry[str]] | None = None
        self._entries_dir: tuple[str, IgnoreRules] = ("", ())
        self._walked = False
        self._warm_queue: list[str] = []
        self._outlines: OrderedDict[str, _Cached] = OrderedDict()
        self._outline_chars = 0
        self._generation = 0

    @property
    def done(self) -> bool:
        """Whether the walk is over and every file that fits the cache has an outline."""
        with self._lock:
            return self._walked and not self._warm_queue

    def file_count(self) -> int:
        """How many files the index admitted."""
        with self._lock:
            return len(self._files)

    @property
    def generation(self) -> int:
        """A number that changes whenever a file is admitted; what resolved before may not now."""
        with self._lock:
            return self._generation

    @property
    def cached_chars(self) -> int:
        """Roughly how many characters the cached outlines hold (at most max_outline_chars)."""
        with self._lock:
            return self._outline_chars

    def index_some(self, budget_s: float) -> bool:
        """Walk and parse for about budget_s seconds; True once there is nothing left to do.

        The lock is taken for one folder entry or one file at a time, so a lookup from another
        thread waits for no more than that.
        """
        deadline = time.perf_counter() + budget_s
        while time.perf_counter() < deadline:
            with self._lock:
                if not self._walked:
                    self._walk_one()
                elif self._warm_queue and self._outline_chars < self.max_outline_chars:
                    rel = self._warm_queue.pop()
                    if rel not in self._outlines:
                        self._load(rel)
                else:
                    self._warm_queue.clear()
                    return True
        return self.done

    def contains(self, rel: str) -> bool:
        """Whether a workspace-relative path is a source file Tide indexes.

        Until the walk has finished, a file it has not reached yet is looked up on disk.
        """
        with self._lock:
            if rel in self._files:
                return True
            walked = self._walked
        return not walked and self._admissible(rel) is not None

    def files_in(self, directory: str) -> list[str]:
        """Workspace-relative paths of the indexed source files directly in a folder."""
        with self._lock:
            if self._walked:
                return sorted(
                    f"{directory}/{n}" if directory else n for n in self._by_dir.get(directory, ())
                )
        try:
            names = sorted(os.listdir(self.root / directory))
        except OSError:
            return []
        rels = (f"{directory}/{n}" if directory else n for n in names)
        return [rel for rel in rels if self.contains(rel)]

    def outline(self, rel: str) -> Outline:
        """What a workspace file defines and imports, read from disk unless a buffer is newer."""
        stamp = self._stamp(rel)
        with self._lock:
            cached = self._outlines.get(rel)
            if cached is not None and cached.stamp == stamp:
                self._outlines.move_to_end(rel)
                return cached.outline
            if cached is not None and stamp is None:
                self._forget(rel)  # deleted since it was read
        if stamp is None or not self.contains(rel):
            return EMPTY_OUTLINE
        with self._lock:
            return self._load(rel)

    def update(self, path: Path | str, text: str) -> None:
        """Take a file's text from an open buffer or a save; paths outside the root are ignored."""
        rel = self.relative(path)
        info = language_for(path=rel) if rel is not None else None
        if rel is None or info is None or language_query(info, "definitions") is None:
            return
        data = utf8(text)
        if len(data) > self.max_file_bytes:
            return
        outline = read_outline(info, data)
        with self._lock:
            if rel not in self._files:
                self._admit(rel, len(data))
            self._store(rel, _Cached(outline, self._stamp(rel)))

    def relative(self, path: Path | str) -> str | None:
        """The workspace-relative POSIX path of an absolute or relative path; None outside."""
        candidate = Path(path)
        if not candidate.is_absolute():
            candidate = self.root / candidate
        try:
            rel = Path(os.path.normpath(candidate)).relative_to(self.root)
        except ValueError:
            return None
        posix = rel.as_posix()
        return None if posix in (".", "") or posix.startswith("../") else posix

    def _walk_one(self) -> None:
        """Handle one folder entry, or open the next folder."""
        if self._entries is None:
            if not self._pending:
                self._walked = True
                return
            directory, rules = self._pending.pop()
            path = self.root / directory
            if (path / "pyvenv.cfg").exists():
                return
            try:
                self._entries = os.scandir(path)
            except OSError:
                return
            self._entries_dir = (directory, rules_in(self.root, directory, rules))
            return
        entry = next(self._entries, None)
        if entry is None:
            self._close_entries()
            return
        directory, rules = self._entries_dir
        rel = f"{directory}/{entry.name}" if directory else entry.name
        try:
            if entry.is_symlink():
                return
            if entry.is_dir():
                if entry.name not in SKIPPED_DIRS and not is_ignored(rel + "/", rules):
                    self._pending.append((rel, rules))
                return
            if not entry.is_file() or language_for(path=entry.name) is None:
                return
            if (
                is_ignored(rel, rules)
                or language_query(language_for(path=entry.name), "definitions") is None
            ):
                return
            size = entry.stat().st_size
        except OSError:
            return
        if size <= self.max_file_bytes:
            self._admit(rel, size)

    def _admit(self, rel: str, size: int) -> None:
        if len(self._files) >= self.max_files or self._total_bytes + size > self.max_total_bytes:
            if not self._walked:
                log.info(
                    "workspace index full at %d files, %d bytes",
                    len(self._files),
                    self._total_bytes,
                )
                self._walked = True
                self._pending.clear()
                self._close_entries()
            return
        self._files[rel] = size
        self._total_bytes += size
        self._generation += 1
        directory, _, name = rel.rpartition("/")
        self._by_dir.setdefault(directory, set()).add(name)
        self._warm_queue.append(rel)

    def _close_entries(self) -> None:
        if self._entries is not None:
            self._entries.close()  # type: ignore[attr-defined]
            self._entries = None

    def _admissible(self, rel: str) -> int | None:
        """The size of a file not walked yet, if it is one Tide would index."""
        parts = PurePosixPath(rel).parts
        if any(part in SKIPPED_DIRS for part in parts[:-1]):
            return None
        info = language_for(path=rel)
        if info is None or language_query(info, "definitions") is None:
            return None
        try:
            stat = (self.root / rel).stat()
        except OSError:
            return None
        return stat.st_size if stat.st_size <= self.max_file_bytes else None

    def _stamp(self, rel: str) -> tuple[int, int] | None:
        try:
            stat = (self.root / rel).stat()
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_size

    def _load(self, rel: str) -> Outline:
        """Parse a file from disk into the cache; the lock is held."""
        info = language_for(path=rel)
        stamp = self._stamp(rel)
        if info is None or stamp is None or stamp[1] > self.max_file_bytes:
            return EMPTY_OUTLINE
        try:
            data = (self.root / rel).read_bytes()
        except OSError:
            return EMPTY_OUTLINE
        outline = EMPTY_OUTLINE if b"\x00" in data[:8192] else read_outline(info, data)
        self._store(rel, _Cached(outline, stamp))
        return outline

    def _forget(self, rel: str) -> None:
        old = self._outlines.pop(rel, None)
        if old is not None:
            self._outline_chars -= old.outline.weight

    def _store(self, rel: str, cached: _Cached) -> None:
        self._forget(rel)
        self._outlines[rel] = cached
        self._outline_chars += cached.outline.weight
        while self._outline_chars > self.max_outline_chars and len(self._outlines) > 1:
            _, evicted = self._outlines.popitem(last=False)
            self._outline_chars -= evicted.outline.weight
