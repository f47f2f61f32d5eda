"""Tests for lsp_server.runtime.scheduler: one worker thread, and per key the newest job wins.

Timing is controlled with threading.Event gates; the timeouts below only keep a broken
scheduler from hanging the suite, no assertion depends on how long anything takes.
"""

import asyncio
import threading
from collections.abc import Iterator

import pytest

from lsp_server.runtime.scheduler import Scheduler, Superseded, Ticket

SAFETY = 10  # seconds; a hang guard, never part of an assertion


@pytest.fixture
def scheduler() -> Iterator[Scheduler]:
    s = Scheduler()
    yield s
    s.shutdown()


@pytest.fixture
def gates() -> Iterator[list[threading.Event]]:
    """Events a test's jobs block on; all are opened at the end so no worker stays stuck."""
    made: list[threading.Event] = []
    yield made
    for gate in made:
        gate.set()


def gate(gates: list[threading.Event]) -> threading.Event:
    event = threading.Event()
    gates.append(event)
    return event


async def reached(event: threading.Event) -> None:
    """Wait, without blocking the event loop, until a worker sets `event`."""
    assert await asyncio.to_thread(event.wait, SAFETY), "the job never got there"


class BlockingJob:
    """A job that signals it started, then blocks until released; records its ticket."""

    def __init__(self, gates: list[threading.Event], result: object = "done") -> None:
        self.started = gate(gates)
        self.release = gate(gates)
        self.finished = threading.Event()
        self.result = result
        self.ticket: Ticket | None = None

    def __call__(self, ticket: Ticket) -> object:
        self.ticket = ticket
        self.started.set()
        self.release.wait(SAFETY)
        self.finished.set()
        return self.result


class PollingJob:
    """A job that runs until its ticket is cancelled, the way the engine checks between tokens."""

    def __init__(self, gates: list[threading.Event]) -> None:
        self.started = gate(gates)
        self.give_up = gate(gates)
        self.stopped = threading.Event()
        self.outcome = ""
        self.ticket: Ticket | None = None

    def __call__(self, ticket: Ticket) -> str:
        self.ticket = ticket
        self.started.set()
        while not ticket.is_cancelled():
            if self.give_up.wait(0.001):
                self.outcome = "never cancelled"
                return self.outcome
        self.outcome = "stopped"
        self.stopped.set()
        return self.outcome


async def test_returns_the_jobs_result(scheduler):
    calls: list[Ticket] = []
    assert await scheduler.run("file:///a.py", lambda ticket: calls.append(ticket) or 42) == 42
    assert len(calls) == 1


async def test_job_receives_a_live_ticket(scheduler):
    seen: list[Ticket] = []

    def job(ticket: Ticket) -> bool:
        seen.append(ticket)
        return ticket.is_cancelled()

    assert await scheduler.run("k", job) is False
    assert isinstance(seen[0], Ticket)
    assert not seen[0].is_cancelled()


async def test_job_runs_off_the_event_loop_thread(scheduler):
    loop_thread = threading.get_ident()
    worker_thread = await scheduler.run(None, lambda ticket: threading.get_ident())
    assert worker_thread != loop_thread


async def test_exceptions_propagate(scheduler):
    def job(ticket: Ticket) -> None:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        await scheduler.run("k", job)
    # The worker survives a failing job.
    assert await scheduler.run("k", lambda ticket: "next") == "next"


async def test_newer_job_supersedes_the_running_one_at_once(scheduler, gates):
    first = BlockingJob(gates, "first")
    first_task = asyncio.create_task(scheduler.run("doc", first))
    await reached(first.started)

    second_task = asyncio.create_task(scheduler.run("doc", lambda ticket: "second"))
    with pytest.raises(Superseded):
        await asyncio.wait_for(first_task, SAFETY)
    # The first request was answered while its job is still on the worker.
    assert not first.finished.is_set()
    assert first.ticket is not None and first.ticket.is_cancelled()
    assert first.ticket.reason == "superseded"

    first.release.set()
    assert await asyncio.wait_for(second_task, SAFETY) == "second"


async def test_superseded_job_that_polls_its_ticket_stops(scheduler, gates):
    first = PollingJob(gates)
    first_task = asyncio.create_task(scheduler.run("doc", first))
    await reached(first.started)

    second_task = asyncio.create_task(scheduler.run("doc", lambda ticket: "second"))
    with pytest.raises(Superseded, match="superseded"):
        await asyncio.wait_for(first_task, SAFETY)
    await reached(first.stopped)
    assert first.outcome == "stopped"
    assert await asyncio.wait_for(second_task, SAFETY) == "second"


