"""An engine on Hugging Face transformers: a model directory, a hub id, or a GGUF file.

It runs any architecture transformers knows, on CUDA when there is one; on CPU it is slower than
llama.cpp (a GGUF is dequantized to float32). As in the llama.cpp engine, each KV cache keeps the
tokens of the last prompt, and a new prompt re-runs only what follows their common prefix.
"""

import inspect
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..completion.prompts import Prompt, detect_template
from ..errors import EngineError, ModelError
from .base import Engine, GenerationParams, GenerationStats, TokenScore
from .chat import Messages, chat_template_prompt
from .generation import generate, room_for
from .reuse import common_prefix, evaluate_from
from .sampling import HealingVocab

log = logging.getLogger(__name__)

# Tokens per forward pass while a prompt is evaluated; also the unit of cancellation.
PROMPT_BATCH = 32


def _import_transformers() -> tuple[Any, Any]:
    try:
        import torch
        import transformers
    except ImportError as exc:
        raise EngineError(
            f"the transformers engine needs torch and transformers ({exc}): "
            "pip install 'tide-lsp[transformers]'"
        ) from exc
    return torch, transformers


def split_model_ref(model_ref: str | Path, gguf_file: str | None) -> tuple[str, str | None]:
    """What `from_pretrained` takes: a path to a .gguf file becomes its folder and file name."""
    path = Path(model_ref).expanduser()
    if gguf_file is None and path.suffix == ".gguf" and path.is_file():
        return str(path.parent), path.name
    return str(path) if path.exists() else str(model_ref), gguf_file


class _Sequence:
    """One KV cache and the tokens it holds, kept in step."""

    def __init__(self, model: Any, device: str, n_batch: int) -> None:
        self._torch, transformers = _import_transformers()
        from transformers.cache_utils import DynamicLayer

        self._model = model
        self._device = device
        self.n_batch = n_batch
        self._cache_class = transformers.DynamicCache
        self._config = model.config
        self._cache = self._new_cache()
        self.tokens: list[int] = []
        # Sliding-window and recurrent layers drop states a shorter prefix would need again.
        self._croppable = all(type(layer) is DynamicLayer for layer in self._cache.layers)
        accepted = inspect.signature(model.forward).parameters
        self._keep_arg = "logits_to_keep" in accepted
        # transformers renamed `past_key_values` to `cache` (5.x, the old name is deprecated).
        self._cache_arg = "cache" if "cache" in accepted else "past_key_values"

    def _new_cache(self) -> Any:
        return self._cache_class(config=self._config)

    def common_prefix(self, tokens: list[int]) -> int:
        return common_prefix(self.tokens, tokens) if self._croppable else 0

    def truncate(self, keep: int) -> None:
        if keep >= len(self.tokens):
            return
        if keep > 0 and self._croppable:
            self._cache.crop(keep - len(self.tokens))
        else:
            self._cache = self._new_cache()
        del self.tokens[keep:]

    def release(self) -> None:
        """Drop the cache and the model, so that closing the engine frees their memory."""
        self._cache = None
        self._model = None
        self.tokens = []

    def decode(self, tokens: list[int], all_logits: bool = False) -> Any:
        """Append tokens to the cache; float32 logits [rows, vocab] of each or only the last."""
        torch = self._torch
        input_ids = torch.tensor([tokens], device=self._device)  # [1, n]
        extra = {self._cache_arg: self._cache}
        if self._keep_arg:
            extra["logits_to_keep"] = 0 if all_logits else 1
        try:
            with torch.inference_mode():
                out = self._model(input_ids=input_ids, use_cache=True, **extra)
        except BaseException:
            # Some layers may have grown before the failure: the cache no longer matches.
            self._cache = self._new_cache()
            self.tokens = []
            raise
        self.tokens.extend(tokens)
        logits = out.logits[0].float()  # [n or 1, vocab]
        return logits if all_logits else logits[-1:]

    def prefill(
        self, tokens: list[int], cancelled: Callable[[], bool], stats: GenerationStats
    ) -> Any | None:
        """Bring the cache to `tokens`; the last token's logits, or None if cancelled first."""
        # The last token is always re-run so its logits are fresh for sampling.
        keep = min(self.common_prefix(tokens), len(tokens) - 1)
        self.truncate(keep)
        stats.reused_tokens = keep
        return evaluate_from(self.decode, tokens, keep, self.n_batch, cancelled, stats)


