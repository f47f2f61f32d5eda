"""The next-edit service's orchestration, in process, with a scripted engine."""

import asyncio

import pytest

from lsp_server.engines.chat import chat_template_prompt
from lsp_server.errors import DocumentError
from lsp_server.next_edit.edit import applied
from lsp_server.next_edit.prompts import layout_for
from lsp_server.next_edit.service import NextEditService, StaleVersion
from lsp_server.runtime.scheduler import Scheduler
from lsp_server.text.documents import Change, DocumentStore, Pos
from tests.unit.scripted import ScriptedEngine

URI = "file:///w/greet.py"
BEFORE = 'def greet(name):\n    print("hi", name)\n    return name\n'
# The user renamed the parameter; the body still says `name`.
AFTER = 'def greet(who):\n    print("hi", name)\n    return name\n'
END = layout_for("qwen2.5-coder").region_end


class ChatEngine(ScriptedEngine):
    """The scripted engine with a chat format, as an instruct model has."""

    def chat_prompt(self, system: str, user: str):
        def render(messages) -> str:
            return (
                "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
                + "<|im_start|>assistant\n"
            )

        return chat_template_prompt(render, system, user, self.template)


def service_for(engine: ScriptedEngine) -> tuple[NextEditService, DocumentStore]:
    documents = DocumentStore()
    before = documents.open(URI, "python", 1, BEFORE)

    async def current() -> ScriptedEngine:
        return engine

    service = NextEditService(documents, Scheduler(), current, lambda uri: uri.rsplit("/")[-1])
    start, end = Pos(0, 10), Pos(0, 14)
    after = documents.change(URI, 2, [Change("who", start, end)])
    service.changed(before, after, (0, 0))
    return service, documents


RENAMED = 'def greet(who):\n    print("hi", who)\n    return who\n'


async def test_the_rewrite_becomes_a_minimal_checked_edit() -> None:
    engine = ChatEngine([f"{RENAMED}{END}"])
    service, documents = service_for(engine)
    answer = await service.suggest(URI, 2, Pos(0, 13))
    assert answer.edit is not None, answer.reason
    assert applied(answer.snapshot.text, answer.edit) == RENAMED
    assert answer.snapshot.text[answer.edit.start : answer.edit.end].startswith("name")
    user = engine.prompts[0].segments[1].text
    assert "-def greet(name):\n+def greet(who):" in user and "greet.py" in user
    # Asked again for the same version and region, the answer is the kept one.
    again = await service.suggest(URI, 2, Pos(0, 13))
    assert again is answer and len(engine.prompts) == 1


async def test_a_stale_version_is_refused_before_and_after_the_model_runs() -> None:
    engine = ChatEngine([f"{RENAMED}{END}"])
    service, documents = service_for(engine)
    with pytest.raises(StaleVersion):
        await service.suggest(URI, 1, Pos(0, 0))
    engine.release.clear()
    task = asyncio.ensure_future(service.suggest(URI, 2, Pos(0, 13)))
    await asyncio.to_thread(engine.started.wait, 10)
    documents.change(URI, 3, [Change("#", Pos(2, 0), Pos(2, 0))])
    engine.release.set()
    with pytest.raises(StaleVersion):
        await task
    with pytest.raises(DocumentError):
        await service.suggest("file:///w/closed.py", None, Pos(0, 0))


async def test_an_edit_that_breaks_the_syntax_or_changes_nothing_is_not_offered() -> None:
    broken = RENAMED.replace("return who", "return (who")
    engine = ChatEngine([f"{broken}{END}"])
    service, _ = service_for(engine)
    answer = await service.suggest(URI, 2, Pos(0, 13))
    assert answer.edit is None and "syntax error" in answer.reason
    engine.answers.append(f"{AFTER}{END}")
    service.closed(URI)  # forgets the kept answer
    answer = await service.suggest(URI, 2, Pos(0, 13))
    assert answer.edit is None and "nothing" in answer.reason


async def test_a_binary_document_and_a_model_without_chat_get_reasons() -> None:
    engine = ScriptedEngine([f"{RENAMED}{END}"])
    service, documents = service_for(engine)
    answer = await service.suggest(URI, 2, Pos(0, 0))
    assert answer.edit is None and "chat" in answer.reason and engine.prompts == []
    documents.open("file:///w/blob.py", "python", 1, "a\x00b\n")
    answer = await service.suggest("file:///w/blob.py", 1, Pos(0, 0))
    assert answer.edit is None and "binary" in answer.reason
    documents.open("file:///w/min.js", "javascript", 1, "var a=1;" * 1_000)
    answer = await service.suggest("file:///w/min.js", 1, Pos(0, 0))
    assert answer.edit is None and "characters" in answer.reason


async def test_a_rewrite_preempted_by_a_completion_request_is_tried_again() -> None:
    engine = ChatEngine([f"{RENAMED}{END}", f"{RENAMED}{END}"])
    engine.release.clear()
    service, _ = service_for(engine)
    task = asyncio.ensure_future(service.suggest(URI, 2, Pos(0, 13)))
    await asyncio.to_thread(engine.started.wait, 10)
    # A completion request takes the worker: background work steps aside for it.
    request = asyncio.ensure_future(service._scheduler.run(URI, lambda ticket: "completion"))
    engine.release.set()
    assert await request == "completion"
    answer = await task
    assert answer.edit is not None, answer.reason
    assert len(engine.prompts) == 2


async def test_a_whole_text_change_is_placed_by_comparing_the_texts() -> None:
    engine = ChatEngine([])
    service, documents = service_for(engine)
    before = documents.get(URI)
    after = documents.change(URI, 3, [Change(before.text.replace("return name", "return who"))])
    service.changed(before, after, None)
    # Two lines below the rename, so the same burst of editing: one hunk holds both.
    (hunk,) = service.history.recent()
    assert hunk.before.startswith("def greet(name):") and hunk.after.endswith("    return who")
    assert service.history.last_line(URI) == 2
    service.changed(after, after, None)  # no change: nothing recorded
    assert service.history.recent() == [hunk]
