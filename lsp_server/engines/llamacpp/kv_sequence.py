"""One llama.cpp context and the tokens its KV cache holds, kept in step.

Consecutive prompts share their longest common token prefix: only the rest is evaluated, in
batches; llama.cpp polls for cancellation inside each batch, between the graph's operations.
Past that prefix, long runs of cached tokens that the new prompt repeats a little further along
are moved instead of re-evaluated: the suffix of a prefix-suffix-middle prompt after a keystroke
at the cursor, or, in Tide's suffix-first layout, everything after the line the cursor moved
past. Their cells are parked on a second sequence while the tokens in front of them are
evaluated, then shifted into place (llama.cpp re-applies RoPE). Moving the cursor a line down
then costs that line's tokens, not the whole prompt.

Moved cells were computed against the text before them as it was. They stay within
`MAX_SHIFT_DRIFT` tokens of change from an exact evaluation, and `refresh` recomputes them in
idle time without giving up the approximate ones until the exact ones are ready.

A prompt about to be mostly replaced is saved first, and a saved one that shares more with the
next prompt is restored.
"""

import contextlib
import ctypes
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from ...errors import EngineError
from ..base import GenerationStats
from ..reuse import change, common_prefix, evaluate_from, moved_runs

log = logging.getLogger(__name__)

_ABORTED = 2  # what llama_decode returns when the abort callback stopped it


class Aborted(Exception):
    """A decode stopped by cancellation; the batch left no cells behind."""


# Switching files replaces the prompt in the KV cache; the last few prompts are kept (one
# sequence's cells: about 12 KB a token for the default model) so that switching back restores
# them instead of re-evaluating the whole prompt.
MAX_SAVED_STATES = 4
MAX_SAVED_BYTES = 64 * 2**20
# A shorter prompt costs less to re-evaluate than to keep. Kept above it: a short arrival's
# window (arrivalTokens, about 128) that the whole prompt's preparation displaces, which the
# next key wants back; re-evaluating 110 tokens takes 0.5-1 s on two cores, a restore
# milliseconds.
MIN_SAVED_TOKENS = 32
# Below this much to gain or lose, a prompt change is typing: nothing is saved or restored.
SWITCH_TOKENS = 64

# Moving fewer cells than this saves less than it costs in bookkeeping and drift.
MIN_SHIFT_TOKENS = 32
# Tokens of change (removed plus inserted) ahead of moved cells beyond which they are
# recomputed instead: measured by benchmarks/shift.py.
MAX_SHIFT_DRIFT = 32

_MAIN, _PARKED = 0, 1  # sequence ids: the prompt, and cells set aside while tokens go in front


@dataclass
class _SavedState:
    tokens: list[int]
    exact: int
    drift: int
    data: ctypes.Array  # what llama_state_seq_get_data wrote for the main sequence


