"""Definitions of the symbols used near the cursor that live in other workspace files.

The current file's imports, read with tree-sitter, are resolved to workspace files (see
`resolve` for how each language finds them: Python, TypeScript/JavaScript, Go, C/C++, Java,
Rust and Lua). Each name used near the cursor that an import brings in is looked up in the
outline of its file; the nearer to the cursor a name is used, the higher its definition ranks.
"""

import posixpath
import re
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

import tree_sitter

from lsp_server.completion.window import lines_span
from lsp_server.context.outline import Definition, ImportSpec, Outline, read_imports
from lsp_server.context.resolve import Binding, ImportResolver
from lsp_server.context.snippets import Snippet
from lsp_server.context.workspace import WorkspaceIndex
from lsp_server.text.languages import LanguageInfo, language_for, parser_for

# Chains are dotted or, in C++, Rust and Java (`geo::area`, `Shape::area`), joined by `::`.
_SEPARATOR = re.compile(r"\.|::")
_CHAIN = re.compile(r"[A-Za-z_$][\w$]*(?:(?:\.|::)[A-Za-z_$][\w$]*)*")
_JS_LANGUAGES = frozenset({"javascript", "typescript", "typescriptreact"})
# How far a re-export (`from .impl import name` in a package's __init__.py) is followed.
_REEXPORT_DEPTH = 2

# A name, or chain, being typed at the cursor ("trap", "shapes.trap", "shapes.", "geo::").
_TYPED_CHAIN = re.compile(r"[A-Za-z_]\w*(?:(?:\.|::)[A-Za-z_]\w*)*(?:\.|::)?(?<=[\w.:])\Z")


@dataclass(frozen=True)
class Usage:
    """A name, or dotted chain of names, used near the cursor and how many lines away."""

    chain: tuple[str, ...]
    distance: float


def usages_near(text: str, cursor: int, before: int = 30, after: int = 10) -> list[Usage]:
    """Names used within `before` lines above and `after` lines below the cursor, nearest first.

    Lines below the cursor count half a line farther: what was just written matters more.
    """
    start, end = lines_span(text, cursor, before, after)
    cursor_line = text.count("\n", start, cursor)
    nearest: dict[tuple[str, ...], float] = {}
    line, scanned = 0, start
    for match in _CHAIN.finditer(text, start, end):
        line += text.count("\n", scanned, match.start())
        scanned = match.start()
        distance = float(cursor_line - line) if line <= cursor_line else line - cursor_line + 0.5
        chain = tuple(_SEPARATOR.split(match.group()))
        if distance < nearest.get(chain, float("inf")):
            nearest[chain] = distance
    return [Usage(c, d) for c, d in sorted(nearest.items(), key=lambda item: item[1])]


