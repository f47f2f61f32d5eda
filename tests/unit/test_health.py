"""EngineHealth: a failing engine reported once, probed in idle time, ready again by itself."""

import asyncio

from lsp_server.errors import EngineError
from lsp_server.runtime import health
from lsp_server.runtime.engine_slot import Status
from lsp_server.runtime.health import EngineHealth
from lsp_server.runtime.scheduler import Scheduler
from tests.unit.scripted import ScriptedEngine

READY = Status("ready", "team-model", 100)


class Flaky(ScriptedEngine):
    """A server that fails its checks until it is back."""

    def __init__(self) -> None:
        super().__init__([], model_name="team-model")
        self.back = False
        self.checks = 0

    def check(self) -> None:
        self.checks += 1
        if not self.back:
            raise EngineError("cannot reach the completion server at http://team:8080/health")


async def test_failure_said_once_then_probed_until_back(monkeypatch) -> None:
    monkeypatch.setattr(health, "PROBE_S", 0.01)
    engine = Flaky()
    statuses: list[Status] = []
    watch = EngineHealth(Scheduler(), lambda: engine, lambda: READY, statuses.append)
    failure = EngineError("the completion server at http://team:8080 closed the connection")
    watch.failed(failure)
    watch.failed(failure)
    assert [s.state for s in statuses] == ["error"]
    assert "http://team:8080" in statuses[0].message
    while engine.checks < 3:
        await asyncio.sleep(0.01)
    assert statuses[-1].state == "error"
    engine.back = True
    while watch.failure is not None:
        await asyncio.sleep(0.01)
    assert statuses[-1] == READY
    watch.close()


async def test_a_model_run_that_succeeds_ends_the_failure(monkeypatch) -> None:
    monkeypatch.setattr(health, "PROBE_S", 60)
    statuses: list[Status] = []
    watch = EngineHealth(Scheduler(), lambda: None, lambda: READY, statuses.append)
    watch.served()
    assert statuses == []  # nothing had failed
    watch.failed(EngineError("the completion server at http://team:8080 did not answer"))
    watch.served()
    assert [s.state for s in statuses] == ["error", "ready"] and watch.failure is None
    watch.close()
