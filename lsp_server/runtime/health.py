"""Whether the engine can serve now, for an engine that lives elsewhere.

A completion server can go away while Tide runs: restarted, overloaded, its network gone. The
first failure is reported (the status turns to error, with the server's URL and what
happened); from then on the server is probed in idle time, and the first probe or model run
that succeeds reports it ready again, so the editor recovers without the user doing anything.
"""

import asyncio
import logging
from collections.abc import Callable

from ..engines.base import Engine
from ..errors import EngineError
from .engine_slot import Status, StatusFn
from .scheduler import Scheduler, Superseded

log = logging.getLogger(__name__)

PROBE_S = 3.0  # between probes of a server that failed


class EngineHealth:
    def __init__(
        self,
        scheduler: Scheduler,
        engine: Callable[[], Engine | None],
        ready: Callable[[], Status | None],
        on_status: StatusFn,
    ) -> None:
        self._scheduler = scheduler
        self._engine = engine
        self._ready = ready  # the status the engine had when it was last ready
        self._on_status = on_status
        self.failure: str | None = None
        self._probe: asyncio.Task | None = None

    def failed(self, error: EngineError) -> None:
        """A model run failed because of the engine; reported when the reason is new."""
        message = str(error)
        if message == self.failure:
            return
        self.failure = message
        engine = self._engine()
        log.warning("the engine failed: %s", message)
        self._on_status(Status("error", engine.model_name if engine else "", None, message))
        if self._probe is None or self._probe.done():
            self._probe = asyncio.ensure_future(self._probe_until_back())

    def served(self) -> None:
        """A model run succeeded: whatever failed before is over."""
        if self.failure is None:
            return
        self.failure = None
        if self._probe is not None:
            self._probe.cancel()
        ready = self._ready()
        if ready is not None:
            log.info("the engine serves again")
            self._on_status(ready)

    async def _probe_until_back(self) -> None:
        while self.failure is not None:
            await asyncio.sleep(PROBE_S)
            engine = self._engine()
            if engine is None:
                continue
            try:
                # Background work: a completion request on the worker goes first.
                await self._scheduler.run_background(None, lambda _t, engine=engine: engine.check())
            except Superseded:
                continue
            except EngineError as exc:
                log.info("the engine is still failing: %s", exc)
                continue
            self.served()
            return

    def close(self) -> None:
        if self._probe is not None:
            self._probe.cancel()
