"""The one interface every inference engine offers; engines know nothing of LSP or documents."""

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ..completion.prompts import Prompt, Template


@dataclass(frozen=True)
class GenerationParams:
    max_tokens: int = 64
    temperature: float = 0.0  # 0 is greedy
    top_k: int = 40
    seed: int = 0
    # Token healing: the completion must begin with this text (the partial word the prompt was
    # backed off by); the engine only picks tokens consistent with it until it is produced.
    heal: str = ""
    # Background work (fixes, scoring) runs on a second KV sequence, so the completion cache
    # survives it.
    background: bool = False
    # Text the completion probably repeats most of (the region a next-edit rewrite starts
    # from): an engine may verify it in batches, speculatively, to go faster; what it yields is
    # the same as without it. Only greedy generation without healing uses it.
    draft: str = ""
    # Prompt lookup: the completion drafts from its own prompt, where code repeats its names
    # and lines (found by the output's last few tokens), verified as `draft` is.
    lookup: bool = False
    # A next-edit rewrite: it runs under the engine's next-edit LoRA adapter (the base model
    # alone when there is none), never under the completion adapter, and the other way round.
    next_edit: bool = False
    # Text the completion must not begin with: while it follows this text, no token that would
    # complete it is picked (the next-best answer after one that was thrown away). Honoured
    # where the engine says so (`Engine.avoids`), by plain greedy decoding.
    avoid: str = ""


@dataclass
class GenerationStats:
    """What one generation cost; filled in by the engine as it goes."""

    prompt_tokens: int = 0
    reused_tokens: int = 0  # prompt tokens whose KV entries were kept from the last request
    evaluated_tokens: int = 0  # prompt tokens actually run through the model
    shifted_tokens: int = 0  # prompt tokens whose KV entries were moved, not re-evaluated
    generated_tokens: int = 0
    prompt_ms: float = 0.0
    generate_ms: float = 0.0
    stop_reason: str = ""  # eos, length, cancelled, or done (the consumer stopped reading)
    logprob: float = 0.0  # sum of the model's log-probabilities of the generated tokens


@dataclass(frozen=True)
class TokenScore:
    """The model's log-probability of one token of a text; offsets are code points."""

    start: int
    end: int
    logprob: float


class Engine(ABC):
    """Load once, then tokenize, stream completions and score text; one caller at a time."""

    name: str
    model_name: str
    template: Template
    n_ctx: int  # tokens the engine holds: prompt and completion together
    # The LoRA adapter next-edit generations run under (GenerationParams.next_edit); None for
    # none, and always None on engines that cannot keep one apart from the completion adapter.
    next_edit_adapter: Path | None = None
    # Whether `stream` honours GenerationParams.avoid (it picks its own tokens).
    avoids: bool = False

    @abstractmethod
    def count_tokens(self, text: str) -> int: ...

    @abstractmethod
    def is_single_token(self, marker: str) -> bool: ...

    @abstractmethod
    def stream(
        self,
        prompt: Prompt,
        params: GenerationParams,
        cancelled: Callable[[], bool],
        stats: GenerationStats,
    ) -> Iterator[str]:
        """Yield the completion as text pieces, never a special token.

        Stops by itself at an end-of-generation or control token, at `params.max_tokens`, or
        when `cancelled()` turns true (checked before every model call); the caller may stop
        reading at any time. `stats` is updated in place.
        """

    @abstractmethod
    def score(self, text: str, cancelled: Callable[[], bool]) -> list[TokenScore] | None:
        """Log-probabilities of each token of `text` read left to right; None if cancelled.

        The first token has no context and is left out.
        """

    @abstractmethod
    def chat_prompt(self, system: str, user: str) -> Prompt | None:
        """A prompt in the model's own chat format, or None when the model has none."""

    def uncached_tokens(self, prompt: Prompt) -> int:
        """The tokens of `prompt` a `stream` would evaluate before its first token: all of
        them on an engine that keeps no cache between calls."""
        return self.count_tokens(prompt.text)

    def prepare(self, prompt: Prompt, cancelled: Callable[[], bool]) -> bool:
        """Evaluate `prompt` in idle time, keeping what the cache held before restorable, so
        that a later `stream` of a prompt that begins with it starts at once; whether it was
        evaluated whole (False also when the engine keeps no cache to prepare)."""
        return False

    def refresh(self, cancelled: Callable[[], bool]) -> int:
        """Recompute, in idle time, KV entries a previous prompt reused approximately; how
        many tokens that evaluated (0 when there was nothing to do or it was cancelled)."""
        return 0

    def check(self) -> None:
        """Raise EngineError if the engine cannot serve now; an engine in this process always
        can, a server may have gone away."""
        return None

    @abstractmethod
    def close(self) -> None: ...
