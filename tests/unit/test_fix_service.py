"""Tests for lsp_server.fixes.service.FixService's syntax diagnostics: debounced, cancelled by
the next change or a close, and never published for a version the editor no longer has.

The model's scores are left out (`unlikelySeverity` "off"), so no engine is involved; the
engine's part is covered by the e2e tests.
"""

import pytest

from lsp_server.config import Settings
from lsp_server.fixes import service as service_module
from lsp_server.fixes.problems import Problem
from lsp_server.fixes.service import FixService
from lsp_server.runtime.scheduler import Scheduler
from lsp_server.text.documents import Change, DocumentStore

from .tasks import settled

URI = "file:///t.py"
BROKEN = "def area(w, h):\n    return (w * h\n"
FIXED = "def area(w, h):\n    return (w * h)\n"
SYNTAX_ONLY = Settings(unlikely_severity="off")


async def no_engine():
    return None


@pytest.fixture(autouse=True)
def short_debounce(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service_module, "SYNTAX_DELAY_S", 0.05)


def start() -> tuple[DocumentStore, FixService, list[tuple[int, list[str]]]]:
    store = DocumentStore()
    published: list[tuple[int, list[str]]] = []

    def publish(snapshot, problems: list[Problem]) -> None:
        published.append((snapshot.version, [p.message for p in problems]))

    return store, FixService(Scheduler(), no_engine, store.find, publish), published


async def test_edits_inside_the_debounce_publish_only_the_last_version() -> None:
    store, service, published = start()
    service.changed(store.open(URI, "python", 1, BROKEN), SYNTAX_ONLY)
    service.changed(store.change(URI, 2, [Change(BROKEN + "\n")]), SYNTAX_ONLY)
    service.changed(store.change(URI, 3, [Change(FIXED)]), SYNTAX_ONLY)
    await settled()
    assert published == [(3, [])]


async def test_a_broken_document_gets_its_syntax_problems() -> None:
    store, service, published = start()
    service.changed(store.open(URI, "python", 1, BROKEN), SYNTAX_ONLY)
    await settled()
    ((version, messages),) = published
    assert version == 1 and any("never closed" in m for m in messages), messages


async def test_a_result_for_a_version_the_editor_left_is_dropped() -> None:
    store, service, published = start()
    first = store.open(URI, "python", 1, BROKEN)
    service.changed(first, SYNTAX_ONLY)
    # The store moves on without the service hearing of it (the change is still on its way).
    store.change(URI, 2, [Change(FIXED)])
    await settled()
    assert published == []


async def test_closing_a_document_cancels_its_diagnostics() -> None:
    store, service, published = start()
    service.changed(store.open(URI, "python", 1, BROKEN), SYNTAX_ONLY)
    service.closed(URI)
    await settled()
    assert published == []


async def test_turned_off_nothing_is_published() -> None:
    store, service, published = start()
    service.changed(store.open(URI, "python", 1, BROKEN), Settings(diagnostics=False))
    await settled()
    assert published == []