class _Detokenizer:
    """Text of generated tokens as it becomes final.

    Tokens are decoded after the prompt's last token and that token's own text is cut off, so
    tokenizers that drop a leading space at the start of a text keep it here; a trailing
    U+FFFD is an incomplete UTF-8 sequence and waits for the next token.
    """

    def __init__(self, tokenizer: Any, anchor: int | None) -> None:
        self._tokenizer = tokenizer
        self._ids = [] if anchor is None else [anchor]
        self._skip = len(self._decode())
        self._shown = 0

    def _decode(self) -> str:
        return self._tokenizer.decode(
            self._ids, skip_special_tokens=False, clean_up_tokenization_spaces=False
        )

    def push(self, token: int) -> str:
        self._ids.append(token)
        text = self._decode()[self._skip :]
        if text.endswith("\ufffd"):
            return ""
        piece = text[self._shown :]
        self._shown = len(text)
        return piece


def _with_adapter(model: Any, adapter_dir: Path) -> Any:
    """`model` with a peft LoRA adapter merged into its weights, so that serving it costs no
    more than the base; ModelError when peft is missing or the adapter does not fit."""
    try:
        import peft
    except ImportError as exc:
        raise ModelError(
            "loading a LoRA adapter with transformers needs peft: pip install 'tide-lsp[tune]'"
        ) from exc
    try:
        return peft.PeftModel.from_pretrained(model, str(adapter_dir)).merge_and_unload().eval()
    except Exception as exc:
        raise ModelError(f"cannot load the LoRA adapter {adapter_dir}: {exc}") from exc


