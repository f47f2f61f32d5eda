"""Diagnostics and fixes kept off the completion path.

Syntax problems come from the tree the document store already keeps, a short debounce after an
edit. The model's "unlikely code" scores and fix searches run on the engine's worker as
background work: any completion request preempts them within one batch of tokens, and they pick
up again where they stopped once the user pauses.
"""

import asyncio
import dataclasses
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from ..config import Settings
from ..engines.base import Engine
from ..errors import TideError
from ..runtime.scheduler import YIELDED, Scheduler, Superseded, Ticket
from ..text.documents import Snapshot
from ..text.uris import file_path
from .candidates import Cancelled, Fix, FixFinder, FixTarget, function_name
from .diagnostics import syntax_diagnostics, unlikely_diagnostics
from .problems import Problem
from .scoring import ScoreCache
from .trial import find_tests, has_examples, interpreter, pytest_missing, run_tests

log = logging.getLogger(__name__)

T = TypeVar("T")

SYNTAX_DELAY_S = 0.3
SCORE_DELAY_S = 1.0  # a pause in typing, beyond the syntax debounce, before the model scores
RETRY_DELAY_S = 0.5
MAX_TESTED_FIXES = 3  # each test run copies the workspace and starts pytest

Publish = Callable[[Snapshot, list[Problem]], None]


async def in_background(scheduler: Scheduler, key: str, job: Callable[[Ticket], T]) -> T:
    """Run `job` as background work, resuming it each time a request preempts it."""
    while True:
        try:
            return await scheduler.run_background(key, job)
        except Superseded as exc:
            if str(exc) != YIELDED:
                raise
        await asyncio.sleep(RETRY_DELAY_S)


class FixService:
    """Per-document diagnostics tasks, and fix searches cached by document version and lines."""

    def __init__(
        self,
        scheduler: Scheduler,
        engine: Callable[[], Awaitable[Engine | None]],
        current: Callable[[str], Snapshot | None],
        publish: Publish,
        workspace: Callable[[], Path | None] = lambda: None,
    ) -> None:
        self._scheduler = scheduler
        self._engine = engine
        self._current = current
        self._publish = publish
        self._workspace = workspace
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._scores = ScoreCache()
        self._fixes: OrderedDict[tuple[str, int, int, int], list[Fix]] = OrderedDict()

    def changed(self, snapshot: Snapshot, settings: Settings) -> None:
        """A document opened or changed: (re)start its diagnostics after a debounce."""
        previous = self._tasks.pop(snapshot.uri, None)
        if previous is not None:
            previous.cancel()
        if not settings.diagnostics:
            return
        task = asyncio.ensure_future(self._diagnose(snapshot, settings))
        self._tasks[snapshot.uri] = task
        task.add_done_callback(_log_failure)

    def closed(self, uri: str) -> None:
        task = self._tasks.pop(uri, None)
        if task is not None:
            task.cancel()
        for key in [k for k in self._fixes if k[0] == uri]:
            del self._fixes[key]

    def cancel_all(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        self._tasks.clear()

    def _still_current(self, snapshot: Snapshot) -> bool:
        now = self._current(snapshot.uri)
        return now is not None and now.version == snapshot.version

    async def _diagnose(self, snapshot: Snapshot, settings: Settings) -> None:
        await asyncio.sleep(SYNTAX_DELAY_S)
        problems = syntax_diagnostics(snapshot)
        if not self._still_current(snapshot):
            return
        self._publish(snapshot, problems)
        if settings.unlikely_severity == "off" or not snapshot.text.strip():
            return
        if snapshot.tree is None and snapshot.language is not None:
            # Too large to parse, so too large to score in reasonable time.
            log.info("no unlikely-code diagnostics for %s: the file is too large", snapshot.uri)
            return
        await asyncio.sleep(SCORE_DELAY_S)
        engine = await self._engine()
        if engine is None:
            return
        key = f"score:{snapshot.uri}"
        severity = settings.unlikely_severity
        try:
            unlikely = await in_background(
                self._scheduler,
                key,
                lambda t: unlikely_diagnostics(
                    engine, snapshot, self._scores, severity, t.is_cancelled
                ),
            )
        except Superseded:
            return
        except TideError as exc:
            # An engine that cannot score (an HTTP server) leaves the syntax diagnostics.
            log.info("no unlikely-code diagnostics for %s: %s", snapshot.uri, exc)
            return
        if unlikely is None or not self._still_current(snapshot):
            return
        self._publish(snapshot, problems + unlikely)

    async def fixes(self, target: FixTarget, settings: Settings) -> list[Fix]:
        """Verified fixes for the target, best first; cached for this document version."""
        snapshot = target.snapshot
        key = (snapshot.uri, snapshot.version, target.first_line, target.last_line)
        cached = self._fixes.get(key)
        if cached is not None:
            return cached
        engine = await self._engine()
        if engine is None:
            return []
        finder = FixFinder(engine, verify=settings.verify_fixes)

        def job(ticket: Ticket) -> list[Fix]:
            try:
                return finder.find(target, ticket.is_cancelled)
            except Cancelled as exc:
                raise Superseded(ticket.reason) from exc

        found = await in_background(self._scheduler, f"fix:{snapshot.uri}", job)
        if settings.run_tests:
            found = await self._checked(target, found, settings)
        if finder.failures:
            # Asking again may go better (an HTTP server back up): nothing is kept.
            return found
        self._fixes[key] = found
        while len(self._fixes) > 64:
            self._fixes.popitem(last=False)
        return found

    async def _checked(self, target: FixTarget, found: list[Fix], settings: Settings) -> list[Fix]:
        """The fixes with what the workspace's tests say of each; passing fixes first."""
        snapshot = target.snapshot
        root, document = self._workspace(), file_path(snapshot.uri)
        if root is None or document is None or not document.is_relative_to(root):
            return found
        if snapshot.language_id != "python":
            return found
        function = function_name(snapshot, target.first_line)
        if function is None:
            return found
        tests = await asyncio.to_thread(find_tests, root, function)
        examples = function if has_examples(snapshot.text, function) else None
        if not tests and examples is None:
            return found
        python = interpreter(root)
        missing = await asyncio.to_thread(pytest_missing, python)
        if missing is not None:
            log.warning("fixes for %s are not checked against tests: %s", snapshot.uri, missing)
            return found
        checked: list[tuple[bool, Fix]] = []
        for fix in found[:MAX_TESTED_FIXES]:
            fixed = snapshot.text[: fix.start] + fix.text + snapshot.text[fix.end :]
            outcome = await asyncio.to_thread(
                run_tests, root, document, fixed, tests, settings.test_timeout, examples, python
            )
            title = f"{fix.title} ({outcome.summary})"
            checked.append((outcome.ok, dataclasses.replace(fix, title=title)))
        checked.sort(key=lambda item: not item[0])
        return [fix for _, fix in checked] + found[MAX_TESTED_FIXES:]

    def cached_fixes(self, snapshot: Snapshot, first: int, last: int) -> list[Fix] | None:
        return self._fixes.get((snapshot.uri, snapshot.version, first, last))


def _log_failure(task: "asyncio.Task[None]") -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("diagnostics failed", exc_info=task.exception())
