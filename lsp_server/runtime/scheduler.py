"""One worker owns the engine; per document, the newest request wins.

Inference never runs on pygls' thread pool: its stdin reader shares that pool, so a long
generation there would stop the server from reading `$/cancelRequest`. Tide's single worker runs
one job at a time; each job carries a `Ticket` whose cancellation the engine checks between
tokens. A request that is cancelled or superseded is answered at once on the event loop, while
its job stops within one token (or one prompt chunk) on the worker.
"""

import asyncio
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

YIELDED = "yielded to a request"  # why background work was stopped; it may be tried again


class Ticket:
    """A job's cancellation flag, set from the event loop and read from the worker."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason = ""
        self._waiters: list[asyncio.Event] = []

    def cancel(self, reason: str) -> None:
        if self._event.is_set():
            return
        self.reason = reason
        self._event.set()
        for waiter in self._waiters:
            waiter.set()

    def is_cancelled(self) -> bool:
        return self._event.is_set()

    def _watch(self) -> asyncio.Event:
        waiter = asyncio.Event()
        if self._event.is_set():
            waiter.set()
        self._waiters.append(waiter)
        return waiter


class Superseded(Exception):
    """The job was cancelled before it finished; the request gets an empty answer."""


class Scheduler:
    """Runs jobs on one worker thread; `run(key, ...)` cancels the previous job of that key."""

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tide-engine")
        self._latest: dict[str, Ticket] = {}
        self._background: set[Ticket] = set()

    def _guarded(self, ticket: Ticket, job: Callable[[Ticket], T]) -> T:
        if ticket.is_cancelled():
            raise Superseded(ticket.reason)
        return job(ticket)

    async def run(self, key: str | None, job: Callable[[Ticket], T]) -> T:
        """Run `job` on the worker and return its result.

        Raises `Superseded` as soon as a newer job with the same key arrives (the old job is
        told to stop and its result is dropped), and re-raises `asyncio.CancelledError` after
        cancelling the job when the awaiting request is cancelled.
        """
        # Background work steps aside for every request: it stops within one chunk and is
        # tried again later, so it never delays a completion by more than that chunk.
        for background in list(self._background):
            background.cancel(YIELDED)
        return await self._submit(key, job, Ticket())

    async def run_background(
        self, key: str | None, job: Callable[[Ticket], T], preempt: bool = False
    ) -> T:
        """Run `job` on the worker as background work: any `run` cancels it (`Superseded`).
        With `preempt`, the background work already there steps aside for it, as for a
        request: it is for the user's next key, the rest (diagnostics) can wait."""
        if preempt:
            for background in list(self._background):
                background.cancel(YIELDED)
        ticket = Ticket()
        self._background.add(ticket)
        try:
            return await self._submit(key, job, ticket)
        finally:
            self._background.discard(ticket)

    async def _submit(self, key: str | None, job: Callable[[Ticket], T], ticket: Ticket) -> T:
        if key is not None:
            previous = self._latest.get(key)
            if previous is not None:
                previous.cancel("superseded")
            self._latest[key] = ticket
        waiter = ticket._watch()
        loop = asyncio.get_running_loop()
        work = loop.run_in_executor(self._executor, self._guarded, ticket, job)
        cancelled = asyncio.ensure_future(waiter.wait())
        try:
            await asyncio.wait({work, cancelled}, return_when=asyncio.FIRST_COMPLETED)
            if work.done():
                return work.result()
            # The worker may still be finishing the job; make sure its outcome is consumed.
            work.add_done_callback(_discard)
            raise Superseded(ticket.reason)
        except asyncio.CancelledError:
            ticket.cancel("cancelled by the client")
            work.add_done_callback(_discard)
            raise
        finally:
            cancelled.cancel()
            if key is not None and self._latest.get(key) is ticket:
                del self._latest[key]

    def cancel_all(self, reason: str) -> None:
        for ticket in list(self._latest.values()):
            ticket.cancel(reason)

    def shutdown(self) -> None:
        self.cancel_all("shutting down")
        self._executor.shutdown(wait=False, cancel_futures=True)


def _discard(future: "asyncio.Future[object]") -> None:
    if not future.cancelled() and future.exception() is not None:
        log.debug("a dropped job ended with: %r", future.exception())
