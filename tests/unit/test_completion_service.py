"""The completion service's orchestration, in process, with a scripted engine."""

import asyncio
import time

import pytest

from lsp_server.completion.generate import Plan
from lsp_server.completion.prompts import ContextFile, Prompt
from lsp_server.completion.service import CompletionService, Ready
from lsp_server.config import Settings
from lsp_server.context.service import ContextService
from lsp_server.runtime.scheduler import Scheduler
from lsp_server.text.documents import Change, DocumentStore, Pos
from tests.unit.scripted import ScriptedEngine

URI = "file:///w/calc.py"
TEXT = "def add(x, y):\n    return \n"
CURSOR = Pos(1, 11)


class CountingContext(ContextService):
    def __init__(self) -> None:
        super().__init__()
        self.plans = 0

    def plan_for(self, *args, **kwargs):
        self.plans += 1
        return super().plan_for(*args, **kwargs)


def service_for(
    engine: ScriptedEngine, ready=lambda _r: None, report=lambda _r: None, **settings
) -> tuple[CompletionService, DocumentStore]:
    documents = DocumentStore()
    documents.open(URI, "python", 1, TEXT)

    async def current() -> ScriptedEngine:
        return engine

    # The time limit is the one test's that is about it; elsewhere a slow machine must not
    # turn a whole answer into a partial one.
    config = Settings(**{"precompute": False, "answer_within_ms": 0, **settings})
    context = CountingContext()
    service = CompletionService(
        documents, Scheduler(), context, current, lambda: config, report, ready
    )
    return service, documents


def applied(text: str, start: int, end: int, new: str) -> str:
    return text[:start] + new + text[end:]


async def test_the_answer_carries_the_snapshot_it_was_computed_on() -> None:
    engine = ScriptedEngine(["x + y"])
    engine.release.clear()
    service, documents = service_for(engine)
    task = asyncio.ensure_future(service.complete(URI, CURSOR))
    await asyncio.to_thread(engine.started.wait, 10)
    # The user adds a line above while the model generates.
    documents.change(URI, 2, [Change("import math\n", Pos(0, 0), Pos(0, 0))])
    engine.release.set()
    answer = await task
    assert answer.snapshot.version == 1
    edit = answer.result.edit
    assert applied(answer.snapshot.text, edit.start, edit.end, edit.text) == (
        "def add(x, y):\n    return x + y\n"
    )
    # Positions from the answer's own snapshot: still line 1, not shifted by the new line.
    assert answer.snapshot.pos_at(edit.start).line == 1


async def test_no_context_is_gathered_where_the_trigger_says_no() -> None:
    engine = ScriptedEngine(["never"])
    service, documents = service_for(engine)
    documents.change(URI, 2, [Change("# a note ", Pos(1, 11), Pos(1, 11))])
    answer = await service.complete(URI, Pos(1, 20))
    assert answer.result is None and "comment" in answer.reason
    assert service._context.plans == 0 and engine.prompts == []


async def test_typing_through_a_suggestion_needs_no_model_run() -> None:
    engine = ScriptedEngine(["x + y"])
    service, documents = service_for(engine)
    first = await service.complete(URI, CURSOR)
    assert first.result.text == "x + y"
    documents.change(URI, 2, [Change("x", CURSOR, CURSOR)])
    second = await service.complete(URI, Pos(1, 12))
    assert second.result.text == " + y"
    assert second.result.stats.stop_reason == "typed-through"
    assert len(engine.prompts) == 1


async def test_completions_switched_off_answer_with_the_reason() -> None:
    engine = ScriptedEngine(["x"])
    service, _ = service_for(engine, enable=False)
    answer = await service.complete(URI, CURSOR)
    assert answer.result is None and answer.reason == "completions are disabled"
    assert engine.prompts == []


