"""The default engine: a GGUF model run in process by llama-cpp-python.

The KV cache is the product: consecutive prompts share their longest common token prefix, so a
keystroke re-evaluates only what changed after it (with `shift_kv`, runs of cached tokens
further on are moved rather than re-evaluated: `kv_sequence`). The prompt is evaluated in small
chunks with a cancellation check between them; whatever a cancelled request evaluated stays in
the cache and serves the next request, which almost always shares that prefix.
"""

import codecs
import contextlib
import ctypes
import io
import logging
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from ...completion.prompts import Prompt, detect_template
from ...errors import EngineError, ModelError
from ..base import Engine, GenerationParams, GenerationStats, TokenScore
from ..chat import chat_template_prompt
from ..draft import DraftCursor, generate_drafted
from ..generation import generate, room_for
from ..reuse import common_prefix
from ..sampling import HealingVocab, choose, log_softmax
from .adapters import next_edit_context, set_adapter
from .kv_sequence import KvSequence

log = logging.getLogger(__name__)
llama_log = logging.getLogger("tide.llama_cpp")

# Prompts are evaluated in batches of 128 with flash attention: past 128, batches add memory
# and 0-3% of speed (BENCHMARKS.md). And a batch cancelled part way leaves nothing behind,
# while the batches before it stay in the cache for the next request: while the user types,
# an arriving prompt is cancelled again and again (a key in a comment, a paste), and with
# batches of 512 a prompt of 600 tokens on one thread never kept any of its work.
PROMPT_BATCH = 128
# The second context serves background work (fixes, scoring), whose speed matters less than
# memory: llama.cpp sizes each context's compute buffer by its batch, and scoring copies out a
# row of logits (600 KB) per token of the batch.
AUX_BATCH = 32
# Tokens a drafted generation evaluates at once. On two cores a batch costs about half a
# token's time per token (the 0.5B model: one token 20 ms, 16 tokens 176 ms, 32 tokens 329 ms),
# so a long proposal that the output leaves early wastes more than it saves.
DRAFT_BATCH = 16
# A lookup draft is a guess from a few matching tokens, so it starts short and grows only while
# the output keeps it.
LOOKUP_SPAN = 4

_TOKEN_ATTR_CONTROL = 1 << 3
# ggml_log_level: 1 debug, 2 info, 3 warn, 4 error, 5 continuation (logged as debug).
_GGML_LEVELS = {3: logging.WARNING, 4: logging.ERROR}


def _import_llama():
    try:
        import llama_cpp
    except ImportError as exc:  # pragma: no cover - the package is a hard dependency
        raise EngineError(f"llama-cpp-python is not installed: {exc}") from exc
    return llama_cpp


_log_callback = None


def _route_native_logs(llama_cpp) -> None:
    """Send llama.cpp's own log lines to Python logging instead of the server's stderr."""
    global _log_callback
    if _log_callback is not None:
        return

    @llama_cpp.llama_log_callback
    def callback(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
        message = text.decode("utf-8", "replace").rstrip()
        if message:
            llama_log.log(_GGML_LEVELS.get(level, logging.DEBUG), "%s", message)

    _log_callback = callback  # keep a reference: the C side holds only the pointer
    llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))


