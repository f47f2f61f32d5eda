"""The engines' shared token loop, driven by a tiny scripted model: a fixed token sequence."""

import pytest

from lsp_server.engines.base import GenerationParams, GenerationStats
from lsp_server.engines.generation import generate, room_for
from lsp_server.errors import EngineError

END = 0
TEXT = {1: "pri", 2: "nt", 3: "(", 4: "x", 5: ")"}


class Script:
    """Plays back `tokens` in order; the "logits" are just the step number."""

    def __init__(self, tokens: list[int], fail_at: int | None = None) -> None:
        self.tokens = tokens
        self.fail_at = fail_at
        self.rests: list[str] = []
        self.shunned: list[str] = []
        self.advanced: list[int] = []

    def pick(self, step: int, rest: str, shunned: str) -> tuple[int, float]:
        self.rests.append(rest)
        self.shunned.append(shunned)
        return self.tokens[step], -0.5

    def advance(self, token: int) -> int:
        if self.fail_at is not None and len(self.advanced) == self.fail_at:
            raise RuntimeError("the library broke")
        self.advanced.append(token)
        return len(self.advanced)


def run(script: Script, params: GenerationParams, room: int = 100, cancelled=lambda: False):
    stats = GenerationStats()
    pieces = list(
        generate(
            "test",
            params,
            room,
            cancelled,
            stats,
            prefill=lambda: 0,
            pick=script.pick,
            is_end=lambda token: token == END,
            piece=TEXT.__getitem__,
            advance=script.advance,
        )
    )
    return pieces, stats


def test_runs_to_the_end_token_counting_tokens_and_logprob():
    pieces, stats = run(Script([1, 2, 3, 4, 5, END]), GenerationParams())
    assert pieces == ["pri", "nt", "(", "x", ")"]
    assert stats.stop_reason == "eos"
    assert stats.generated_tokens == 5
    assert stats.logprob == pytest.approx(-2.5)


def test_the_healed_text_still_to_produce_shrinks_as_tokens_cover_it():
    script = Script([1, 2, 3, END])
    run(script, GenerationParams(heal="print"))
    assert script.rests == ["print", "nt", "", ""]


def test_a_token_that_leaves_the_healed_text_ends_the_constraint():
    script = Script([3, 1, END])
    run(script, GenerationParams(heal="pr"))
    assert script.rests == ["pr", "", ""]


def test_the_shunned_beginning_shrinks_while_tokens_follow_it_and_ends_when_they_leave():
    script = Script([1, 3, 4, END])
    run(script, GenerationParams(avoid="print("))
    # "pri" follows it; "(" leaves it (the shunned "nt(" was not completed), so it ends.
    assert script.shunned == ["print(", "nt(", "", ""]


def test_stops_at_max_tokens_without_evaluating_the_last_token():
    script = Script([1, 2, 3, 4, 5, END])
    pieces, stats = run(script, GenerationParams(max_tokens=2))
    assert pieces == ["pri", "nt"]
    assert stats.stop_reason == "length"
    assert script.advanced == [1]


def test_stops_where_the_context_runs_out():
    pieces, stats = run(Script([1, 2, 3, 4, 5, END]), GenerationParams(), room=4)
    assert pieces == ["pri", "nt", "("]
    assert stats.stop_reason == "length"


def test_a_cancelled_prefill_yields_nothing():
    stats = GenerationStats()
    pieces = list(
        generate(
            "test",
            GenerationParams(),
            100,
            lambda: True,
            stats,
            prefill=lambda: None,
            pick=Script([1]).pick,
            is_end=lambda token: False,
            piece=TEXT.__getitem__,
            advance=lambda token: 0,
        )
    )
    assert pieces == []
    assert stats.stop_reason == "cancelled"


def test_cancellation_is_checked_before_each_further_evaluation():
    script = Script([1, 2, 3, END])
    pieces, stats = run(script, GenerationParams(), cancelled=lambda: len(script.rests) >= 2)
    assert pieces == ["pri", "nt"]
    assert stats.stop_reason == "cancelled"
    assert script.advanced == [1]


def test_a_consumer_that_stops_reading_leaves_done():
    stats = GenerationStats()
    stream = generate(
        "test",
        GenerationParams(),
        100,
        lambda: False,
        stats,
        prefill=lambda: 0,
        pick=Script([1, 2, END]).pick,
        is_end=lambda token: token == END,
        piece=TEXT.__getitem__,
        advance=lambda token: 1,
    )
    assert next(stream) == "pri"
    stream.close()
    assert stats.stop_reason == "done"


def test_a_library_failure_becomes_an_engine_error_naming_the_engine():
    with pytest.raises(EngineError, match="test failed while generating: the library broke"):
        run(Script([1, 2, END], fail_at=1), GenerationParams())


def test_an_engine_error_passes_through_unchanged():
    def piece(token: int) -> str:
        raise EngineError("injected")

    with pytest.raises(EngineError, match="^injected$"):
        list(
            generate(
                "test",
                GenerationParams(),
                100,
                lambda: False,
                GenerationStats(),
                prefill=lambda: 0,
                pick=Script([1]).pick,
                is_end=lambda token: False,
                piece=piece,
                advance=lambda token: 0,
            )
        )


def test_a_prompt_that_fills_the_context_is_refused():
    assert room_for([1] * 10, 12) == 2
    with pytest.raises(EngineError, match="prompt of 11 tokens does not fit the context of 12"):
        room_for([1] * 11, 12)
