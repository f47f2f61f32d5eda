"""Choosing the next token from logits, shared by the engines that run their own loop.

Greedy or seeded top-k sampling, the model's log-probability of the chosen token, and the
vocabulary mask that token healing needs.
"""

import bisect
from collections.abc import Callable

import numpy as np

from .base import GenerationParams


def log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


class HealingVocab:
    """The vocabulary's token texts, sorted, to find the tokens that agree with a word.

    Built by `build` or on first use: decoding every token once takes half a second on two
    cores, which the engine spends while it loads rather than on the first keystroke that
    lands mid-word.
    """

    def __init__(self, piece: Callable[[int], str], control: np.ndarray) -> None:
        self._piece = piece
        self._control = control
        self._pieces: list[tuple[str, int]] | None = None
        self._keys: list[str] = []
        self._spaced = np.zeros(len(control), dtype=bool)  # tokens that begin with whitespace

    def build(self) -> None:
        if self._pieces is None:
            pieces = [(self._piece(t), t) for t in range(len(self._control))]
            self._pieces = sorted((p, t) for p, t in pieces if p and not self._control[t])
            self._keys = [p for p, _ in self._pieces]
            for text, token in self._pieces:
                self._spaced[token] = text[0].isspace()

    def mask(self, rest: str) -> np.ndarray:
        """Tokens whose text is a prefix of `rest` or starts with all of it."""
        self.build()
        assert self._pieces is not None
        allowed = np.zeros(len(self._control), dtype=bool)
        for size in range(1, len(rest) + 1):
            head = rest[:size]
            at = bisect.bisect_left(self._keys, head)
            while at < len(self._keys) and self._keys[at] == head:
                allowed[self._pieces[at][1]] = True
                at += 1
        return allowed | self.extending(rest)

    def extending(self, text: str) -> np.ndarray:
        """Tokens whose text starts with all of `text`."""
        self.build()
        assert self._pieces is not None
        found = np.zeros(len(self._control), dtype=bool)
        first = bisect.bisect_left(self._keys, text)
        last = bisect.bisect_left(self._keys, text + "\U0010ffff")
        for _, token in self._pieces[first:last]:
            found[token] = True
        return found

    def allowed(self, rest: str, shunned: str) -> np.ndarray | None:
        """The tokens a pick may choose from: those that agree with `rest` (healing) and
        none that would complete `shunned`; None for all of them.

        Past the whitespace `shunned` begins with, whitespace is shunned too: the answer that
        replaces a shunned line keeps its indentation, else it drifts into blank space.
        """
        allowed = self.mask(rest) if rest else None
        if shunned:
            banned = self.extending(shunned)
            if not shunned[0].isspace():
                banned |= self._spaced
            allowed = ~banned & (True if allowed is None else allowed)
        return allowed


def choose(
    logits: np.ndarray,
    params: GenerationParams,
    rng: np.random.Generator,
    allowed: np.ndarray | None = None,
) -> tuple[int, float]:
    """The next token (greedy, or top-k sampled at the temperature) and its log-probability."""
    logprobs = log_softmax(logits)
    masked = logits if allowed is None else np.where(allowed, logits, -np.inf)
    if params.temperature <= 0:
        token = int(np.argmax(masked))
    else:
        k = min(params.top_k, len(masked))
        top = np.argpartition(masked, -k)[-k:]
        weights = np.exp((masked[top] - masked[top].max()) / params.temperature)
        token = int(rng.choice(top, p=weights / weights.sum()))
    return token, float(logprobs[token])
