"""Waiting for the tasks a test started, so that what they did not do can be asserted without
sleeping for a while and hoping they are done."""

import asyncio

SAFETY = 10  # seconds; a hang guard, never part of an assertion


async def settled() -> None:
    """Wait until every other task on the loop is done: finished, failed or cancelled, those
    they start included."""
    while pending := asyncio.all_tasks() - {asyncio.current_task()}:
        _, running = await asyncio.wait(pending, timeout=SAFETY)
        assert not running, f"tasks still running after {SAFETY}s: {running}"