class CrossFile:
    """Finds definitions from imported workspace files for the names used near a cursor."""

    def __init__(self, index: WorkspaceIndex, documents: int = 64) -> None:
        self.index = index
        self._resolve = ImportResolver(index)
        self._documents = documents
        # Per file: its imports and the index generation they were resolved at, and the result.
        self._resolved: OrderedDict[str, tuple[tuple[ImportSpec, ...], int, list[Binding]]] = (
            OrderedDict()
        )

    def snippets(
        self,
        path: str,
        text: str,
        cursor: int,
        *,
        language: LanguageInfo | None = None,
        tree: tree_sitter.Tree | None = None,
        limit: int = 12,
    ) -> list[Snippet]:
        """Definitions of names used near the cursor in `path` (workspace-relative), ranked."""
        info = language or language_for(path=path)
        if info is None:
            return []
        if tree is None:
            tree = parser_for(info).parse(text.encode("utf-8", "surrogatepass"))
        bindings = self._current_bindings(path, info, read_imports(info, tree.root_node))
        if not bindings:
            return []
        found: dict[tuple[str, int], Snippet] = {}
        # Each file's outline is fetched once per request, however many names are looked up.
        outlines: dict[str, Outline] = {}
        typed = _TYPED_CHAIN.search(text, max(0, cursor - 200), cursor)
        if typed is not None:
            # The name being typed is the likeliest next use: what it may complete to ranks first.
            chain = tuple(_SEPARATOR.split(typed.group()))
            for file, definition in self._prefixed(chain, bindings, outlines, limit):
                found.setdefault(
                    (file, definition.line),
                    Snippet(file, definition.text, 1.0, "definition", definition.line),
                )
        for usage in usages_near(text, cursor):
            score = 0.5 + 0.5 / (1.0 + usage.distance)
            for file, definition in self._definitions_for(usage.chain, bindings, outlines):
                key = (file, definition.line)
                if key not in found:
                    found[key] = Snippet(
                        file, definition.text, score, "definition", definition.line
                    )
            if len(found) >= limit:
                break
        return sorted(found.values(), key=lambda s: -s.score)[:limit]

    def _current_bindings(
        self, path: str, info: LanguageInfo, imports: tuple[ImportSpec, ...]
    ) -> list[Binding]:
        """The bindings of the file being edited, resolved again only when something changed."""
        generation = self.index.generation
        cached = self._resolved.get(path)
        if cached is not None and cached[0] == imports and cached[1] == generation:
            self._resolved.move_to_end(path)
            return cached[2]
        bindings = self.bindings(path, info, imports)
        self._resolved[path] = (imports, generation, bindings)
        self._resolved.move_to_end(path)
        if len(self._resolved) > self._documents:
            self._resolved.popitem(last=False)
        return bindings

    def bindings(
        self, path: str, info: LanguageInfo, imports: Iterable[ImportSpec]
    ) -> list[Binding]:
        """What the imports of the file at `path` bring in, resolved to workspace files."""
        here = posixpath.dirname(path)
        resolve = self._resolve
        if info.id == "python":
            return [b for spec in imports for b in resolve.python(spec, here)]
        if info.id in _JS_LANGUAGES:
            return [b for spec in imports for b in resolve.javascript(spec, here)]
        if info.id in ("c", "cpp"):
            return [b for spec in imports for b in resolve.include(spec, here)]
        if info.id == "lua":
            return [b for spec in imports for b in resolve.lua(spec, here)]
        if info.id == "go":
            return resolve.go(path, here, imports)
        if info.id == "java":
            return resolve.java(path, here, imports)
        if info.id == "rust":
            return resolve.rust(path, here, imports)
        return []

    def _definitions_for(
        self, chain: tuple[str, ...], bindings: list[Binding], outlines: dict[str, Outline]
    ) -> Iterable[tuple[str, Definition]]:
        for binding in bindings:
            if not binding.local:
                names: Iterable[str] = chain
            elif binding.symbol is not None:
                names = (binding.symbol,) if chain[0] == binding.local else ()
            else:
                depth = binding.local.count(".") + 1
                local_matches = ".".join(chain[:depth]) == binding.local
                names = (chain[depth],) if local_matches and len(chain) > depth else ()
            for name in names:
                for file in binding.files:
                    yield from self._lookup(file, name, _REEXPORT_DEPTH, outlines)

    def _prefixed(
        self,
        chain: tuple[str, ...],
        bindings: list[Binding],
        outlines: dict[str, Outline],
        limit: int,
    ) -> list[tuple[str, Definition]]:
        """Imported definitions whose names start with the last, partly typed, part of chain."""
        *head, stem = chain
        found: list[tuple[str, Definition]] = []
        for binding in bindings:
            if binding.symbol is not None:
                if not head and binding.local.startswith(stem) and binding.local != stem:
                    for file in binding.files:
                        found += self._lookup(file, binding.symbol, _REEXPORT_DEPTH, outlines)
                continue
            if (not binding.local and not head) or ".".join(head) == binding.local:
                for file in binding.files:
                    outline = outlines.get(file) or outlines.setdefault(
                        file, self.index.outline(file)
                    )
                    for name, definitions in outline.definitions.items():
                        if name.startswith(stem) and name != stem:
                            found += [(file, d) for d in definitions]
        return found[:limit]

    def _lookup(
        self, file: str, name: str, depth: int, outlines: dict[str, Outline]
    ) -> list[tuple[str, Definition]]:
        outline = outlines.get(file)
        if outline is None:
            outline = outlines[file] = self.index.outline(file)
        defined = outline.definitions.get(name)
        if defined:
            return [(file, d) for d in defined]
        info = language_for(path=file)
        if depth == 0 or info is None:
            return []
        reexports = [s for s in outline.imports if (s.alias or s.name) == name or s.wildcard]
        if not reexports:
            return []
        found: list[tuple[str, Definition]] = []
        for binding in self.bindings(file, info, reexports):
            symbol = binding.symbol if binding.local else name
            if symbol is not None:
                for target in binding.files:
                    found.extend(self._lookup(target, symbol, depth - 1, outlines))
        return found