async def test_a_new_engine_forgets_what_the_old_one_suggested() -> None:
    engines = [ScriptedEngine(["x + y"]), ScriptedEngine(["y * x"])]
    documents = DocumentStore()
    documents.open(URI, "python", 1, TEXT)

    async def current() -> ScriptedEngine:
        return engines[0]

    settings = Settings(precompute=False)
    service = CompletionService(documents, Scheduler(), ContextService(), current, lambda: settings)
    await service.complete(URI, CURSOR)
    engines.pop(0)
    documents.change(URI, 2, [Change("x", CURSOR, CURSOR)])
    answer = await service.complete(URI, Pos(1, 12))
    assert answer.result.stats.stop_reason != "typed-through"
    assert len(engines[0].prompts) == 1


@pytest.mark.parametrize("invoked", [False, True])
async def test_an_unknown_document_is_a_document_error(invoked: bool) -> None:
    from lsp_server.errors import DocumentError

    service, _ = service_for(ScriptedEngine([]))
    with pytest.raises(DocumentError):
        await service.complete("file:///w/missing.py", CURSOR, invoked)


async def test_the_inline_handler_converts_with_the_answers_snapshot() -> None:
    from types import SimpleNamespace

    from lsprotocol import types

    from lsp_server.lsp.completions import inline_completion

    engine = ScriptedEngine(["x + y"])
    service, documents = service_for(engine)
    answered = []
    ls = SimpleNamespace(completions=service, answered=answered.append)
    params = types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(URI),
        position=types.Position(1, 11),
        context=types.InlineCompletionContext(types.InlineCompletionTriggerKind.Automatic),
    )
    listed = await inline_completion(ls, params)
    (item,) = listed.items
    assert item.insert_text == "x + y"
    assert item.range == types.Range(types.Position(1, 11), types.Position(1, 11))
    assert len(answered) == 1


def slow_past_the_limit(readies: list | None = None):
    """A service on a slow model that passes the 300 ms limit while it generates, and stops
    after "x + y if " until the test lets it go on; Ready notices go to `readies`."""
    engine = ScriptedEngine(["x + y if x else y"])
    engine.piece_s = 0.2
    engine.hold_after = 4
    ready = readies.append if readies is not None else (lambda _r: None)
    service, documents = service_for(engine, ready, answer_within_ms=300)
    return engine, service, documents


async def test_what_is_ready_by_the_time_limit_is_shown_and_the_rest_served_next_key() -> None:
    engine, service, documents = slow_past_the_limit()
    first = await service.complete(URI, CURSOR)
    shown = first.result.text
    assert shown and "x + y if x else y".startswith(shown) and len(shown) < 10
    assert await asyncio.to_thread(engine.held.wait, 10)  # answered with the model still going
    # Typed now, the first key is served from what was shown.
    typed = TEXT[:26] + "x" + TEXT[26:]
    assert service.type_through.lookup(URI, typed, 27) == shown[1:]
    # The generation goes on after the answer, and its whole is remembered when it ends.
    engine.resume.set()
    for _ in range(500):
        if service.type_through.lookup(URI, typed, 27) != shown[1:]:
            break
        await asyncio.sleep(0.01)
    documents.change(URI, 2, [Change("x", CURSOR, CURSOR)])
    second = await service.complete(URI, Pos(1, 12))
    assert second.result.text == " + y if x else y"  # the whole, with no second model run
    assert len(engine.prompts) == 1


async def test_a_key_that_differs_from_the_generation_so_far_replaces_it() -> None:
    engine = ScriptedEngine(["x - y if y else x", " y"])
    engine.hold_after = 3  # "x - " streamed, the rest waits
    reports = []
    service, documents = service_for(engine, report=reports.append)
    first = asyncio.ensure_future(service.complete(URI, CURSOR))
    assert await asyncio.to_thread(engine.held.wait, 10)
    documents.change(URI, 2, [Change("x *", CURSOR, CURSOR)])
    second = asyncio.ensure_future(service.complete(URI, Pos(1, 14)))
    # Not waited for: the first is dropped at once, before its generation goes on.
    dropped = await asyncio.wait_for(first, 5)
    assert dropped.result is None and "superseded" in dropped.reason
    engine.resume.set()
    answer = await asyncio.wait_for(second, 10)
    assert answer.result.text == " y" and len(engine.prompts) == 2
    await asyncio.sleep(0)  # the reports go out from the event loop
    # The run cut short is reported too, as the arrival it was; the one that replaced it
    # found the place's head and only typed text to evaluate.
    runs = [(r.stats.stop_reason, r.cause) for r in reports]
    assert runs == [("cancelled", "arrival"), ("eos", "typing")]


