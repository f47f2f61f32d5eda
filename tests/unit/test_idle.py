"""Idle work runs once the user pauses, in order, and gives way to any request."""

import asyncio
import threading

from lsp_server.runtime.idle import IdleWork
from lsp_server.runtime.scheduler import Scheduler, Ticket

from .tasks import SAFETY, settled


async def test_queued_jobs_run_in_order_after_the_pause() -> None:
    scheduler = Scheduler()
    done = asyncio.Event()
    ran: list[str] = []
    loop = asyncio.get_running_loop()

    def last(ticket: Ticket) -> None:
        ran.append("second")
        loop.call_soon_threadsafe(done.set)

    idle = IdleWork(scheduler, delay=0.01)
    idle.after_pause(lambda: [lambda t: ran.append("first"), last])
    await asyncio.wait_for(done.wait(), SAFETY)
    assert ran == ["first", "second"]
    scheduler.shutdown()


async def test_a_newer_pause_replaces_what_was_queued() -> None:
    scheduler = Scheduler()
    done = asyncio.Event()
    ran: list[str] = []
    loop = asyncio.get_running_loop()
    idle = IdleWork(scheduler, delay=0.05)
    idle.after_pause(lambda: [lambda t: ran.append("old")])
    idle.after_pause(lambda: [lambda t: (ran.append("new"), loop.call_soon_threadsafe(done.set))])
    await asyncio.wait_for(done.wait(), SAFETY)
    assert ran == ["new"]
    scheduler.shutdown()


async def test_a_request_stops_idle_work_and_the_rest_of_the_queue() -> None:
    scheduler = Scheduler()
    started, release, finished = threading.Event(), threading.Event(), threading.Event()
    seen: list[bool] = []

    def long_job(ticket: Ticket) -> None:
        started.set()
        while not ticket.is_cancelled() and not release.is_set():
            release.wait(0.01)
        seen.append(ticket.is_cancelled())
        finished.set()

    idle = IdleWork(scheduler, delay=0.01)
    idle.after_pause(lambda: [long_job, lambda t: seen.append("never")])
    await asyncio.wait_for(asyncio.to_thread(started.wait), SAFETY)
    assert await scheduler.run("doc", lambda t: "answer") == "answer"
    await asyncio.wait_for(asyncio.to_thread(finished.wait), SAFETY)
    await settled()  # the idle work, which would have queued the next job by now
    release.set()
    assert seen == [True]  # it saw the request's cancellation, and the next job never ran
    scheduler.shutdown()