class TransformersEngine(Engine):
    name = "transformers"
    avoids = True

    def __init__(
        self,
        model_ref: str | Path,
        *,
        gguf_file: str | None = None,
        device: str | None = None,
        trust_remote_code: bool = False,
        model_name: str | None = None,
        n_ctx: int = 2048,
        local_files_only: bool = False,
        n_batch: int = PROMPT_BATCH,
        adapter_dir: Path | None = None,
    ) -> None:
        torch, transformers = _import_transformers()
        self._torch = torch
        ref, gguf = split_model_ref(model_ref, gguf_file)
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        if self.device.startswith("cuda"):
            dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        else:
            dtype = torch.float32
        options: dict[str, Any] = {
            "trust_remote_code": trust_remote_code,
            "local_files_only": local_files_only,
        }
        if gguf:
            options["gguf_file"] = gguf
        label = f"{ref}/{gguf}" if gguf else ref
        start = time.perf_counter()
        try:
            self._tokenizer = transformers.AutoTokenizer.from_pretrained(ref, **options)
            model = transformers.AutoModelForCausalLM.from_pretrained(ref, dtype=dtype, **options)
            self._model = model.to(self.device).eval()
        except Exception as exc:
            raise ModelError(f"cannot load model {label} with transformers: {exc}") from exc
        self.adapter_dir = Path(adapter_dir) if adapter_dir else None
        if self.adapter_dir:
            self._model = _with_adapter(self._model, self.adapter_dir)
        self.load_seconds = time.perf_counter() - start
        self.model_name = model_name or Path(gguf or ref).stem
        config = self._model.config.get_text_config()
        self.n_ctx = min(n_ctx, getattr(config, "max_position_embeddings", None) or n_ctx)
        self.n_batch = n_batch
        n_vocab = self._model.get_output_embeddings().weight.shape[0]
        self._control = self._control_mask(n_vocab)
        self._add_bos = bool(getattr(self._tokenizer, "add_bos_token", False)) and (
            self._tokenizer.bos_token_id is not None
        )
        self._main = _Sequence(self._model, self.device, n_batch)
        # Fixes and scoring use their own cache: background work must not evict the prompt the
        # next keystroke will reuse.
        self._aux = _Sequence(self._model, self.device, n_batch)
        self._vocab = HealingVocab(lambda t: self._tokenizer.decode([t]), self._control)
        self.template = detect_template(self.is_single_token)
        log.info(
            "loaded %s with transformers in %.1fs (template %s, %s, %s)",
            label,
            self.load_seconds,
            self.template.family,
            self.device,
            dtype,
        )

    @property
    def model(self) -> Any:
        """The loaded torch module: `tide-lsp tune` adapts these very weights rather than load
        a second copy."""
        return self._model

    def _control_mask(self, n_vocab: int) -> np.ndarray:
        """Tokens that end a completion: special tokens and the model's end-of-generation ids."""
        control = np.zeros(n_vocab, dtype=bool)
        tokenizer = self._tokenizer
        special = [i for i, added in tokenizer.added_tokens_decoder.items() if added.special]
        eos = self._model.generation_config.eos_token_id
        eos_ids = eos if isinstance(eos, list) else [eos]
        for token in (*special, *tokenizer.all_special_ids, *eos_ids):
            if token is not None and 0 <= token < n_vocab:
                control[token] = True
        return control

    def tokenize(self, text: str) -> list[int]:
        """Plain text: a control marker spelled inside it stays plain text."""
        encoded = self._tokenizer(text, add_special_tokens=False, split_special_tokens=True)
        return list(encoded["input_ids"])

    def count_tokens(self, text: str) -> int:
        return len(self.tokenize(text)) if text else 0

    def is_single_token(self, marker: str) -> bool:
        tokens = self._tokenizer.encode(marker, add_special_tokens=False)
        return len(tokens) == 1 and bool(self._control[tokens[0]])

    def prompt_tokens(self, prompt: Prompt) -> list[int]:
        """Each text segment tokenized on its own, as FIM training data was."""
        tokens: list[int] = [self._tokenizer.bos_token_id] if self._add_bos else []
        for segment in prompt.segments:
            if segment.special:
                tokens.extend(self._tokenizer.encode(segment.text, add_special_tokens=False))
            else:
                tokens.extend(self.tokenize(segment.text))
        return tokens

    def _choose(
        self,
        logits: Any,
        params: GenerationParams,
        rng: np.random.Generator,
        rest: str,
        shunned: str,
    ) -> tuple[int, float]:
        torch = self._torch
        logprobs = torch.log_softmax(logits, dim=-1)  # [vocab]
        masked = logits
        mask = self._vocab.allowed(rest, shunned)
        if mask is not None:
            allowed = torch.from_numpy(mask).to(logits.device)
            masked = logits.masked_fill(~allowed, float("-inf"))
        if params.temperature <= 0:
            token = int(torch.argmax(masked))
        else:
            k = min(params.top_k, masked.shape[-1])
            top = torch.topk(masked, k)
            values = top.values.cpu().numpy()
            weights = np.exp((values - values.max()) / params.temperature)
            token = int(rng.choice(top.indices.cpu().numpy(), p=weights / weights.sum()))
        return token, float(logprobs[token])

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
        sequence = self._aux if params.background else self._main
        rng = np.random.default_rng(params.seed)
        detokenizer = _Detokenizer(self._tokenizer, tokens[-1] if tokens else None)
        yield from generate(
            "transformers",
            params,
            room,
            cancelled,
            stats,
            prefill=lambda: sequence.prefill(tokens, cancelled, stats),
            pick=lambda logits, rest, shunned: self._choose(logits, params, rng, rest, shunned),
            is_end=lambda token: bool(self._control[token]),
            piece=detokenizer.push,
            advance=lambda token: sequence.decode([token])[-1],
        )

    def score(self, text: str, cancelled: Callable[[], bool]) -> list[TokenScore] | None:
        encoded = self._tokenizer(
            text, add_special_tokens=False, split_special_tokens=True, return_offsets_mapping=True
        )
        tokens = list(encoded["input_ids"])[: self.n_ctx]
        offsets = encoded["offset_mapping"]
        if len(tokens) < 2:
            return []
        torch = self._torch
        # A cache of its own: scoring runs from the start and leaves both sequences intact.
        sequence = _Sequence(self._model, self.device, self.n_batch)
        logprobs: list[float] = []
        try:
            for i in range(0, len(tokens), self.n_batch):
                if cancelled():
                    return None
                chunk = tokens[i : i + self.n_batch]
                rows = torch.log_softmax(sequence.decode(chunk, all_logits=True), dim=-1)
                following = torch.tensor(tokens[i + 1 : i + 1 + len(chunk)], device=rows.device)
                picked = rows[torch.arange(len(following), device=rows.device), following]
                logprobs.extend(picked.tolist())
        except Exception as exc:
            raise EngineError(f"transformers failed while scoring: {exc}") from exc
        return [
            TokenScore(offsets[j][0], offsets[j][1], logprobs[j - 1]) for j in range(1, len(tokens))
        ]

    def chat_prompt(self, system: str, user: str) -> Prompt | None:
        tokenizer = self._tokenizer
        if not getattr(tokenizer, "chat_template", None):
            return None

        def render(messages: Messages) -> str:
            rendered = tokenizer.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=True
            )
            # Tokenizing adds the BOS itself; the template's own would make two.
            if self._add_bos and tokenizer.bos_token:
                rendered = rendered.removeprefix(tokenizer.bos_token)
            return rendered

        return chat_template_prompt(render, system, user, self.template)

    def close(self) -> None:
        self._main.release()
        self._aux.release()
        self._model = None
        if self.device.startswith("cuda"):
            self._torch.cuda.empty_cache()