async def test_only_the_newest_of_many_jobs_for_a_key_answers(scheduler, gates):
    blocker = BlockingJob(gates)
    blocker_task = asyncio.create_task(scheduler.run(None, blocker))
    await reached(blocker.started)

    ran: list[int] = []

    def job(n: int):
        return lambda ticket: ran.append(n) or n

    tasks = []
    for n in range(5):
        tasks.append(asyncio.create_task(scheduler.run("doc", job(n))))
        await asyncio.sleep(0)  # let that request reach the scheduler before the next one
    for task in tasks[:-1]:
        with pytest.raises(Superseded):
            await asyncio.wait_for(task, SAFETY)
    blocker.release.set()
    assert await asyncio.wait_for(tasks[-1], SAFETY) == 4
    await asyncio.wait_for(blocker_task, SAFETY)
    assert ran == [4]


async def test_queued_superseded_job_never_runs(scheduler, gates):
    blocker = BlockingJob(gates)
    blocker_task = asyncio.create_task(scheduler.run(None, blocker))
    await reached(blocker.started)

    ran: list[str] = []
    first_task = asyncio.create_task(scheduler.run("doc", lambda t: ran.append("first")))
    await asyncio.sleep(0)  # the first request is queued behind the blocker
    second_task = asyncio.create_task(scheduler.run("doc", lambda t: ran.append("second")))

    with pytest.raises(Superseded):
        await asyncio.wait_for(first_task, SAFETY)
    assert ran == []  # only the blocker so far

    blocker.release.set()
    await asyncio.wait_for(second_task, SAFETY)
    await asyncio.wait_for(blocker_task, SAFETY)
    assert ran == ["second"]


async def test_different_keys_do_not_supersede_each_other(scheduler, gates):
    a = BlockingJob(gates, "a")
    a_task = asyncio.create_task(scheduler.run("file:///a.py", a))
    await reached(a.started)
    b_task = asyncio.create_task(scheduler.run("file:///b.py", lambda ticket: "b"))
    await asyncio.sleep(0)

    a.release.set()
    assert await asyncio.wait_for(a_task, SAFETY) == "a"
    assert await asyncio.wait_for(b_task, SAFETY) == "b"
    assert a.ticket is not None and not a.ticket.is_cancelled()


async def test_jobs_without_a_key_are_never_superseded(scheduler, gates):
    first = BlockingJob(gates, "first")
    first_task = asyncio.create_task(scheduler.run(None, first))
    await reached(first.started)
    others = [asyncio.create_task(scheduler.run(None, lambda ticket, n=n: n)) for n in range(3)]
    await asyncio.sleep(0)
    assert not first.ticket.is_cancelled()

    first.release.set()
    assert await asyncio.wait_for(first_task, SAFETY) == "first"
    assert await asyncio.wait_for(asyncio.gather(*others), SAFETY) == [0, 1, 2]


async def test_finished_job_is_not_cancelled_by_the_next_one_for_its_key(scheduler):
    tickets: list[Ticket] = []

    def job(ticket: Ticket) -> int:
        tickets.append(ticket)
        return len(tickets)

    assert await scheduler.run("doc", job) == 1
    assert await scheduler.run("doc", job) == 2
    assert not tickets[0].is_cancelled()


async def test_jobs_run_one_at_a_time_on_one_thread(scheduler, gates):
    lock = threading.Lock()
    started = 0
    active = 0
    most_active = 0
    threads: set[int] = set()
    first = BlockingJob(gates)

    def job(ticket: Ticket, inner=None) -> None:
        nonlocal started, active, most_active
        with lock:
            started += 1
            active += 1
            most_active = max(most_active, active)
            threads.add(threading.get_ident())
        try:
            if inner is not None:
                inner(ticket)
        finally:
            with lock:
                active -= 1

    first_task = asyncio.create_task(scheduler.run(None, lambda t: job(t, first)))
    await reached(first.started)
    others = [asyncio.create_task(scheduler.run(None, job)) for _ in range(8)]
    await asyncio.sleep(0)
    # While the first job holds the worker, nothing else has started.
    assert started == 1

    first.release.set()
    await asyncio.wait_for(asyncio.gather(first_task, *others), SAFETY)
    assert most_active == 1
    assert len(threads) == 1
    assert threading.get_ident() not in threads
    assert started == 9


async def test_cancelling_the_request_cancels_the_job(scheduler, gates):
    job = PollingJob(gates)
    task = asyncio.create_task(scheduler.run("doc", job))
    await reached(job.started)

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert job.ticket is not None and job.ticket.is_cancelled()
    assert job.ticket.reason == "cancelled by the client"
    await reached(job.stopped)
    assert job.outcome == "stopped"
    # The worker is free for the next request.
    assert await asyncio.wait_for(scheduler.run("doc", lambda ticket: "next"), SAFETY) == "next"