async def early_then_ready(engine: ScriptedEngine, service, readies: list) -> str:
    """A request answered early, then the generation let go on until its Ready comes."""
    first = await service.complete(URI, CURSOR)
    assert await asyncio.to_thread(engine.held.wait, 10)
    assert readies == []  # nothing more is ready while the model still goes
    engine.resume.set()
    for _ in range(500):
        if readies:
            break
        await asyncio.sleep(0.01)
    return first.result.text


async def test_an_early_answer_says_when_its_rest_is_ready_and_the_same_place_gets_it() -> None:
    readies = []
    engine, service, _ = slow_past_the_limit(readies)
    shown = await early_then_ready(engine, service, readies)
    assert shown != "x + y if x else y"
    assert readies == [Ready(URI, 1, CURSOR)]
    again = await service.complete(URI, CURSOR)
    assert again.result.text == "x + y if x else y"
    assert len(engine.prompts) == 1  # served from the generation that ended, no model run


async def test_no_ready_once_the_document_changed() -> None:
    readies = []
    engine, service, documents = slow_past_the_limit(readies)
    await service.complete(URI, CURSOR)
    assert await asyncio.to_thread(engine.held.wait, 10)
    documents.change(URI, 2, [Change("z", CURSOR, CURSOR)])
    engine.resume.set()
    for _ in range(100):
        await asyncio.sleep(0.01)
    assert readies == []


async def test_a_whole_answer_has_no_ready_to_announce() -> None:
    readies = []
    service, _ = service_for(ScriptedEngine(["x + y"]), readies.append)
    assert (await service.complete(URI, CURSOR)).result.text == "x + y"
    await asyncio.sleep(0.05)
    assert readies == []


async def test_a_prompt_that_took_the_whole_limit_is_answered_whole() -> None:
    engine = ScriptedEngine(["x + y if x else y"])
    engine.piece_s = 0.05
    engine.release.clear()
    service, _ = service_for(engine, answer_within_ms=50)
    task = asyncio.ensure_future(service.complete(URI, CURSOR))
    await asyncio.to_thread(engine.started.wait, 10)
    await asyncio.sleep(0.1)  # the prompt takes past the limit
    engine.release.set()
    assert (await task).result.text == "x + y if x else y"


class ShiftingContext(CountingContext):
    """Other files' snippets that change with every look, as typing brings in new names."""

    def plan_for(self, *args, **kwargs):
        plan = super().plan_for(*args, **kwargs)
        snippet = ContextFile("lib.py", f"def helper_{self.plans}(): ...")
        return Plan((snippet,), plan.path, plan.repo)


class PreparingEngine(ScriptedEngine):
    def __init__(self, answers: list[str]) -> None:
        super().__init__(answers)
        self.prepared: list[Prompt] = []

    def prepare(self, prompt: Prompt, cancelled) -> bool:
        self.prepared.append(prompt)
        return True


async def test_a_better_head_is_prepared_in_the_pause_and_taken_by_the_next_request() -> None:
    engine = PreparingEngine(["x + y", "x - y"])
    documents = DocumentStore()
    documents.open(URI, "python", 1, TEXT)

    async def current() -> ScriptedEngine:
        return engine

    config = Settings(precompute=False, answer_within_ms=0)
    context = ShiftingContext()
    causes: list[str] = []
    service = CompletionService(
        documents, Scheduler(), context, current, lambda: config, lambda r: causes.append(r.cause)
    )
    first = await service.complete(URI, CURSOR)
    assert "helper_1" in engine.prompts[0].text
    for _ in range(100):  # the pause: the idle work starts after IDLE_SECONDS
        if engine.prepared:
            break
        await asyncio.sleep(0.1)
    assert len(engine.prepared) == 1 and "helper_2" in engine.prepared[0].text
    # The user goes on typing in the same place, not what was suggested: the prepared head is
    # taken, and no context gathered for the request.
    documents.change(URI, 2, [Change("z", CURSOR, CURSOR)])
    await service.complete(URI, Pos(CURSOR.line, CURSOR.character + 1))
    assert first.result is not None
    assert "helper_2" in engine.prompts[1].text and "helper_1" not in engine.prompts[1].text
    assert context.plans == 2
    await asyncio.sleep(0)  # the reports go out from the event loop
    assert causes == ["arrival", "context"]


