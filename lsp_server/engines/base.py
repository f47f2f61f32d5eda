"""The one interface every inference engine offers; engines know nothing of LSP or documents."""

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ..prompts import Prompt, Template


@dataclass(frozen=True)
class GenerationParams:
    max_tokens: int = 64
    temperature: float = 0.0
    seed: int = 0


@dataclass
class GenerationStats:
    """What one generation cost; filled in by the engine as it goes."""

    prompt_tokens: int = 0
    reused_tokens: int = 0  # prompt tokens whose KV entries were kept from the last request
    evaluated_tokens: int = 0  # prompt tokens actually run through the model
    generated_tokens: int = 0
    prompt_ms: float = 0.0
    generate_ms: float = 0.0
    stop_reason: str = ""  # eos, length, cancelled, or done (the consumer stopped reading)


class Engine(ABC):
    """Load once, then tokenize and stream completions; one caller at a time."""

    name: str
    model_name: str
    template: Template
    n_ctx: int  # tokens the engine holds: prompt and completion together

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
    def close(self) -> None: ...
