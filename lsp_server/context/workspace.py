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
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import tree_sitter

from lsp_server.languages import LanguageInfo, language_for, language_query, parser_for

from .ignore import SKIPPED_DIRS, IgnoreRules, exclude_rules, is_ignored, rules_in

log = logging.getLogger(__name__)

# An outline shows a long definition's head and its members' first lines, not its whole body.
_WHOLE_LINES = 15
_HEAD_LINES = 6
_MEMBER_LINES = 24
_EXCERPT_CHARS = 2_000

# How deep below the root the import and definition queries start a match.
_MAX_DEPTH = 3
# Nodes a top-level definition may sit inside; anything else makes a definition nested.
_WRAPPERS = frozenset(
    {
        "decorated_definition",
        "export_statement",
        "lexical_declaration",
        "variable_declaration",
        "type_declaration",
        "const_declaration",
        "var_declaration",
        "var_spec_list",
    }
)
# Members whose first line an excerpt keeps, and the nodes that lead to them.
_MEMBERS = frozenset(
    {
        "function_definition",
        "method_definition",
        "method_signature",
        "abstract_method_signature",
        "property_signature",
        "public_field_definition",
        "field_declaration",
        "method_elem",
    }
)
_MEMBER_CONTAINERS = frozenset(
    {
        "block",
        "class_body",
        "interface_body",
        "object_type",
        "struct_type",
        "interface_type",
        "field_declaration_list",
    }
)


@dataclass(frozen=True)
class Definition:
    """One top-level definition: its name, kind, where it starts, and an excerpt of it."""

    name: str
    kind: str
    text: str
    line: int


@dataclass(frozen=True)
class ImportSpec:
    """One imported name as written: `module` is the source ("a.b", ".geo", "./x", "fmt").

    `name` is the imported symbol (None for a whole module), `alias` the local name when it
    differs, `wildcard` a star or dot import that brings in every name.
    """

    module: str
    name: str | None = None
    alias: str | None = None
    wildcard: bool = False


@dataclass(frozen=True)
class Outline:
    """What one file defines, by name, and what it imports."""

    definitions: Mapping[str, tuple[Definition, ...]]
    imports: tuple[ImportSpec, ...]

    @property
    def weight(self) -> int:
        """Roughly the characters it holds: what the outline cache counts."""
        return 64 + sum(len(d.text) + 64 for defs in self.definitions.values() for d in defs)


EMPTY_OUTLINE = Outline({}, ())


def read_outline(info: LanguageInfo, data: bytes, tree: tree_sitter.Tree | None = None) -> Outline:
    """The definitions and imports of a file's bytes, parsed unless its tree is given."""
    definitions_query = language_query(info, "definitions")
    imports_query = language_query(info, "imports")
    if definitions_query is None or imports_query is None:
        return EMPTY_OUTLINE
    root = (tree or parser_for(info).parse(data)).root_node
    return Outline(_read_definitions(info, definitions_query, root, data), read_imports(info, root))


def read_imports(info: LanguageInfo, root: tree_sitter.Node) -> tuple[ImportSpec, ...]:
    """The imports under a syntax tree's root, in source order."""
    query = language_query(info, "imports")
    if query is None:
        return ()
    specs: list[ImportSpec] = []
    for _, captures in _shallow(query).matches(root):
        module = _text(captures["module"][0]).strip("\"`'")
        name = _text(captures["name"][0]) if "name" in captures else None
        alias = _text(captures["alias"][0]) if "alias" in captures else None
        if "default" in captures:
            name = "default"
        specs.append(ImportSpec(module, name, alias, "wildcard" in captures))
    return tuple(specs)


def _shallow(query: tree_sitter.Query) -> tree_sitter.QueryCursor:
    """A cursor that looks no deeper than imports and top-level definitions ever sit.

    That is three levels (Go's `import (...)` specs, Python's imports under `try:`, a
    TypeScript `export const`); not descending into every body makes a long file's imports
    about twenty times quicker to read, which matters as they are read on every request.
    """
    cursor = tree_sitter.QueryCursor(query)
    cursor.set_max_start_depth(_MAX_DEPTH)
    return cursor


