"""The other code a prompt shows: snippets chosen within a token budget, laid out stably.

Candidates come from definitions in imported files, recently edited places and open buffers.
The best are taken greedily until the budget is spent, overlapping and repeated text dropped.
The engine keeps its KV cache only for an unchanged prompt start, so the choice is sticky: a
document keeps its last choice until a new one scores materially better, and the chosen files
are laid out by path, never by score, so that a new ranking alone moves nothing.
"""

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

import tree_sitter

from lsp_server.completion.prompts import ContextFile
from lsp_server.context.crossfile import CrossFile
from lsp_server.context.snippets import (
    BufferChunks,
    RecentEdits,
    Snippet,
    cursor_text,
    similar_snippets,
    visible_lines,
)
from lsp_server.context.workspace import WorkspaceIndex
from lsp_server.text.languages import LanguageInfo, language_for
from lsp_server.text.uris import file_path

# Recently edited code is likelier than any open code to be what the user works on next.
_KIND_WEIGHTS = {"definition": 1.0, "recent-edit": 1.5, "open-buffer": 1.0}
# Lines left out between two snippets of a file that need no "..." to say so (blank lines,
# mostly, between one definition and the next).
_SMALL_GAP = 2
# Tokens a file costs besides its text: the separator, the path line, the newline.
_FILE_OVERHEAD = 4


@dataclass(frozen=True)
class ContextRequest:
    """The document a completion is for, and what its prompt already shows.

    `visible` is the window text (prefix and suffix) around the cursor; `open_buffers` holds
    every open document as (uri, text), the current one included.
    """

    uri: str
    text: str
    cursor: int
    visible: str
    language: LanguageInfo | None = None
    tree: tree_sitter.Tree | None = None
    open_buffers: tuple[tuple[str, str], ...] = ()


def _key(snippet: Snippet) -> tuple[str, int, str]:
    return snippet.path, snippet.line, snippet.text


def _last_line(snippet: Snippet) -> int:
    return snippet.line + snippet.text.count("\n")


def _overlaps(a: Snippet, b: Snippet) -> bool:
    if a.path != b.path:
        return False
    overlap = a.line <= _last_line(b) and b.line <= _last_line(a)
    return overlap or a.text in b.text or b.text in a.text


def choose_snippets(
    candidates: Sequence[Snippet],
    budget: int,
    cost: Callable[[Snippet], int],
    previous: Sequence[Snippet] = (),
    hysteresis: float = 0.25,
) -> tuple[Snippet, ...]:
    """The best candidates that fit `budget` tokens, without overlaps or repeats.

    The previous choice stands while all of it is still a candidate, it fits, and it scores at
    least (1 - hysteresis) of the new choice.
    """
    chosen: list[Snippet] = []
    spent = 0
    for candidate in sorted(candidates, key=lambda s: -s.score):
        if any(_overlaps(candidate, c) or c.text == candidate.text for c in chosen):
            continue
        price = cost(candidate)
        if spent + price <= budget:
            chosen.append(candidate)
            spent += price
    if previous:
        current = {_key(c): c for c in candidates}
        kept = [current.get(_key(p)) for p in previous]
        if all(k is not None for k in kept):
            still = [k for k in kept if k is not None]
            fits = sum(cost(k) for k in still) <= budget
            if fits and sum(k.score for k in still) >= (1 - hysteresis) * sum(
                c.score for c in chosen
            ):
                return tuple(still)
    return tuple(chosen)


def as_files(snippets: Sequence[Snippet]) -> list[ContextFile]:
    """Snippets grouped into files: files by path, each file's snippets by line.

    Where more than a couple of lines are left out between two snippets, a comment says so.
    """
    by_path: dict[str, list[Snippet]] = {}
    for snippet in snippets:
        by_path.setdefault(snippet.path, []).append(snippet)
    files: list[ContextFile] = []
    for path in sorted(by_path):
        info = language_for(path=path)
        elided = f"{info.line_comment} ..." if info and info.line_comment else "..."
        parts: list[str] = []
        end = -1
        for snippet in sorted(by_path[path], key=lambda s: s.line):
            if parts and snippet.line > end + _SMALL_GAP + 1:
                parts.append(elided)
            elif parts and snippet.line > end + 1:
                parts.append("")
            parts.append(snippet.text.rstrip("\n"))
            end = _last_line(snippet)
        files.append(ContextFile(path, "\n".join(parts)))
    return files