class KvSequence:
    """The main sequence of one llama.cpp context; `shift` needs a context with two sequences
    in a unified KV cache."""

    def __init__(
        self,
        ctx,
        n_ctx: int,
        n_batch: int,
        n_vocab: int,
        keep_states: bool = False,
        shift: bool = False,
    ) -> None:
        import llama_cpp
        from llama_cpp import _internals

        self._llama_cpp = llama_cpp
        self.ctx = ctx
        self.n_ctx = n_ctx
        self.n_batch = n_batch
        self.n_vocab = n_vocab
        self.tokens: list[int] = []
        # The leading tokens whose cells are what a full evaluation gives; past them, cells may
        # have been moved, and `drift` tokens of change lie between them and an exact state.
        self.exact = 0
        self.drift = 0
        self.prompt_length = 0  # the last prompt's share of `tokens`; generated tokens follow
        self._batch = _internals.LlamaBatch(n_tokens=n_batch, embd=0, n_seq_max=1, verbose=False)
        self._keep_states = keep_states
        self._shift = shift
        self._saved: list[_SavedState] = []  # least recently used first

    def common_prefix(self, tokens: list[int]) -> int:
        return common_prefix(self.tokens, tokens)

    def held_prefix(self, tokens: list[int]) -> int:
        """The longest prefix of `tokens` that the cache or a saved prompt holds."""
        saved = (common_prefix(s.tokens, tokens) for s in self._saved)
        return max([self.common_prefix(tokens), *saved])

    @property
    def saved_bytes(self) -> int:
        return sum(len(s.data) for s in self._saved)

    def _save(self) -> None:
        if len(self.tokens) < MIN_SAVED_TOKENS:
            return
        size = self._llama_cpp.llama_state_seq_get_size(self.ctx.ctx, _MAIN)
        data = (ctypes.c_uint8 * size)()
        if self._llama_cpp.llama_state_seq_get_data(self.ctx.ctx, data, size, _MAIN) != size:
            log.debug("could not save a prompt of %d tokens", len(self.tokens))
            return
        # A saved prompt this one begins with is superseded by it.
        self._saved = [
            s for s in self._saved if common_prefix(s.tokens, self.tokens) < len(s.tokens)
        ]
        self._saved.append(_SavedState(list(self.tokens), self.exact, self.drift, data))
        while len(self._saved) > MAX_SAVED_STATES or self.saved_bytes > MAX_SAVED_BYTES:
            self._saved.pop(0)

    def _restore(self, state: _SavedState) -> bool:
        loaded = self._llama_cpp.llama_state_seq_set_data(
            self.ctx.ctx, state.data, len(state.data), _MAIN
        )
        if loaded == 0:
            # llama.cpp leaves the sequence empty when it cannot load one.
            self.truncate(0)
            return False
        self.tokens = list(state.tokens)
        self.exact, self.drift = state.exact, state.drift
        return True

    def _switch(self, tokens: list[int]) -> int:
        """Save or restore whole prompts as needed; the prefix of tokens now in the cache."""
        keep = self.common_prefix(tokens)
        gain_room, loss = len(tokens) - keep, len(self.tokens) - keep
        # While typing, the prompt only grows by a few tokens: nothing to save or restore.
        if not self._keep_states or (gain_room < SWITCH_TOKENS and loss < 2 * SWITCH_TOKENS):
            return keep
        best = max(self._saved, key=lambda s: common_prefix(s.tokens, tokens), default=None)
        gain = common_prefix(best.tokens, tokens) - keep if best is not None else 0
        if best is not None and gain >= SWITCH_TOKENS:
            # Taken out first: saving the current prompt may evict the oldest, which it can be.
            self._saved.remove(best)
            self._save()
            if self._restore(best):
                log.debug("restored a saved prompt of %d tokens", len(self.tokens))
                return self.common_prefix(tokens)
            return 0
        if loss >= 2 * SWITCH_TOKENS and keep < len(self.tokens) // 2:
            self._save()
        return keep

    def truncate(self, keep: int) -> None:
        self.ctx.kv_cache_seq_rm(_MAIN, keep, -1)
        del self.tokens[keep:]
        if keep <= self.exact:
            self.exact, self.drift = keep, 0

    @contextlib.contextmanager
    def abortable(self, cancelled: Callable[[], bool]) -> Iterator[None]:
        """While open, a `decode` stops mid-batch once `cancelled()` and raises `Aborted`.

        A whole prompt batch takes seconds on a laptop CPU; newest-wins scheduling needs a
        superseded run to stop at once. llama.cpp drops the aborted batch's cells itself.
        """
        llama_cpp = self._llama_cpp
        callback = llama_cpp.ggml_abort_callback(lambda _data: bool(cancelled()))
        llama_cpp.llama_set_abort_callback(self.ctx.ctx, callback, None)
        try:
            yield
        finally:
            llama_cpp.llama_set_abort_callback(self.ctx.ctx, llama_cpp.ggml_abort_callback(), None)

    def decode(self, tokens: list[int], all_logits: bool = False) -> np.ndarray:
        """Append at most one batch of tokens; the logits of each (or only the last) row."""
        self._batch.set_batch(batch=tokens, n_past=len(self.tokens), logits_all=all_logits)
        status = self._llama_cpp.llama_decode(self.ctx.ctx, self._batch.batch)
        if status == _ABORTED:
            raise Aborted
        if status != 0:
            # An engine error, so that scoring and fix searches report it as a failed run.
            raise EngineError(f"llama.cpp could not evaluate the tokens (llama_decode: {status})")
        if self.exact == len(self.tokens):
            self.exact += len(tokens)
        self.tokens.extend(tokens)
        rows = len(tokens) if all_logits else 1
        pointer = self.ctx.get_logits() if all_logits else self.ctx.get_logits_ith(-1)
        return np.ctypeslib.as_array(pointer, shape=(rows, self.n_vocab)).copy()

    def _move(self, tokens: list[int], keep: int, stats: GenerationStats) -> int:
        """Move the long runs of cached tokens that `tokens` repeats to where it has them,
        evaluating what goes between; how many tokens of `tokens` the cache then holds."""
        runs = moved_runs(self.tokens, tokens, keep, MIN_SHIFT_TOKENS) if self._shift else []
        drift = self.drift + change(runs, keep)
        if not runs or drift > MAX_SHIFT_DRIFT:
            return keep
        ctx = self.ctx
        for run in runs:
            ctx.kv_cache_seq_cp(_MAIN, _PARKED, run.old_start, run.old_start + run.length)
        # Parked past every position a prompt uses, so moving one run into place never catches
        # another still waiting.
        ctx.kv_cache_seq_shift(_PARKED, -1, -1, self.n_ctx)
        self.truncate(keep)
        for run in runs:
            # The llama.cpp batch must continue the sequence's positions, which is why the runs
            # wait on the parked sequence while the tokens in front of them are evaluated.
            for i in range(len(self.tokens), run.new_start, self.n_batch):
                chunk = tokens[i : min(i + self.n_batch, run.new_start)]
                self.decode(chunk)
                stats.evaluated_tokens += len(chunk)
            parked = run.old_start + self.n_ctx
            end = run.new_start + run.length
            ctx.kv_cache_seq_shift(_PARKED, parked, parked + run.length, run.new_start - parked)
            ctx.kv_cache_seq_cp(_PARKED, _MAIN, run.new_start, end)
            ctx.kv_cache_seq_rm(_PARKED, run.new_start, end)
            self.tokens.extend(tokens[run.new_start : end])
            stats.shifted_tokens += run.length
        self.drift = drift
        return len(self.tokens)

    def prefill(
        self, tokens: list[int], cancelled: Callable[[], bool], stats: GenerationStats
    ) -> np.ndarray | None:
        """Bring the cache to `tokens`; the last token's logits, or None if cancelled first."""
        # The last token is always re-run so its logits are fresh for sampling.
        keep = min(self._switch(tokens), len(tokens) - 1)
        stats.reused_tokens = keep
        self.prompt_length = len(tokens)
        held = self._move(tokens, keep, stats)
        self.truncate(held)
        with self.abortable(cancelled):
            try:
                return evaluate_from(self.decode, tokens, held, self.n_batch, cancelled, stats)
            except Aborted:
                return None

    def prepare(
        self, tokens: list[int], cancelled: Callable[[], bool], stats: GenerationStats
    ) -> bool:
        """Evaluate `tokens` for a later request, after saving the prompt held now: a request
        that still wants the old prompt gets it back by a restore, not a re-evaluation, and a
        preparation cut short by a keystroke is saved in turn and goes on where it stopped."""
        if self.common_prefix(tokens) < len(tokens) - 1 and self._keep_states:
            self._save()
        return self.prefill(tokens, cancelled, stats) is not None

    def refresh(self, cancelled: Callable[[], bool]) -> int:
        """Recompute the last prompt's moved cells exactly; how many tokens were evaluated.

        The exact cells are built on the parked sequence, sharing the exact prefix, and replace
        the moved ones only once complete: a refresh cut short by a keystroke loses nothing.
        """
        tokens = self.tokens[: self.prompt_length]
        start = self.exact
        if start >= len(tokens):
            return 0
        ctx = self.ctx
        ctx.kv_cache_seq_cp(_MAIN, _PARKED, 0, start)
        try:
            for i in range(start, len(tokens), self.n_batch):
                if cancelled():
                    return 0
                chunk = tokens[i : i + self.n_batch]
                self._batch.set_batch(batch=chunk, n_past=i, logits_all=False)
                for row in range(len(chunk)):
                    self._batch.batch.seq_id[row][0] = _PARKED
                ctx.decode(self._batch)
            ctx.kv_cache_seq_rm(_MAIN, -1, -1)
            ctx.kv_cache_seq_cp(_PARKED, _MAIN, -1, -1)
        finally:
            ctx.kv_cache_seq_rm(_PARKED, -1, -1)
        self.tokens = tokens
        self.exact, self.drift = len(tokens), 0
        return len(tokens) - start