async def test_cancelled_request_whose_job_is_queued_never_runs_it(scheduler, gates):
    blocker = BlockingJob(gates)
    blocker_task = asyncio.create_task(scheduler.run(None, blocker))
    await reached(blocker.started)

    ran: list[str] = []
    task = asyncio.create_task(scheduler.run("doc", lambda ticket: ran.append("queued")))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    blocker.release.set()
    await asyncio.wait_for(blocker_task, SAFETY)
    assert await asyncio.wait_for(scheduler.run(None, lambda ticket: "after"), SAFETY) == "after"
    assert ran == []


async def test_cancelled_request_does_not_cancel_the_newer_one(scheduler, gates):
    first = PollingJob(gates)
    first_task = asyncio.create_task(scheduler.run("doc", first))
    await reached(first.started)
    second = BlockingJob(gates, "second")
    second_task = asyncio.create_task(scheduler.run("doc", second))
    with pytest.raises(Superseded):
        await asyncio.wait_for(first_task, SAFETY)

    await reached(second.started)
    second.release.set()
    assert await asyncio.wait_for(second_task, SAFETY) == "second"
    assert not second.ticket.is_cancelled()


async def test_failure_of_a_superseded_job_is_not_raised_anywhere(scheduler, gates):
    started, release = gate(gates), gate(gates)

    def failing(ticket: Ticket) -> None:
        started.set()
        release.wait(SAFETY)
        raise RuntimeError("late failure")

    first_task = asyncio.create_task(scheduler.run("doc", failing))
    await reached(started)
    second_task = asyncio.create_task(scheduler.run("doc", lambda ticket: "second"))
    with pytest.raises(Superseded):
        await asyncio.wait_for(first_task, SAFETY)
    release.set()
    assert await asyncio.wait_for(second_task, SAFETY) == "second"


async def test_cancel_all_supersedes_every_running_request(scheduler, gates):
    job = PollingJob(gates)
    task = asyncio.create_task(scheduler.run("doc", job))
    await reached(job.started)
    scheduler.cancel_all("shutting down")
    with pytest.raises(Superseded, match="shutting down"):
        await asyncio.wait_for(task, SAFETY)
    await reached(job.stopped)


def test_ticket_keeps_its_first_reason():
    ticket = Ticket()
    assert not ticket.is_cancelled()
    ticket.cancel("superseded")
    ticket.cancel("cancelled by the client")
    assert ticket.is_cancelled()
    assert ticket.reason == "superseded"


async def test_a_request_preempts_background_work_which_resumes_later(scheduler):
    from lsp_server.fixes.service import in_background
    from lsp_server.runtime.scheduler import YIELDED

    started = threading.Event()
    attempts: list[str] = []

    def background(ticket: Ticket) -> str:
        attempts.append("start")
        started.set()
        if len(attempts) == 1:
            # The first attempt polls its ticket until the request below preempts it.
            while not ticket.is_cancelled():
                threading.Event().wait(0.01)
            assert ticket.reason == YIELDED
            raise Superseded(ticket.reason)
        return "scored"

    task = asyncio.ensure_future(in_background(scheduler, "score", background))
    await asyncio.wait_for(asyncio.to_thread(started.wait), SAFETY)
    assert await asyncio.wait_for(scheduler.run("doc", lambda _t: "completion"), SAFETY) == (
        "completion"
    )
    assert await asyncio.wait_for(task, SAFETY) == "scored"
    assert attempts == ["start", "start"]


async def test_background_work_that_preempts_runs_before_the_background_work_there(scheduler):
    from lsp_server.fixes.service import in_background

    started = threading.Event()
    order: list[str] = []

    def scoring(ticket: Ticket) -> str:
        order.append("score")
        started.set()
        if order.count("score") == 1:
            while not ticket.is_cancelled():
                threading.Event().wait(0.01)
            raise Superseded(ticket.reason)
        return "scored"

    task = asyncio.ensure_future(in_background(scheduler, "score", scoring))
    await asyncio.wait_for(asyncio.to_thread(started.wait), SAFETY)

    def warm(_ticket: Ticket) -> str:
        order.append("warm")
        return "warmed"

    urgent = scheduler.run_background(None, warm, preempt=True)
    assert await asyncio.wait_for(urgent, SAFETY) == "warmed"
    assert await asyncio.wait_for(task, SAFETY) == "scored"  # it yielded, and came back
    assert order == ["score", "warm", "score"]


async def test_background_work_superseded_by_its_own_key_is_not_retried(scheduler, gates):
    from lsp_server.fixes.service import in_background

    gate = threading.Event()
    gates.append(gate)
    first = asyncio.ensure_future(in_background(scheduler, "fix", lambda _t: gate.wait(SAFETY)))
    await asyncio.sleep(0)
    second = asyncio.ensure_future(in_background(scheduler, "fix", lambda _t: "newer"))
    with pytest.raises(Superseded):
        await asyncio.wait_for(first, SAFETY)
    gate.set()
    assert await asyncio.wait_for(second, SAFETY) == "newer"
