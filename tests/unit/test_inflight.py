"""Tests for lsp_server.runtime.inflight: requests made while typing share the generation in flight.

Jobs are plain coroutines gated by asyncio events; the grace is 0 or a value no assertion
depends on, and the timeouts only keep a broken implementation from hanging the suite.
"""

import asyncio

import pytest

from lsp_server.runtime.inflight import InFlight, Progress
from lsp_server.runtime.scheduler import Superseded

from .tasks import SAFETY, settled

TEXT = "def area(w, h):\n    return w\n\nprint(area(2, 3))\n"
CURSOR = TEXT.index("return w") + len("return w")


def typed(keys: str) -> tuple[str, int]:
    return TEXT[:CURSOR] + keys + TEXT[CURSOR:], CURSOR + len(keys)


class Job:
    """A generation that runs until released; counts how often it was started and cancelled."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.cancelled = False

    async def __call__(self) -> str:
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        return " * h"


async def test_a_request_after_typed_keys_waits_for_the_generation_in_flight() -> None:
    flights, job = InFlight(), Job()
    first = asyncio.ensure_future(flights.start("u", TEXT, CURSOR, job()))
    await asyncio.sleep(0)
    text, cursor = typed(" *")
    assert flights.joinable("u", text, cursor)
    waiting = asyncio.ensure_future(flights.wait_for("u", text, cursor))
    await asyncio.sleep(0)
    assert not waiting.done()
    job.release.set()
    assert await asyncio.wait_for(waiting, SAFETY) is True
    assert await first == " * h"


@pytest.mark.parametrize(
    "text, cursor",
    [
        (TEXT, CURSOR),  # nothing typed
        (TEXT[: CURSOR - 1] + TEXT[CURSOR:], CURSOR - 1),  # a key deleted
        (typed(" *")[0].replace("print", "prunt"), CURSOR + 2),  # an edit after the cursor
        ("x" + typed(" *")[0][1:], CURSOR + 2),  # an edit before the cursor
        (typed(" *")[0], CURSOR + 1),  # the cursor is not after the typed keys
        typed(" * h" * 20),  # a paste
    ],
)
async def test_other_edits_do_not_join(text: str, cursor: int) -> None:
    flights, job = InFlight(), Job()
    first = asyncio.ensure_future(flights.start("u", TEXT, CURSOR, job()))
    await asyncio.sleep(0)
    assert not flights.joinable("u", text, cursor)
    assert not flights.joinable("other", *typed(" *"))
    assert await flights.wait_for("u", text, cursor) is False
    job.release.set()
    await first


@pytest.mark.parametrize(
    "so_far, joins",
    [
        ("", True),  # nothing produced yet
        (" ", True),  # less than was typed, and the same
        (" * h", True),  # more than was typed, beginning with it
        (" + h", False),  # already a different suggestion: it cannot be the answer
    ],
)
async def test_a_request_joins_only_a_generation_that_agrees_with_the_keys_so_far(
    so_far: str, joins: bool
) -> None:
    flights, job, progress = InFlight(), Job(), Progress()
    first = asyncio.ensure_future(flights.start("u", TEXT, CURSOR, job(), progress))
    await asyncio.sleep(0)
    progress.text = so_far
    assert flights.joinable("u", *typed(" *")) is joins
    job.release.set()
    await first


async def test_a_generation_whose_requests_are_gone_is_cancelled_after_the_grace() -> None:
    flights, job = InFlight(grace_s=0), Job()
    first = asyncio.ensure_future(flights.start("u", TEXT, CURSOR, job()))
    await asyncio.sleep(0)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    await settled()
    assert job.cancelled
    assert not flights.joinable("u", *typed(" *"))


async def test_the_next_keys_request_takes_over_within_the_grace() -> None:
    flights, job = InFlight(grace_s=SAFETY), Job()
    first = asyncio.ensure_future(flights.start("u", TEXT, CURSOR, job()))
    await asyncio.sleep(0)
    first.cancel()  # the editor cancels the request before sending the next one
    with pytest.raises(asyncio.CancelledError):
        await first
    waiting = asyncio.ensure_future(flights.wait_for("u", *typed(" ")))
    await asyncio.sleep(0)
    job.release.set()
    assert await asyncio.wait_for(waiting, SAFETY) is True
    assert not job.cancelled


async def test_a_superseded_generation_lets_the_waiter_go_on() -> None:
    flights = InFlight()

    async def superseded() -> str:
        await asyncio.sleep(0)
        raise Superseded("superseded")

    first = asyncio.ensure_future(flights.start("u", TEXT, CURSOR, superseded()))
    await asyncio.sleep(0)
    assert await asyncio.wait_for(flights.wait_for("u", *typed(" ")), SAFETY) is False
    with pytest.raises(Superseded):
        await first
