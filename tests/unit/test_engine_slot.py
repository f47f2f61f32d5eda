"""The engine slot: loads on the worker, waits for a load in progress, keeps the last engine
serving when a reload fails; with scripted engines in place of the model."""

import pytest

from lsp_server.config import Settings
from lsp_server.engines import loading
from lsp_server.engines.adapter_choice import NO_ADAPTER
from lsp_server.errors import EngineError, ModelError
from lsp_server.runtime import engine_slot
from lsp_server.runtime.engine_slot import EngineSlot, Status
from lsp_server.runtime.scheduler import Scheduler
from tests.unit.scripted import ScriptedEngine


@pytest.fixture
def built(monkeypatch) -> list[ScriptedEngine]:
    """Engines the slot builds, one per load; a model named "broken" fails to load."""
    engines: list[ScriptedEngine] = []

    def load(model, settings, adapter=None, next_edit_adapter=None):
        if settings.model == "broken":
            raise ModelError("cannot load model broken")
        engines.append(ScriptedEngine([], model_name=settings.model or "default"))
        return engines[-1]

    monkeypatch.setattr(loading, "locate_model", lambda settings, progress=None: "model")
    monkeypatch.setattr(loading, "pick_adapter", lambda settings, model, workspace: NO_ADAPTER)
    monkeypatch.setattr(loading, "load_engine", load)
    return engines


async def test_a_request_waits_for_the_load_in_progress(built) -> None:
    statuses: list[Status] = []
    slot = EngineSlot(Scheduler(), statuses.append)
    slot.start_load(Settings(model="first"))
    engine = await slot.get()
    assert engine is built[0]
    assert [s.state for s in statuses] == ["loading", "loading", "ready"]


async def test_a_failed_reload_keeps_the_previous_engine(built) -> None:
    statuses: list[Status] = []
    slot = EngineSlot(Scheduler(), statuses.append)
    await slot.start_load(Settings(model="first"))
    with pytest.raises(ModelError):
        await slot.start_load(Settings(model="broken"))
    assert await slot.get() is built[0]
    assert statuses[-1].state == "error" and "still using first" in statuses[-1].message


async def test_a_reload_closes_the_engine_it_replaces(built) -> None:
    slot = EngineSlot(Scheduler(), lambda _s: None)
    await slot.start_load(Settings(model="first"))
    await slot.start_load(Settings(model="second"))
    assert (await slot.get()).model_name == "second"
    assert built[0].closed and not built[1].closed


async def test_without_a_model_the_reason_is_the_error(built) -> None:
    slot = EngineSlot(Scheduler(), lambda _s: None)
    with pytest.raises(ModelError):
        await slot.start_load(Settings(model="broken"))
    with pytest.raises(ModelError, match="cannot load model broken"):
        await slot.get()


async def test_an_unreachable_server_is_tried_again_quietly_until_it_answers(monkeypatch) -> None:
    up = {"now": False}
    attempts: list[str] = []

    def load(model, settings, adapter=None, next_edit_adapter=None):
        attempts.append(settings.model)
        if not up["now"]:
            raise EngineError(f"cannot reach the completion server at {settings.model}")
        return ScriptedEngine([], model_name="team-model")

    monkeypatch.setattr(loading, "locate_model", lambda settings, progress=None: settings.model)
    monkeypatch.setattr(loading, "pick_adapter", lambda settings, model, workspace: NO_ADAPTER)
    monkeypatch.setattr(loading, "load_engine", load)
    monkeypatch.setattr(engine_slot, "NUDGE_S", 0.0)
    statuses: list[Status] = []
    slot = EngineSlot(Scheduler(), statuses.append)
    server = Settings(model="http://127.0.0.1:9/")
    with pytest.raises(EngineError):
        await slot.start_load(server)
    # A request tries again at once, and says why it still cannot be served.
    with pytest.raises(ModelError, match="cannot reach the completion server"):
        await slot.get()
    assert len(attempts) == 2
    assert [s.state for s in statuses].count("error") == 1  # the same failure, said once
    up["now"] = True
    assert (await slot.get()).model_name == "team-model"
    assert statuses[-1].state == "ready" and slot.ready == statuses[-1]
    await slot.close()


async def test_a_local_model_that_fails_is_not_retried(monkeypatch) -> None:
    attempts: list[str] = []

    def load(model, settings, adapter=None, next_edit_adapter=None):
        attempts.append(model)
        raise ModelError("cannot load model broken.gguf")

    monkeypatch.setattr(loading, "locate_model", lambda settings, progress=None: "broken.gguf")
    monkeypatch.setattr(loading, "pick_adapter", lambda settings, model, workspace: NO_ADAPTER)
    monkeypatch.setattr(loading, "load_engine", load)
    monkeypatch.setattr(engine_slot, "NUDGE_S", 0.0)
    slot = EngineSlot(Scheduler(), lambda _s: None)
    with pytest.raises(ModelError):
        await slot.start_load(Settings(model="broken.gguf"))
    with pytest.raises(ModelError, match="cannot load model broken.gguf"):
        await slot.get()
    assert attempts == ["broken.gguf"]