def _text(node: tree_sitter.Node) -> str:
    return (node.text or b"").decode("utf-8", "replace")


def _read_definitions(
    info: LanguageInfo, query: tree_sitter.Query, root: tree_sitter.Node, data: bytes
) -> dict[str, tuple[Definition, ...]]:
    found: dict[str, list[Definition]] = {}
    for _, captures in _shallow(query).matches(root):
        kind, nodes = next((k, v) for k, v in captures.items() if k.startswith("definition."))
        placed = _top_level(nodes[0])
        if placed is None:
            continue
        shown, keyword, is_default = placed
        text = keyword + data[shown.start_byte : shown.end_byte].decode("utf-8", "replace")
        excerpt = _excerpt(text, nodes[0], shown.start_point.row, info.line_comment)
        line = shown.start_point.row
        names = [_text(captures["name"][0])] + (["default"] if is_default else [])
        for name in names:
            found.setdefault(name, []).append(
                Definition(name, kind.split(".", 1)[1], excerpt, line)
            )
    return {name: tuple(defs) for name, defs in found.items()}


def _top_level(node: tree_sitter.Node) -> tuple[tree_sitter.Node, str, bool] | None:
    """The node to show for a definition at the top level, a keyword it needs, and whether it is
    a default export; None for a nested definition.

    A definition is shown with its wrappers (decorators, `export`, `const`) unless a wrapper
    declares several names at once, where only its own part and the keyword are shown.
    """
    shown, keyword, grouped, is_default = node, "", False, False
    while node.parent is not None and node.parent.parent is not None:
        parent = node.parent
        if parent.type not in _WRAPPERS:
            return None
        is_default = is_default or any(c.type == "default" for c in parent.children)
        if not grouped and sum(c.type == node.type for c in parent.named_children) > 1:
            grouped = True
        if grouped:
            first = parent.children[0]
            if not keyword and first.type.isalpha():
                keyword = _text(first) + " "
        else:
            shown = parent
        node = parent
    return shown, keyword, is_default


def _excerpt(text: str, node: tree_sitter.Node, first_row: int, comment: str | None) -> str:
    """The whole definition when short; else its head, its members' first lines and its end."""
    lines = text.split("\n")
    if len(lines) <= _WHOLE_LINES:
        return text[:_EXCERPT_CHARS]
    keep = set(range(_HEAD_LINES))
    keep.update(row - first_row for row in _member_rows(node)[:_MEMBER_LINES])
    if lines[-1].strip() in ("}", "};", ")"):
        keep.add(len(lines) - 1)
    marker = f"{comment} ..." if comment else "..."
    out: list[str] = []
    previous = -1
    for i in [*sorted(k for k in keep if 0 <= k < len(lines)), len(lines)]:
        if i > previous + 1:
            gap = lines[previous + 1]
            out.append(gap[: len(gap) - len(gap.lstrip())] + marker)
        if i < len(lines):
            out.append(lines[i])
        previous = i
    return "\n".join(out)[:_EXCERPT_CHARS]


def _member_rows(node: tree_sitter.Node) -> list[int]:
    rows: list[int] = []
    for child in node.named_children:
        inner = child.child_by_field_name("definition")
        if child.type == "decorated_definition" and inner is not None:
            # Decorators belong with the signature they change (@property, @staticmethod).
            rows.extend(range(child.start_point.row, inner.start_point.row + 1))
        elif child.type in _MEMBERS:
            rows.append(child.start_point.row)
        elif child.type in _MEMBER_CONTAINERS:
            rows.extend(_member_rows(child))
    return rows


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
        data = text.encode("utf-8", "surrogatepass")
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
