"""The default engine: a GGUF model run in process by llama-cpp-python.

The KV cache is the product: consecutive prompts share their longest common token prefix, so a
keystroke re-evaluates only what changed after it. The prompt is evaluated in small chunks with a
cancellation check between them; whatever a cancelled request evaluated stays in the cache and
serves the next request, which almost always shares that prefix.
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

from ..errors import EngineError, ModelError
from ..prompts import Prompt, detect_template
from .base import Engine, GenerationParams, GenerationStats

log = logging.getLogger(__name__)
llama_log = logging.getLogger("tide.llama_cpp")

# The batch is also the unit of cancellation while a prompt is evaluated (~0.5 s on two laptop
# cores), and llama.cpp sizes its compute buffer by it: 256 costs 151 MiB, 32 about 20.
PROMPT_BATCH = 32

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


def fault_after_tokens() -> int | None:
    """Tokens after which to fail on purpose, from TIDE_FAULT=engine-raise-after:N.

    This is how the end-to-end tests prove that an engine failing mid-generation gives the
    editor a clear error while the server stays up; it is read on every generation.
    """
    spec = os.environ.get("TIDE_FAULT", "")
    if spec.startswith("engine-raise-after:"):
        return int(spec.split(":", 1)[1])
    return None


class LlamaCppEngine(Engine):
    name = "llama.cpp"

    def __init__(
        self,
        model_path: Path,
        *,
        model_name: str | None = None,
        n_ctx: int = 2048,
        n_threads: int | None = None,
        n_batch: int = PROMPT_BATCH,
        flash_attn: bool = False,
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
                    verbose=True,
                )
        except Exception as exc:
            raise ModelError(f"cannot load model {model_path}: {exc}") from exc
        finally:
            llama_log.debug("%s", captured.getvalue())
        self._llm.verbose = False
        self.model_path = Path(model_path)
        self.model_name = model_name or self.model_path.stem
        self.n_ctx = n_ctx
        self.n_batch = n_batch
        self.load_seconds = time.perf_counter() - start
        self._add_bos = bool(self._llm._model.add_bos_token())
        self.template = detect_template(self.is_single_token)
        log.info(
            "loaded %s in %.1fs (template %s, %d threads, n_ctx %d)",
            self.model_path,
            self.load_seconds,
            self.template.family,
            threads,
            n_ctx,
        )

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
                if len(ids) != 1:
                    raise EngineError(f"marker {segment.text!r} is not one token in this model")
                tokens.extend(ids)
            else:
                tokens.extend(self.tokenize(segment.text))
        return tokens

    def _is_control(self, token: int) -> bool:
        return bool(self._llm._model.token_get_attr(token) & _TOKEN_ATTR_CONTROL)

    def _is_end(self, token: int) -> bool:
        return token == self._llm.token_eos() or self._is_control(token)

    def _prefill(
        self, tokens: list[int], cancelled: Callable[[], bool], stats: GenerationStats
    ) -> bool:
        """Evaluate what the cache lacks; False if cancelled first."""
        llm = self._llm
        cached = llm.input_ids[: llm.n_tokens].tolist()
        common = 0
        for a, b in zip(cached, tokens, strict=False):
            if a != b:
                break
            common += 1
        # The last prompt token is always re-run so its logits are fresh for sampling.
        keep = min(common, len(tokens) - 1)
        llm.n_tokens = keep
        stats.reused_tokens = keep
        step = self.n_batch
        for i in range(keep, len(tokens) - 1, step):
            if cancelled():
                return False
            chunk = tokens[i : min(i + step, len(tokens) - 1)]
            llm.eval(chunk)
            stats.evaluated_tokens += len(chunk)
        return not cancelled()

    def stream(
        self,
        prompt: Prompt,
        params: GenerationParams,
        cancelled: Callable[[], bool],
        stats: GenerationStats,
    ) -> Iterator[str]:
        tokens = self.prompt_tokens(prompt)
        stats.prompt_tokens = len(tokens)
        room = self.n_ctx - len(tokens)
        if room <= 1:
            raise EngineError(
                f"prompt of {len(tokens)} tokens does not fit the context of {self.n_ctx}"
            )
        fault_at = fault_after_tokens()
        start = time.perf_counter()
        try:
            if not self._prefill(tokens, cancelled, stats):
                stats.stop_reason = "cancelled"
                return
            decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
            generated = self._llm.generate(
                tokens, temp=params.temperature, top_k=1 if params.temperature == 0 else 40
            )
            first = True
            for token in generated:
                if first:
                    stats.evaluated_tokens += 1
                    stats.prompt_ms = (time.perf_counter() - start) * 1000
                    first = False
                if self._is_end(token):
                    stats.stop_reason = "eos"
                    return
                stats.generated_tokens += 1
                if fault_at is not None and stats.generated_tokens > fault_at:
                    raise EngineError("injected engine fault (TIDE_FAULT)")
                piece = decoder.decode(self._llm.detokenize([token]))
                if piece:
                    yield piece
                if stats.generated_tokens >= min(params.max_tokens, room - 1):
                    stats.stop_reason = "length"
                    return
                if cancelled():
                    stats.stop_reason = "cancelled"
                    return
            stats.stop_reason = "eos"
        except EngineError:
            raise
        except Exception as exc:
            raise EngineError(f"llama.cpp failed while generating: {exc}") from exc
        finally:
            if not stats.stop_reason:
                stats.stop_reason = "done"
            total = (time.perf_counter() - start) * 1000
            stats.generate_ms = total - stats.prompt_ms
            log.debug(
                "kv reuse %d/%d prompt tokens, evaluated %d, generated %d (%s)",
                stats.reused_tokens,
                stats.prompt_tokens,
                stats.evaluated_tokens,
                stats.generated_tokens,
                stats.stop_reason,
            )

    def close(self) -> None:
        self._llm.close()
