"""A line start whose greedy line the cuts throw away whole gets the next-best line, with a
scripted engine that plays the model's answers in turn."""

from lsp_server.completion.generate import Generator, complete_once
from lsp_server.config import Settings
from lsp_server.text.documents import DocumentStore
from tests.unit.scripted import ScriptedEngine

TEXT = "def total(items):\n    result = 0\n    \n    return result\n"
LINE_START = TEXT.index("    \n    return") + 4
REPEATS_SUFFIX = "return result\n"  # the suffix's next line: the cut throws it away
NEXT_BEST = "for item in items:\n        result += item\n"
NEXT_BEST_LINE = "for item in items:"  # one line: nothing here asks for a block


def complete(engine: ScriptedEngine, text: str = TEXT, cursor: int = LINE_START):
    documents = DocumentStore()
    snapshot = documents.open("file:///w/total.py", "python", 1, text)
    return complete_once(Generator(engine), snapshot, cursor, Settings(answer_within_ms=0))


def scripted(*answers: str, avoids: bool = True, logprob: float = -0.2) -> ScriptedEngine:
    engine = ScriptedEngine(list(answers))
    engine.avoids = avoids
    engine.logprob = logprob
    return engine


def test_a_line_thrown_away_whole_at_a_line_start_gives_way_to_the_next_best():
    engine = scripted(REPEATS_SUFFIX, NEXT_BEST)
    result = complete(engine)
    assert result.text == NEXT_BEST_LINE
    first, second = engine.params
    assert first.avoid == ""
    # The second run may not begin as the first did, up to its first visible character.
    assert second.avoid == first.heal + "r"
    assert second.temperature == 0


def test_a_next_best_line_the_model_doubts_is_not_shown():
    engine = scripted(REPEATS_SUFFIX, "0\n", logprob=-4.0)
    result = complete(engine)
    assert result.edit is None
    assert len(engine.params) == 2


def test_a_kept_line_needs_no_second_run():
    engine = scripted(NEXT_BEST, "never")
    assert complete(engine).text == NEXT_BEST_LINE
    assert len(engine.params) == 1


def test_an_engine_that_cannot_shun_a_beginning_runs_once():
    engine = scripted(REPEATS_SUFFIX, NEXT_BEST, avoids=False)
    assert complete(engine).edit is None
    assert len(engine.params) == 1


def test_in_the_middle_of_a_line_nothing_is_tried_again():
    text = "def total(items):\n    result = \n    return result\n"
    cursor = text.index("= \n") + 2
    # A line break first: a one-line suggestion of nothing, with something visible after it.
    engine = scripted("\n    return result\n", "0\n")
    assert complete(engine, text, cursor).edit is None
    assert len(engine.params) == 1
