"""Decoding with the region as its own draft gives what plain greedy decoding gives, in fewer
model calls: checked on a toy model whose logits depend on the whole context, so a KV cache
left holding rejected draft tokens would change what comes next."""

import random

import numpy as np
import pytest

from lsp_server.engines.base import GenerationParams, GenerationStats
from lsp_server.engines.draft import DraftCursor, generate_drafted
from lsp_server.engines.generation import generate

VOCAB = 40
END = 0


class ToyModel:
    """Logits from a hash of the context: the last two tokens mostly, the length a little."""

    def __init__(self, prompt: list[int]) -> None:
        self.context = list(prompt)
        self.calls = 0
        self.batches: list[int] = []

    def _row(self) -> np.ndarray:
        seed = hash((tuple(self.context[-2:]), len(self.context) // 7)) % (2**32)
        row = np.random.default_rng(seed).normal(size=VOCAB)
        row[END] -= 2.5  # ends now and then, not at once
        return row

    def prefill(self) -> np.ndarray:
        self.calls += 1
        return self._row()

    def advance(self, tokens: list[int]) -> list[np.ndarray]:
        self.calls += 1
        self.batches.append(len(tokens))
        rows = []
        for token in tokens:
            self.context.append(token)
            rows.append(self._row())
        return rows

    def rewind(self, n: int) -> None:
        if n:
            del self.context[-n:]


def greedy(row: np.ndarray) -> tuple[int, float]:
    return int(np.argmax(row)), float(row.max())


def plain(prompt: list[int], max_tokens: int) -> tuple[list[int], GenerationStats, int]:
    return _plain_on(ToyModel(prompt), max_tokens)


def _plain_on(model: ToyModel, max_tokens: int) -> tuple[list[int], GenerationStats, int]:
    stats = GenerationStats()
    pieces = generate(
        "toy",
        GenerationParams(max_tokens=max_tokens),
        1000,
        lambda: False,
        stats,
        prefill=model.prefill,
        pick=lambda row, rest, shunned: greedy(row),
        is_end=lambda t: t == END,
        piece=lambda t: f"{t} ",
        advance=lambda t: model.advance([t])[-1],
    )
    return [int(p) for p in "".join(pieces).split()], stats, model.calls


def drafted(
    model: ToyModel | list[int],
    draft: list[int],
    max_tokens: int,
    batch: int = 8,
    cursor: DraftCursor | None = None,
    heal: str = "",
) -> tuple[list[int], GenerationStats, int]:
    """The drafted generation on `model`, or on the toy model of that prompt; its tokens,
    stats and model calls."""
    if isinstance(model, list):
        model = ToyModel(model)
    stats = GenerationStats()
    pieces = generate_drafted(
        "toy",
        GenerationParams(max_tokens=max_tokens, heal=heal),
        1000,
        lambda: False,
        stats,
        cursor=cursor or DraftCursor(draft),
        batch=batch,
        prefill=model.prefill,
        pick=lambda row, rest: greedy(row),
        is_end=lambda t: t == END,
        piece=lambda t: f"{t} ",
        advance=model.advance,
        rewind=model.rewind,
    )
    return [int(p) for p in "".join(pieces).split()], stats, model.calls


def edited(tokens: list[int], rng: random.Random, edits: int) -> list[int]:
    """tokens with a few replaced, inserted and deleted, as a rewrite departs from a region."""
    out = list(tokens)
    for _ in range(edits):
        at = rng.randrange(len(out))
        kind = rng.choice(("replace", "insert", "delete"))
        if kind == "replace":
            out[at] = rng.randrange(1, VOCAB)
        elif kind == "insert":
            out[at:at] = [rng.randrange(1, VOCAB) for _ in range(rng.randrange(1, 4))]
        else:
            del out[at : at + rng.randrange(1, 4)]
    return out


@pytest.mark.parametrize("seed", range(12))
def test_the_drafted_output_is_the_greedy_output(seed: int) -> None:
    rng = random.Random(seed)
    prompt = [rng.randrange(1, VOCAB) for _ in range(5)]
    expected, stats, calls = plain(prompt, 120)
    assert len(expected) >= 5, "the toy model ended too soon to test anything"
    for draft in (expected, edited(expected, rng, 3), edited(expected, rng, 10), [], [7] * 50):
        got, drafted_stats, _ = drafted(prompt, draft, 120)
        assert got == expected
        assert drafted_stats.stop_reason == stats.stop_reason
        assert drafted_stats.generated_tokens == stats.generated_tokens
        assert drafted_stats.logprob == pytest.approx(stats.logprob)


def test_a_draft_the_output_copies_costs_a_call_per_batch() -> None:
    rng = random.Random(3)
    prompt = [rng.randrange(1, VOCAB) for _ in range(5)]
    expected, _, calls = plain(prompt, 200)
    _, _, copied = drafted(prompt, expected, 200, batch=16)
    assert copied <= 2 + len(expected) // 15
    _, _, departing = drafted(prompt, edited(expected, rng, 4), 200, batch=16)
    assert copied < departing < calls


def test_the_length_limit_holds_inside_a_batch() -> None:
    prompt = [3, 4, 5]
    expected, _, _ = plain(prompt, 200)
    for limit in (1, 2, 5, 9):
        got, stats, _ = drafted(prompt, expected, limit)
        assert got == expected[:limit] and stats.stop_reason in ("length", "eos")


def test_the_cursor_finds_its_place_again_after_a_departure() -> None:
    cursor = DraftCursor([1, 2, 3, 4, 5, 6, 7, 8])
    output = [1, 2]
    for token in output:
        cursor.follow(output[: output.index(token) + 1])
    assert cursor.proposal(3) == [3, 4, 5]
    output += [9, 9]  # departs
    cursor.follow(output[:3])
    cursor.follow(output)
    assert cursor.proposal(3) == []
    output += [5, 6, 7]  # rejoins the draft further on
    for n in range(5, 8):
        cursor.follow(output[:n])
    assert cursor.proposal(3) == [8]


class ShortMemoryToy(ToyModel):
    """Logits from the last two tokens only: the same two tokens go on the same way, as a
    name or a line of code recurs."""

    def _row(self) -> np.ndarray:
        seed = hash(tuple(self.context[-2:])) % (2**32)
        row = np.random.default_rng(seed).normal(size=VOCAB)
        row[END] -= 4.0
        return row


def test_a_lookup_draft_from_the_prompt_gives_the_greedy_output_in_fewer_calls() -> None:
    rng = random.Random(5)
    start = [rng.randrange(1, VOCAB) for _ in range(5)]
    earlier, _, _ = _plain_on(ShortMemoryToy(start), 60)
    # The prompt already went this way once, as code repeats its own lines.
    prompt = start + earlier + start
    expected, _, calls = _plain_on(ShortMemoryToy(prompt), 60)
    assert len(expected) >= 10, "the toy model ended too soon to test anything"
    cursor = DraftCursor(prompt, at=None, near=len(prompt))
    got, _, lookup_calls = drafted(ShortMemoryToy(prompt), [], 60, cursor=cursor)
    assert got == expected
    assert lookup_calls < calls / 2


def test_nothing_is_proposed_before_the_healed_text_is_produced() -> None:
    prompt = [3, 4, 5]
    expected, _, _ = plain(prompt, 40)
    # Piece texts are "<token> ", so a heal text of the first two tokens' texts holds the
    # draft back until both are produced.
    model = ToyModel(prompt)
    got, _, _ = drafted(model, expected, 40, heal=f"{expected[0]} {expected[1]} ")
    assert got == expected
    assert model.batches[0] == 1 and model.batches[1] > 1


def test_a_lookup_cursor_takes_the_latest_occurrence_first() -> None:
    tokens = [1, 2, 3, 10, 7, 1, 2, 3, 11, 8]
    cursor = DraftCursor(tokens, at=None, near=len(tokens))
    output = [1, 2, 3]
    cursor.follow(output)
    assert cursor.proposal(2) == [11, 8]
