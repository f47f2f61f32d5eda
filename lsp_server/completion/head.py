"""The prompt head: what the prompt shows ahead of the text being typed, held still while the
user types in one place.

Everything ahead of the cursor in a suffix-first prompt (other files' snippets, the suffix, the
window's first line) is KV cache the next keystroke reuses, as long as it does not change. So
it is chosen on arriving at a place and kept while the user types there; a better one (new
names typed, the window's start due to move) is prepared while the user pauses and taken only
once the engine has evaluated it. A keystroke never waits for a context change.
"""

import logging
import threading
from dataclasses import dataclass, replace

from ..config import Settings
from ..text.documents import Snapshot
from .generate import GenerationRequest, Generator, Layout, Plan

log = logging.getLogger(__name__)

# Lines the cursor may move from the last request's line and still be in the same place: the
# lines a suggestion spans, or an Enter or two; a larger jump is an arrival somewhere else.
NEAR_LINES = 8


@dataclass(frozen=True)
class Head:
    """One document's held head: its context plan and the window's start."""

    uri: str
    plan: Plan
    start: int  # the window's first offset
    # The text from `start` to the line the user arrived on: the head holds while it is
    # unchanged, which typing below it never changes.
    fingerprint: str
    line: int  # the cursor's line at the last request
    # Whether a model run on this head has finished: until one has, what the next run
    # evaluates is still the cost of getting here (`origin`: arrival, file, window...).
    settled: bool = False
    origin: str = "arrival"
    # The window's token budget while it holds: a short one for an arrival answered before
    # its whole prompt was evaluated (None: the settings' contextBudget).
    budget: int | None = None
    # A better head, evaluated by the engine while the user paused, for the next request.
    prepared: "Head | None" = None


def line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset)


def fingerprint(text: str, start: int, cursor: int) -> str:
    """The text the held head depends on: from its start to the cursor line's beginning."""
    return text[start : text.rfind("\n", 0, cursor) + 1] if start <= cursor else ""


class HeadPolicy:
    """Per document, the head to keep; read and written on the engine's worker, forgotten
    from the event loop."""

    def __init__(self) -> None:
        self._heads: dict[str, Head] = {}
        self._last_uri: str | None = None
        self._lock = threading.Lock()

    def held(self, snapshot: Snapshot, cursor: int) -> tuple[Head | None, str]:
        """The head to build this request's prompt on, and why anything ahead of the typed
        text may have to be evaluated: "typing" (the held head), "context" or "window" (a
        prepared one taken), "arrival" (none held for this place), "file" (another document)."""
        with self._lock:
            head = self._heads.get(snapshot.uri)
            other_file = self._last_uri is not None and self._last_uri != snapshot.uri
            self._last_uri = snapshot.uri
        if head is None or not _still_holds(head, snapshot.text, cursor):
            return None, "file" if other_file else "arrival"
        prepared = head.prepared
        if prepared is not None and _still_holds(prepared, snapshot.text, cursor):
            cause = "context" if prepared.plan != head.plan else "window"
            return prepared, cause
        if not head.settled:
            return head, head.origin
        return head, "file" if other_file else "typing"

    def left_behind(self, uri: str, cause: str, invoked: bool, settings: Settings) -> Plan | None:
        """On arriving at another place in the same document (`cause` from `held`), the plan
        of the place the user left, whose snippets the engine's cache still holds at the
        prompt's head: taking it, the arrival evaluates only the window, and the snippets for
        the new place are prepared in the next pause. None where the context is gathered
        afresh: after another document, on an explicit request (the best context is worth
        its cost there), or with cross-file context off."""
        if cause != "arrival" or invoked or settings.cross_file_budget <= 0:
            return None
        with self._lock:
            head = self._heads.get(uri)
        return head.plan if head is not None and head.plan.files else None

    def hold(self, head: Head) -> None:
        with self._lock:
            self._heads[head.uri] = head

    def offer(self, uri: str, prepared: Head) -> None:
        """A better head the engine has evaluated, for the next request in the same place."""
        with self._lock:
            head = self._heads.get(uri)
            if head is not None:
                self._heads[uri] = replace(head, prepared=prepared)

    def settle(self, uri: str, start: int) -> None:
        """A model run on the head with this start has finished."""
        with self._lock:
            head = self._heads.get(uri)
            if head is not None and head.start == start:
                self._heads[uri] = replace(head, settled=True)

    def current(self, uri: str) -> Head | None:
        with self._lock:
            return self._heads.get(uri)

    def forget(self, uri: str) -> None:
        with self._lock:
            self._heads.pop(uri, None)

    def clear(self) -> None:
        with self._lock:
            self._heads.clear()


def _still_holds(head: Head, text: str, cursor: int) -> bool:
    if cursor < head.start + len(head.fingerprint):
        return False
    if abs(line_of(text, cursor) - head.line) > NEAR_LINES:
        return False
    return text[head.start : head.start + len(head.fingerprint)] == head.fingerprint


def short_arrival(
    generator: Generator, request: GenerationRequest, layout: Layout
) -> tuple[GenerationRequest, Layout]:
    """The arrival's request and layout: as they are when the engine evaluates the prompt in
    time (it holds most of it, or it is short), else the same place on a window of
    `arrivalTokens`, with other files' snippets only if the engine holds them already."""
    limit = request.settings.arrival_tokens
    engine = generator.engine
    if not limit or engine.uncached_tokens(layout.prompt) <= limit:
        return request, layout
    short = replace(request, budget=limit)
    short_layout = generator.layout(short)
    if request.plan.files and engine.uncached_tokens(short_layout.prompt) > limit:
        short = replace(short, plan=replace(request.plan, files=()))
        short_layout = generator.layout(short)
    log.debug("arrival at %s: a short window first", request.snapshot.uri)
    return short, short_layout
