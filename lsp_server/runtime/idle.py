"""Engine upkeep while the user pauses: work that makes the next request cheaper.

Once `delay` seconds pass without a completion, the jobs queued by the last one run as
background work on the scheduler: any request stops them within one token or prompt chunk,
and a later pause queues them again.
"""

import asyncio
import logging
from collections.abc import Callable, Sequence

from .scheduler import Scheduler, Superseded, Ticket

log = logging.getLogger(__name__)

IDLE_SECONDS = 0.6  # longer than the gap between keystrokes of someone typing

Job = Callable[[Ticket], object]


class IdleWork:
    def __init__(self, scheduler: Scheduler, delay: float = IDLE_SECONDS) -> None:
        self._scheduler = scheduler
        self._delay = delay
        self._task: asyncio.Task | None = None

    def after_pause(self, build: Callable[[], Sequence[Job]], delay: float | None = None) -> None:
        """Run the jobs `build` gives, in order, once the user pauses (`delay` seconds without
        a request; the default pause unless given); replaces what the last call queued. They
        are built on the event loop when the pause comes, so that what they need (the
        cross-file context, say) costs nothing while the user types."""
        self.cancel()
        wait = self._delay if delay is None else delay
        self._task = asyncio.ensure_future(self._run(build, wait))

    def cancel(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()

    async def _run(self, build: Callable[[], Sequence[Job]], delay: float) -> None:
        await asyncio.sleep(delay)
        for job in build():
            try:
                # Ahead of other upkeep (a document's diagnostics), which yields and retries.
                await self._scheduler.run_background(None, job, preempt=True)
            except Superseded:
                return
            except Exception:  # noqa: BLE001 - upkeep only: a failure must not reach a request
                log.exception("idle work failed")
                return
