"""An engine on ctransformers, for GGML files and GGUF files of the architectures it knows.

ctransformers bundles a llama.cpp from 2023: a GGUF of a newer architecture (qwen2, starcoder2,
gemma, ...) makes it fail without saying why, so the architecture the file declares is read from
its header first and refused with a message naming the engines that can run it. GGML files
declare nothing: their `model_type` must be given.
"""

import codecs
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..completion.prompts import Prompt, detect_template
from ..errors import EngineError, ModelError
from ..models import read_gguf_header
from .base import Engine, GenerationParams, GenerationStats, TokenScore
from .generation import generate, room_for
from .sampling import HealingVocab, choose, log_softmax

log = logging.getLogger(__name__)

# GGUF `general.architecture` values ctransformers' llama.cpp was written for.
GGUF_ARCHITECTURES = frozenset({"llama", "starcoder", "gpt2", "gptj", "gptneox", "falcon", "mpt"})
# ctransformers' names for the architectures of GGML files.
GGML_MODEL_TYPES = frozenset(
    {"gpt2", "gptj", "gpt_neox", "dolly-v2", "falcon", "llama", "mpt", "starcoder", "gpt_bigcode",
     "replit"}
)  # fmt: skip
PROMPT_BATCH = 32
# gguf token types that mark a token the tokenizer never produces from text.
_CONTROL_TYPES = (3, 4)  # control, user-defined


@dataclass(frozen=True)
class GgufVocab:
    """What a GGUF file says about its model before anything loads it."""

    architecture: str
    tokens: tuple[str, ...]
    control: tuple[bool, ...]


_VOCAB_ARRAYS = frozenset({"tokenizer.ggml.tokens", "tokenizer.ggml.token_type"})


def read_gguf_vocab(path: Path) -> GgufVocab | None:
    """Architecture and vocabulary of a GGUF file; None for a file in another format."""
    try:
        with path.open("rb") as file:
            if file.read(4) != b"GGUF":
                return None
        metadata = read_gguf_header(path, _VOCAB_ARRAYS).metadata
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read the GGUF metadata of {path}: {exc}") from exc
    architecture = metadata.get("general.architecture")
    if not isinstance(architecture, str):
        raise ModelError(f"{path} does not name its architecture (general.architecture)")
    tokens = tuple(metadata.get("tokenizer.ggml.tokens") or ())
    types = metadata.get("tokenizer.ggml.token_type") or [1] * len(tokens)
    return GgufVocab(architecture, tokens, tuple(t in _CONTROL_TYPES for t in types))


