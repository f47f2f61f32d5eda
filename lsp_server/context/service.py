"""Cross-file context for the server: the workspace index, recent edits, and the snippets
chosen for one request.

Indexing runs on the event loop in slices of a few milliseconds between other work, so it
never holds up a request; choosing a request's snippets is a lookup plus a similarity ranking,
made on the engine's worker, since it counts tokens with the engine. The lock keeps the edits
recorded on the event loop and the choices remembered per document consistent between the two.
"""

import asyncio
import logging
import threading
from collections.abc import Callable
from pathlib import Path

from ..completion.generate import Plan
from ..text.documents import Snapshot
from ..text.uris import file_path
from .assemble import ContextGatherer, ContextRequest
from .snippets import RecentEdits, cursor_text
from .workspace import WorkspaceIndex

log = logging.getLogger(__name__)

SLICE_S = 0.005  # one indexing step on the event loop
PAUSE_S = 0.05  # between steps, so requests and notifications are read promptly
VISIBLE_BEFORE, VISIBLE_AFTER = 60, 20  # lines around the cursor a prompt shows at most
# Documents larger than this (generated or minified code) neither get nor give snippets: cutting
# them into chunks per request would cost more than a keystroke's worth of time.
MAX_DOCUMENT_CHARS = 1_000_000


class ContextService:
    def __init__(self) -> None:
        self.index: WorkspaceIndex | None = None
        self.edits = RecentEdits()
        self.gatherer = ContextGatherer(None, self.edits)
        self._task: asyncio.Task[None] | None = None
        self._lock = threading.Lock()

    @property
    def repo(self) -> str:
        return self.index.root.name if self.index is not None else ""

    def open_workspace(self, root: Path | None) -> None:
        """Start indexing the workspace folder in the background (nothing without one)."""
        if root is None or not root.is_dir():
            return
        self.index = WorkspaceIndex(root)
        self.gatherer = ContextGatherer(self.index, self.edits)
        self._task = asyncio.ensure_future(self._index_all())

    async def _index_all(self) -> None:
        index = self.index
        while index is not None and not index.index_some(SLICE_S):
            await asyncio.sleep(PAUSE_S)
        if index is not None:
            log.info("indexed %d files under %s", index.file_count(), index.root)

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    def changed(self, snapshot: Snapshot, first_line: int, last_line: int) -> None:
        with self._lock:
            self.edits.record(snapshot.uri, snapshot.text, first_line, last_line)

    def saved_or_opened(self, snapshot: Snapshot) -> None:
        if self.index is None:
            return
        path = file_path(snapshot.uri)
        if path is not None and path.is_relative_to(self.index.root):
            self.index.update(path, snapshot.text)

    def closed(self, uri: str) -> None:
        with self._lock:
            self.gatherer.forget(uri)

    def plan_for(
        self,
        snapshot: Snapshot,
        cursor: int,
        open_buffers: tuple[tuple[str, str], ...],
        budget: int,
        count_tokens: Callable[[str], int],
    ) -> Plan:
        """The snippets to show ahead of the window, and the document's path and repository."""
        with self._lock:
            path = self.gatherer.path_of(snapshot.uri)
            if budget <= 0 or len(snapshot.text) > MAX_DOCUMENT_CHARS:
                return Plan((), path, self.repo)
            visible = cursor_text(snapshot.text, cursor, VISIBLE_BEFORE, VISIBLE_AFTER)
            buffers = tuple((u, t) for u, t in open_buffers if len(t) <= MAX_DOCUMENT_CHARS)
            request = ContextRequest(
                snapshot.uri,
                snapshot.text,
                cursor,
                visible,
                snapshot.language,
                snapshot.tree,
                buffers,
            )
            files = self.gatherer.gather_context(request, budget, count_tokens)
            return Plan(tuple(files), path, self.repo)