LONG = "".join(f"value_{n} = compute(value_{n - 1}, step {n})\n" for n in range(1, 60))


async def test_an_arrival_past_its_token_limit_is_answered_on_a_short_window_kept_while_typing():
    engine = ScriptedEngine(["total", "ly"])
    documents = DocumentStore()
    documents.open(URI, "python", 1, LONG + "result = \n" + LONG)
    cursor = Pos(59, 9)

    async def current() -> ScriptedEngine:
        return engine

    config = Settings(precompute=False, answer_within_ms=0, arrival_tokens=40, context_budget=400)
    causes: list[str] = []
    service = CompletionService(
        documents, Scheduler(), ShiftingContext(), current, lambda: config, causes.append
    )
    await service.complete(URI, cursor)
    short = engine.prompts[0].text
    assert engine.count_tokens(short) <= 60 and "helper_" not in short
    assert "value_58 " in short and "value_40 " not in short  # the lines nearest the cursor
    # Typing on: the short head holds (nothing ahead of the typed text changes), and the
    # window keeps growing from its start rather than moving.
    documents.change(URI, 2, [Change("z", cursor, cursor)])
    await service.complete(URI, Pos(59, 10))
    held = engine.prompts[1].text
    assert held.startswith(short)  # the typed word itself is healed: re-typed by the model
    await asyncio.sleep(0)
    assert [r.cause for r in causes] == ["arrival", "typing"]


async def test_an_arrival_within_its_token_limit_gets_the_whole_prompt() -> None:
    engine = ScriptedEngine(["x + y"])
    service, _ = service_for(engine, arrival_tokens=10_000)
    await service.complete(URI, CURSOR)
    assert "def add(x, y):" in engine.prompts[0].text


async def arrive_on_a_short_window(engine: ScriptedEngine, prompt_s: float):
    """A short arrival at a block's first line, with a 200 ms limit, whose prompt takes
    `prompt_s`; its answer."""
    engine.release.clear()
    documents = DocumentStore()
    documents.open(URI, "python", 1, LONG + "def report(values):\n    \n" + LONG)

    async def current() -> ScriptedEngine:
        return engine

    config = Settings(precompute=False, answer_within_ms=200, arrival_tokens=40, context_budget=400)
    service = CompletionService(documents, Scheduler(), ContextService(), current, lambda: config)
    task = asyncio.ensure_future(service.complete(URI, Pos(60, 4)))
    await asyncio.to_thread(engine.started.wait, 10)
    await asyncio.sleep(prompt_s)
    engine.release.set()
    answer = await task
    engine.resume.set()
    return answer


async def test_a_short_arrival_whose_prompt_took_the_limit_shows_its_first_line_at_once():
    engine = ScriptedEngine(["total = 0\n    for n in values:\n        total += n"])
    engine.piece_s = 0.01
    engine.hold_after = 5  # the block's second line waits until the test lets it go on
    answer = await arrive_on_a_short_window(engine, prompt_s=0.25)  # past the limit
    assert answer.result.text == "total = 0"


async def test_a_short_arrival_still_on_its_first_line_at_twice_the_limit_shows_whole_words():
    engine = ScriptedEngine(["total = compute(values, step)"])
    engine.hold_after = 3  # the first line waits, unfinished, until the test lets it go on
    answer = await arrive_on_a_short_window(engine, prompt_s=0.45)  # past twice the limit
    assert answer.result.text == "total ="


