"""Generations in flight, shared by the requests that typing makes while they run.

An editor asks again on every key and cancels the request before. A generation that started a
few keys ago is usually still the answer: what the user typed is what it is producing. So a
request whose document is the in-flight one's with text typed at its cursor waits for that
generation instead of replacing it, and the type-through cache then serves the rest of it,
unless what it has produced so far already differs from what was typed: then it cannot be the
answer, and the request replaces it rather than wait for it to run to its end. A generation
whose requests have all gone is cancelled after a short grace, long enough for the next key's
request to take it over.
"""

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TypeVar

from ..completion.type_through import AFTER_CHARS
from .scheduler import Superseded

T = TypeVar("T")

GRACE_S = 0.25  # a typist's next key comes sooner than this
MAX_TYPED = 32  # more text than this at once is a paste, which the generation cannot foresee


@dataclass
class Progress:
    """The suggestion a generation has produced so far, from its cursor; written by the
    worker as it streams, read by the requests that might join it."""

    text: str = ""


@dataclass
class _Flight:
    text: str
    cursor: int
    task: "asyncio.Future"
    progress: Progress
    waiters: int = 0


class InFlight:
    """At most one generation per document; requests attend it, the last one out cancels it."""

    def __init__(self, grace_s: float = GRACE_S) -> None:
        self._grace_s = grace_s
        self._flights: dict[str, _Flight] = {}

    def joinable(self, uri: str, text: str, cursor: int) -> bool:
        """Whether the generation in flight was asked for this text before the user typed the
        characters now before the cursor (and nothing else around it changed), and has produced
        nothing that differs from them."""
        flight = self._flights.get(uri)
        if flight is None or flight.task.done():
            return False
        typed = cursor - flight.cursor
        if not 0 < typed <= MAX_TYPED or len(text) != len(flight.text) + typed:
            return False
        start = max(flight.cursor - AFTER_CHARS, 0)
        keys, so_far = text[flight.cursor : cursor], flight.progress.text
        agreed = min(len(keys), len(so_far))
        return (
            text[start : flight.cursor] == flight.text[start : flight.cursor]
            and text[cursor : cursor + AFTER_CHARS]
            == flight.text[flight.cursor : flight.cursor + AFTER_CHARS]
            and keys[:agreed] == so_far[:agreed]
        )

    async def wait_for(self, uri: str, text: str, cursor: int) -> bool:
        """Wait for the generation in flight if it may hold the answer; whether it finished."""
        if not self.joinable(uri, text, cursor):
            return False
        try:
            await self._attend(self._flights[uri])
        except Superseded:
            return False
        return True

    async def start(
        self, uri: str, text: str, cursor: int, job: Awaitable[T], progress: Progress | None = None
    ) -> T:
        """Run job as this document's generation in flight and return what it returns; the
        job reports what it has produced in `progress`."""
        task = asyncio.ensure_future(job)
        flight = _Flight(text, cursor, task, progress or Progress())
        self._flights[uri] = flight

        def landed(done: "asyncio.Future") -> None:
            if self._flights.get(uri) is flight:
                del self._flights[uri]
            if not done.cancelled():
                done.exception()  # seen here, so a generation nobody waited for logs nothing

        task.add_done_callback(landed)
        return await self._attend(flight)

    async def _attend(self, flight: _Flight) -> T:
        flight.waiters += 1
        try:
            return await asyncio.shield(flight.task)
        finally:
            flight.waiters -= 1
            if flight.waiters == 0 and not flight.task.done():
                loop = asyncio.get_running_loop()
                loop.call_later(self._grace_s, self._abandon, flight)

    @staticmethod
    def _abandon(flight: _Flight) -> None:
        if flight.waiters == 0 and not flight.task.done():
            flight.task.cancel()