class LlamaCppEngine(Engine):
    name = "llama.cpp"
    avoids = True

    def __init__(
        self,
        model_path: Path,
        *,
        model_name: str | None = None,
        n_ctx: int = 2048,
        n_threads: int | None = None,
        n_batch: int = PROMPT_BATCH,
        flash_attn: bool = True,
        shift_kv: bool = False,
        lora_path: Path | None = None,
        next_edit_lora_path: Path | None = None,
    ) -> None:
        llama_cpp = _import_llama()
        _route_native_logs(llama_cpp)
        threads = n_threads or min(os.cpu_count() or 1, 8)
        captured = io.StringIO()
        start = time.perf_counter()
        try:
            # verbose=True only because verbose=False silences output by redirecting file
            # descriptors 1 and 2, which would swallow LSP messages written meanwhile; the
            # Python-level prints it makes instead are captured here.
            with contextlib.redirect_stderr(captured):
                self._llm = llama_cpp.Llama(
                    model_path=str(model_path),
                    n_ctx=n_ctx,
                    n_batch=n_batch,
                    n_ubatch=n_batch,
                    n_threads=threads,
                    n_threads_batch=threads,
                    flash_attn=flash_attn,
                    lora_path=str(lora_path) if lora_path else None,
                    verbose=True,
                )
                main_ctx = self._shifting_context(llama_cpp) if shift_kv else self._llm._ctx
                # A second context on the same weights for fixes and scoring: background work
                # must not evict the prompt the next keystroke will reuse.
                aux_params = type(self._llm.context_params).from_buffer_copy(
                    self._llm.context_params
                )
                aux_params.n_batch = aux_params.n_ubatch = AUX_BATCH
                aux_ctx = llama_cpp._internals.LlamaContext(
                    model=self._llm._model, params=aux_params, verbose=False
                )
                if lora_path:
                    # `Llama` sets its adapter only on the context it made.
                    adapter, scale = self._llm._lora_adapter, self._llm.lora_scale
                    set_adapter(llama_cpp, main_ctx, adapter, scale, lora_path)
                    set_adapter(llama_cpp, aux_ctx, adapter, scale, lora_path)
                edit_ctx = next_edit_context(
                    self._llm, llama_cpp, aux_ctx, aux_params, next_edit_lora_path
                )
        except Exception as exc:
            raise ModelError(f"cannot load model {model_path}: {exc}") from exc
        finally:
            llama_log.debug("%s", captured.getvalue())
        self._llm.verbose = False
        self.model_path = Path(model_path)
        self.lora_path = Path(lora_path) if lora_path else None
        self.next_edit_adapter = Path(next_edit_lora_path) if next_edit_lora_path else None
        self.model_name = model_name or self.model_path.stem
        self.n_ctx = n_ctx
        self.n_batch = n_batch
        model = self._llm._model
        self._add_bos = bool(model.add_bos_token())
        n_vocab = self._llm.n_vocab()
        self._main = KvSequence(main_ctx, n_ctx, n_batch, n_vocab, keep_states=True, shift=shift_kv)
        self._aux = KvSequence(aux_ctx, n_ctx, AUX_BATCH, n_vocab)
        self._edit = self._aux
        if edit_ctx is not aux_ctx:
            self._edit = KvSequence(edit_ctx, n_ctx, AUX_BATCH, n_vocab)
        self._control = np.array([self._is_control(t) for t in range(n_vocab)], dtype=bool)
        self._vocab = HealingVocab(self._piece, self._control)
        self._scored: tuple[list[int], list[float]] = ([], [])
        self.template = detect_template(self.is_single_token)
        self._chat_template = self._llm.metadata.get("tokenizer.chat_template")
        self._warm_up()
        self.load_seconds = time.perf_counter() - start
        log.info(
            "loaded %s in %.1fs (template %s, %d threads, n_ctx %d)",
            self.model_path,
            self.load_seconds,
            self.template.family,
            threads,
            n_ctx,
        )

    def _warm_up(self) -> None:
        """Run a prompt batch and a single token once, and index the vocabulary for healing:
        each costs about half a second the first time (llama.cpp allocating buffers and
        touching pages, every token decoded once), which would otherwise land on the first
        suggestion, when the user has just arrived."""
        tokens = self.tokenize("def warm_up(self):\n    return 1\n")
        self._main.decode(tokens)
        self._main.decode(tokens[:1])
        self._main.truncate(0)
        self._vocab.build()

    def _shifting_context(self, llama_cpp):
        """A context whose KV cache holds two sequences in one buffer, as moving cells needs;
        it replaces the one-sequence context `Llama` made, which is freed."""
        params = type(self._llm.context_params).from_buffer_copy(self._llm.context_params)
        params.n_seq_max = 2
        params.kv_unified = True
        ctx = llama_cpp._internals.LlamaContext(
            model=self._llm._model, params=params, verbose=False
        )
        self._llm._ctx.close()
        return ctx

    def tokenize(self, text: str) -> list[int]:
        return self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)

    def count_tokens(self, text: str) -> int:
        return len(self.tokenize(text)) if text else 0

    def is_single_token(self, marker: str) -> bool:
        tokens = self._llm.tokenize(marker.encode("utf-8"), add_bos=False, special=True)
        return len(tokens) == 1 and self._is_control(tokens[0])

    def prompt_tokens(self, prompt: Prompt) -> list[int]:
        """Each text segment tokenized on its own, as FIM training data was."""
        tokens: list[int] = [self._llm.token_bos()] if self._add_bos else []
        for segment in prompt.segments:
            if segment.special:
                ids = self._llm.tokenize(segment.text.encode("utf-8"), add_bos=False, special=True)
                tokens.extend(ids)
            else:
                tokens.extend(self.tokenize(segment.text))
        return tokens

    def _is_control(self, token: int) -> bool:
        return bool(self._llm._model.token_get_attr(token) & _TOKEN_ATTR_CONTROL)

    def _is_end(self, token: int) -> bool:
        return token == self._llm.token_eos() or bool(self._control[token])

    def _piece(self, token: int) -> str:
        return self._llm.detokenize([token]).decode("utf-8", "replace")

    def _draft_cursor(self, tokens: list[int], params: GenerationParams) -> DraftCursor | None:
        """Where a greedy generation drafts from: the text it was given, else its own prompt
        with lookup on; None for plain decoding."""
        if params.temperature > 0 or params.avoid:
            return None
        if params.draft:
            return DraftCursor(self.tokenize(params.draft))
        if params.lookup:
            return DraftCursor(tokens, at=None, near=len(tokens))
        return None

    def stream(
        self,
        prompt: Prompt,
        params: GenerationParams,
        cancelled: Callable[[], bool],
        stats: GenerationStats,
    ) -> Iterator[str]:
        tokens = self.prompt_tokens(prompt)
        stats.prompt_tokens = len(tokens)
        if not tokens:
            # A model with neither FIM markers nor BOS, on an empty file: nothing to go on, and
            # llama_decode given no tokens corrupts the heap instead of failing.
            stats.stop_reason = "empty prompt"
            return
        room = room_for(tokens, self.n_ctx)
        sequence = (
            self._edit if params.next_edit else self._aux if params.background else self._main
        )
        rng = np.random.default_rng(params.seed)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

        def pick(logits: np.ndarray, rest: str, shunned: str = "") -> tuple[int, float]:
            return choose(logits, params, rng, self._vocab.allowed(rest, shunned))

        def piece(token: int) -> str:
            return decoder.decode(self._llm.detokenize([token]))

        try:
            cursor = self._draft_cursor(tokens, params)
            if cursor is not None:
                yield from generate_drafted(
                    "llama.cpp",
                    params,
                    room,
                    cancelled,
                    stats,
                    cursor=cursor,
                    batch=min(DRAFT_BATCH, sequence.n_batch),
                    first_span=LOOKUP_SPAN if params.lookup and not params.draft else None,
                    prefill=lambda: sequence.prefill(tokens, cancelled, stats),
                    pick=pick,
                    is_end=self._is_end,
                    piece=piece,
                    advance=lambda batch: list(sequence.decode(batch, all_logits=True)),
                    rewind=lambda n: sequence.truncate(len(sequence.tokens) - n),
                )
                return
            yield from generate(
                "llama.cpp",
                params,
                room,
                cancelled,
                stats,
                prefill=lambda: sequence.prefill(tokens, cancelled, stats),
                pick=pick,
                is_end=self._is_end,
                piece=piece,
                advance=lambda token: sequence.decode([token])[-1],
            )
        finally:
            log.debug(
                "kv reuse %d/%d prompt tokens, %d moved, evaluated %d, generated %d (%s)",
                stats.reused_tokens,
                stats.prompt_tokens,
                stats.shifted_tokens,
                stats.evaluated_tokens,
                stats.generated_tokens,
                stats.stop_reason,
            )

    def score(self, text: str, cancelled: Callable[[], bool]) -> list[TokenScore] | None:
        tokens = self.tokenize(text)[: self.n_ctx]
        if len(tokens) < 2:
            return []
        sequence = self._aux
        # Log-probs of a prefix scored before (and still in the KV cache) are kept, so scoring
        # that was interrupted by a completion resumes where it stopped.
        memo_tokens, memo_logprobs = self._scored
        common = min(
            sequence.common_prefix(tokens), common_prefix(memo_tokens, tokens), len(tokens) - 1
        )
        # Decoding from `keep` yields the rows that predict tokens keep+1 onwards; the memo
        # must already hold the log-probs of tokens 1..keep.
        keep = min(common, len(memo_logprobs))
        logprobs = memo_logprobs[:keep]
        sequence.truncate(keep)
        for i in range(keep, len(tokens), sequence.n_batch):
            if cancelled():
                self._scored = (tokens[: len(sequence.tokens)], logprobs)
                return None
            chunk = tokens[i : i + sequence.n_batch]
            rows = log_softmax(sequence.decode(chunk, all_logits=True))
            following = tokens[i + 1 : i + 1 + len(chunk)]
            logprobs.extend(float(rows[j, t]) for j, t in enumerate(following))
        self._scored = (tokens, logprobs)
        return self._token_spans(tokens, logprobs)

    def _token_spans(self, tokens: list[int], logprobs: list[float]) -> list[TokenScore]:
        """Code-point spans of tokens[1:], paired with their log-probs."""
        scores: list[TokenScore] = []
        raw = b""
        chars = 0
        for index, token in enumerate(tokens):
            raw += self._llm.detokenize([token])
            text = raw.decode("utf-8", "ignore")
            end = len(text)
            if index > 0:
                scores.append(TokenScore(chars, max(end, chars), logprobs[index - 1]))
            chars = max(end, chars)
        return scores

    def chat_prompt(self, system: str, user: str) -> Prompt | None:
        if not self._chat_template:
            return None
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        formatter = Jinja2ChatFormatter(self._chat_template, eos_token="", bos_token="")
        return chat_template_prompt(
            lambda messages: formatter(messages=messages).prompt, system, user, self.template
        )

    def uncached_tokens(self, prompt: Prompt) -> int:
        tokens = self.prompt_tokens(prompt)
        return len(tokens) - self._main.held_prefix(tokens)

    def prepare(self, prompt: Prompt, cancelled: Callable[[], bool]) -> bool:
        tokens = self.prompt_tokens(prompt)
        if not tokens or len(tokens) >= self.n_ctx:
            return False
        stats = GenerationStats()
        done = self._main.prepare(tokens, cancelled, stats)
        log.debug("prepared %d prompt tokens (%d evaluated)", len(tokens), stats.evaluated_tokens)
        return done

    def refresh(self, cancelled: Callable[[], bool]) -> int:
        try:
            evaluated = self._main.refresh(cancelled)
        except Exception as exc:
            # Only an optimisation: the approximate cells keep serving.
            log.debug("could not refresh moved KV cells: %s", exc)
            return 0
        if evaluated:
            log.debug("refreshed %d moved prompt tokens", evaluated)
        return evaluated

    def close(self) -> None:
        if self._edit is not self._aux:
            self._edit.ctx.close()
        self._aux.ctx.close()
        if self._main.ctx is not self._llm._ctx:
            self._main.ctx.close()
        self._llm.close()