class CTransformersEngine(Engine):
    name = "ctransformers"
    avoids = True

    def __init__(
        self,
        model_path: Path,
        *,
        model_type: str | None = None,
        model_name: str | None = None,
        n_ctx: int = 2048,
        n_threads: int | None = None,
        n_batch: int = PROMPT_BATCH,
    ) -> None:
        path = Path(model_path)
        if not path.is_file():
            raise ModelError(f"model file not found: {path}")
        vocab = read_gguf_vocab(path)
        if vocab is not None:
            if vocab.architecture not in GGUF_ARCHITECTURES:
                raise EngineError(
                    f"{path.name}: architecture '{vocab.architecture}' is not supported by "
                    "ctransformers; engines that can run it: llama.cpp, transformers"
                )
            # ctransformers reads the architecture of a GGUF itself.
            model_type = None
        elif model_type not in GGML_MODEL_TYPES:
            raise EngineError(
                f"{path.name} is not a GGUF file, so ctransformers needs its model_type "
                f"(one of {', '.join(sorted(GGML_MODEL_TYPES))}); got {model_type!r}"
            )
        try:
            from ctransformers.llm import LLM, Config
        except ImportError as exc:
            raise EngineError(
                f"ctransformers is not installed ({exc}): pip install 'tide-lsp[ctransformers]'"
            ) from exc
        threads = n_threads or min(os.cpu_count() or 1, 8)
        config = Config(context_length=n_ctx, threads=threads, batch_size=n_batch)
        start = time.perf_counter()
        try:
            self._llm: Any = LLM(str(path), model_type, config=config)
        except (RuntimeError, ValueError) as exc:
            raise ModelError(
                f"ctransformers cannot load {path}: {exc} (its llama.cpp dates from 2023 and "
                "lacks features of newer GGUF files, such as tied output embeddings)"
            ) from exc
        self.load_seconds = time.perf_counter() - start
        self.model_path = path
        self.model_name = model_name or path.stem
        self.n_ctx = min(n_ctx, self._llm.context_length)
        self.n_batch = n_batch
        n_vocab = self._llm.vocab_size
        self._vocab = vocab
        self._control = np.zeros(n_vocab, dtype=bool)
        self._markers: dict[str, int] = {}
        if vocab is not None:
            for token, (text, control) in enumerate(zip(vocab.tokens, vocab.control, strict=True)):
                if control and token < n_vocab:
                    self._control[token] = True
                    self._markers.setdefault(text, token)
        self._add_bos = self._llm.model_type == "llama"
        self._healing = HealingVocab(
            lambda t: self._bytes(t).decode("utf-8", "replace"), self._control
        )
        self.template = detect_template(self.is_single_token)
        log.info(
            "loaded %s with ctransformers in %.1fs (%s, template %s)",
            path,
            self.load_seconds,
            self._llm.model_type,
            self.template.family,
        )

    def tokenize(self, text: str) -> list[int]:
        """Plain text: this llama.cpp never reads a control token out of text."""
        return list(self._llm.tokenize(text, add_bos_token=False)) if text else []

    def count_tokens(self, text: str) -> int:
        return len(self.tokenize(text))

    def is_single_token(self, marker: str) -> bool:
        return marker in self._markers

    def prompt_tokens(self, prompt: Prompt) -> list[int]:
        tokens: list[int] = [self._llm.bos_token_id] if self._add_bos else []
        for segment in prompt.segments:
            if segment.special:
                if segment.text not in self._markers:
                    raise EngineError(f"{self.model_name} has no control token {segment.text!r}")
                tokens.append(self._markers[segment.text])
            else:
                tokens.extend(self.tokenize(segment.text))
        return tokens

    def _bytes(self, token: int) -> bytes:
        return self._llm.ctransformers_llm_detokenize(token)

    def _logits(self) -> np.ndarray:
        llm = self._llm
        size = llm.ctransformers_llm_logits_size()
        return np.ctypeslib.as_array(llm.ctransformers_llm_logits_data(), shape=(size,)).copy()

    def _is_end(self, token: int) -> bool:
        return bool(self._control[token]) or self._llm.is_eos_token(token)

    def _prefill(
        self, tokens: list[int], cancelled: Callable[[], bool], stats: GenerationStats
    ) -> np.ndarray | None:
        """Evaluate what the context lacks of `tokens`; last logits, or None if cancelled."""
        # ctransformers keeps the longest common prefix (and always re-runs the last token).
        rest = list(self._llm.prepare_inputs_for_generation(tokens, reset=True))
        stats.reused_tokens = len(tokens) - len(rest)
        for i in range(0, len(rest), self.n_batch):
            if cancelled():
                return None
            chunk = rest[i : i + self.n_batch]
            self._llm.eval(chunk, batch_size=self.n_batch)
            stats.evaluated_tokens += len(chunk)
        return self._logits()

    def stream(
        self,
        prompt: Prompt,
        params: GenerationParams,
        cancelled: Callable[[], bool],
        stats: GenerationStats,
    ) -> Iterator[str]:
        tokens = self.prompt_tokens(prompt)
        stats.prompt_tokens = len(tokens)
        room = room_for(tokens, self.n_ctx)
        rng = np.random.default_rng(params.seed)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

        def pick(logits: np.ndarray, rest: str, shunned: str = "") -> tuple[int, float]:
            return choose(logits, params, rng, self._healing.allowed(rest, shunned))

        def advance(token: int) -> np.ndarray:
            self._llm.eval([token], batch_size=1)
            return self._logits()

        yield from generate(
            "ctransformers",
            params,
            room,
            cancelled,
            stats,
            prefill=lambda: self._prefill(tokens, cancelled, stats),
            pick=pick,
            is_end=self._is_end,
            piece=lambda token: decoder.decode(self._bytes(token)),
            advance=advance,
        )

    def score(self, text: str, cancelled: Callable[[], bool]) -> list[TokenScore] | None:
        tokens = self.tokenize(text)[: self.n_ctx]
        if len(tokens) < 2:
            return []
        llm = self._llm
        # ctransformers exposes only the last position's logits: one token per evaluation.
        llm.prepare_inputs_for_generation(tokens[:1], reset=True)
        logprobs: list[float] = []
        try:
            for index, token in enumerate(tokens[:-1]):
                if cancelled():
                    return None
                llm.eval([token], batch_size=1)
                logprobs.append(float(log_softmax(self._logits())[tokens[index + 1]]))
        except Exception as exc:
            raise EngineError(f"ctransformers failed while scoring: {exc}") from exc
        return self._token_spans(text, tokens, logprobs)

    def _token_spans(self, text: str, tokens: list[int], logprobs: list[float]) -> list[TokenScore]:
        """Code-point spans of tokens[1:], paired with their log-probs."""
        scores: list[TokenScore] = []
        raw = b""
        chars = 0
        # SentencePiece tokenizers read text with a space in front that the text does not have.
        full = b"".join(self._bytes(t) for t in tokens).decode("utf-8", "ignore")
        added = not text.startswith(full) and full.startswith(" ") and text.startswith(full[1:])
        lead = 1 if added else 0
        for index, token in enumerate(tokens):
            raw += self._bytes(token)
            end = max(len(raw.decode("utf-8", "ignore")) - lead, 0)
            if index > 0:
                scores.append(TokenScore(chars, max(end, chars), logprobs[index - 1]))
            chars = max(end, chars)
        return scores

    def chat_prompt(self, system: str, user: str) -> Prompt | None:
        return None

    def close(self) -> None:
        llm, self._llm = self._llm, None
        if llm is not None:
            llm.ctransformers_llm_delete()
            llm._llm = None  # its destructor would otherwise free the model a second time