def short_arrival_service(engine: ScriptedEngine, ready, report=lambda _r: None):
    """A long document whose arrival prompt passes a 40-token limit, and its cursor."""
    documents = DocumentStore()
    documents.open(URI, "python", 1, LONG + "result = \n" + LONG)

    async def current() -> ScriptedEngine:
        return engine

    config = Settings(precompute=False, answer_within_ms=0, arrival_tokens=40, context_budget=400)
    service = CompletionService(
        documents, Scheduler(), ContextService(), current, lambda: config, report, ready
    )
    return service, documents, Pos(59, 9)


async def test_a_short_arrival_is_followed_at_once_by_the_whole_prompt_and_its_fuller_answer():
    engine = PreparingEngine(["total", "sum_of(value_59)"])
    readies: list[Ready] = []
    reports = []
    service, _, cursor = short_arrival_service(engine, readies.append, reports.append)
    first = await service.complete(URI, cursor)
    assert first.result.text == "total" and first.result.short
    for _ in range(200):  # no pause is waited for: the user has just arrived
        if readies:
            break
        await asyncio.sleep(0.01)
    assert readies == [Ready(URI, 1, cursor)]
    # The whole window was evaluated first, then the request ran again on it.
    whole = engine.prepared[0].text
    assert "value_40 " in whole and engine.prompts[1].text == whole
    assert [(r.kind, r.short) for r in reports] == [("request", True), ("fuller", False)]
    again = await service.complete(URI, cursor)
    assert again.result.text == "sum_of(value_59)"
    assert len(engine.prompts) == 2  # the fuller answer, with no third model run


async def test_a_fuller_answer_that_says_the_same_announces_nothing() -> None:
    engine = PreparingEngine(["total", "total"])
    readies: list[Ready] = []
    reports = []
    service, _, cursor = short_arrival_service(engine, readies.append, reports.append)
    await service.complete(URI, cursor)
    for _ in range(200):
        if len(reports) == 2:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)
    assert [r.kind for r in reports] == ["request", "fuller"] and readies == []


class InterruptedEngine(PreparingEngine):
    """Evaluating the whole prompt takes until a request stops it."""

    def prepare(self, prompt: Prompt, cancelled) -> bool:
        self.prepared.append(prompt)
        while not cancelled():
            time.sleep(0.005)
        return False


async def test_the_next_key_stops_the_whole_prompt_and_types_on_the_short_head() -> None:
    engine = InterruptedEngine(["total", "ly"])
    readies: list[Ready] = []
    service, documents, cursor = short_arrival_service(engine, readies.append)
    await service.complete(URI, cursor)
    short = engine.prompts[0].text
    for _ in range(200):
        if engine.prepared:
            break
        await asyncio.sleep(0.01)
    assert engine.prepared  # started without waiting for a pause
    documents.change(URI, 2, [Change("z", cursor, cursor)])
    await service.complete(URI, Pos(59, 10))
    assert engine.prompts[1].text.startswith(short)  # the key was answered on the short head
    assert len(engine.prompts) == 2 and readies == []  # no fuller run for the old version


async def test_a_request_skipped_in_a_comment_warms_the_place_for_the_line_below() -> None:
    engine = PreparingEngine(["return x + 1"])
    reports = []
    service, documents = service_for(engine, report=reports.append)
    text = "def inc(x):\n    # one more\n    \n"
    documents.open("file:///w/inc.py", "python", 1, text)
    skipped = await service.complete("file:///w/inc.py", Pos(1, 14))
    assert skipped.result is None and "comment" in skipped.reason
    for _ in range(200):  # queued at once: the user has just arrived
        if engine.prepared:
            break
        await asyncio.sleep(0.01)
    assert len(engine.prepared) == 1 and "# one" in engine.prepared[0].text
    # Enter, to write the code below the comment: the run there is on the head taken and
    # evaluated in the comment, typing, not an arrival; its prompt goes on from the one evaluated.
    documents.change("file:///w/inc.py", 2, [Change("\n    ", Pos(1, 14), Pos(1, 14))])
    answer = await service.complete("file:///w/inc.py", Pos(2, 4))
    assert answer.result is not None and answer.result.text == "return x + 1"
    await asyncio.sleep(0)  # the reports go out from the event loop
    assert [r.cause for r in reports] == ["typing"]
    assert engine.prompts[0].text.startswith(engine.prepared[0].text)