def relative_path(uri: str, root: Path | None) -> str | None:
    """A file URI's workspace-relative POSIX path; None outside the workspace or without one."""
    path = file_path(uri)
    if path is None or root is None:
        return None
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return None


class ContextGatherer:
    """Gathers the other code for each completion and remembers each document's last choice."""

    def __init__(
        self,
        index: WorkspaceIndex | None = None,
        edits: RecentEdits | None = None,
        *,
        hysteresis: float = 0.25,
        documents: int = 64,
        counted: int = 4096,
    ) -> None:
        self.index = index
        self.edits = edits if edits is not None else RecentEdits()
        self.hysteresis = hysteresis
        self._crossfile = CrossFile(index) if index is not None else None
        self._buffers = BufferChunks()
        self._documents = documents
        self._last: OrderedDict[str, tuple[Snippet, ...]] = OrderedDict()
        self._counted = counted
        self._counts: OrderedDict[str, int] = OrderedDict()
        self._paths: dict[str, str] = {}

    def path_of(self, uri: str) -> str:
        """A document's path as the prompt names it: workspace-relative, else its file name."""
        path = self._paths.get(uri)
        if path is None:
            root = self.index.root if self.index is not None else None
            path = relative_path(uri, root) or unquote(urlparse(uri).path).rsplit("/", 1)[-1]
            path = path or uri
            if len(self._paths) >= self._counted:
                self._paths.clear()
            self._paths[uri] = path
        return path

    def candidates(self, request: ContextRequest) -> list[Snippet]:
        """Every snippet worth considering for the request, with weighted scores."""
        root = self.index.root if self.index is not None else None
        path = relative_path(request.uri, root)
        found: list[Snippet] = []
        if self._crossfile is not None and path is not None:
            found += self._crossfile.snippets(
                path,
                request.text,
                request.cursor,
                language=request.language,
                tree=request.tree,
            )
        query = cursor_text(request.text, request.cursor)
        visible = visible_lines(request.visible)
        found += similar_snippets(
            query,
            self.edits.chunks(),
            kind="recent-edit",
            path_of=self.path_of,
            visible=visible,
        )
        chunks = [c for uri, text in request.open_buffers for c in self._buffers.chunks(uri, text)]
        found += similar_snippets(
            query, chunks, kind="open-buffer", path_of=self.path_of, visible=visible
        )
        return [
            Snippet(s.path, s.text, s.score * _KIND_WEIGHTS.get(s.kind, 1.0), s.kind, s.line)
            for s in found
        ]

    def gather_context(
        self, request: ContextRequest, budget: int, count_tokens: Callable[[str], int]
    ) -> list[ContextFile]:
        """The files to show ahead of the request's window, within `budget` tokens."""
        if budget <= 0:
            return []

        def cost(snippet: Snippet) -> int:
            return self._count(snippet.text, count_tokens) + _FILE_OVERHEAD + len(snippet.path) // 4

        previous = self._last.get(request.uri, ())
        chosen = choose_snippets(self.candidates(request), budget, cost, previous, self.hysteresis)
        self._last[request.uri] = chosen
        self._last.move_to_end(request.uri)
        while len(self._last) > self._documents:
            self._last.popitem(last=False)
        return as_files(chosen)

    def forget(self, uri: str) -> None:
        """Drop what is remembered of a closed document."""
        self._last.pop(uri, None)
        self.edits.forget(uri)

    def _count(self, text: str, count_tokens: Callable[[str], int]) -> int:
        n = self._counts.get(text)
        if n is None:
            n = self._counts[text] = count_tokens(text)
            if len(self._counts) > self._counted:
                self._counts.popitem(last=False)
        else:
            self._counts.move_to_end(text)
        return n
