"""Token ids of a training example, and which of them the loss is taken on.

The prompt is tokenized by the engine's own `prompt_tokens`, segment by segment and with its
markers as control tokens, so the ids are the ones the served model reads. The loss covers only
what the model generates: the middle and the end marker after it.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from lsp_server.prompts import Prompt, Segment

from .errors import TuningError
from .examples import FimExample

IGNORE = -100  # the label transformers' loss skips


class PromptTokenizer(Protocol):
    def prompt_tokens(self, prompt: Prompt) -> list[int]: ...


@dataclass(frozen=True)
class EncodedExample:
    input_ids: tuple[int, ...]
    labels: tuple[int, ...]  # IGNORE over the prompt, the token ids of the middle and end after

    @property
    def target_tokens(self) -> int:
        return sum(1 for label in self.labels if label != IGNORE)


def encode_example(example: FimExample, tokenizer: PromptTokenizer) -> EncodedExample:
    prompt_ids = tokenizer.prompt_tokens(example.prompt)
    whole = Prompt(
        (*example.prompt.segments, Segment(example.middle), Segment(example.end, special=True)),
        example.prompt.stops,
        example.prompt.family,
        example.prompt.order,
    )
    ids = tokenizer.prompt_tokens(whole)
    # Segments are tokenized one by one, so the prompt's ids must lead the whole's unchanged.
    if ids[: len(prompt_ids)] != prompt_ids:
        raise TuningError(
            f"the tokenizer changed the prompt's tokens when the middle was appended "
            f"({example.path}:{example.line + 1}); its segments are not tokenized separately"
        )
    labels = [IGNORE] * len(prompt_ids) + ids[len(prompt_ids) :]
    return EncodedExample(tuple(ids), tuple(labels))


def encode_examples(
    examples: Sequence[FimExample], tokenizer: PromptTokenizer, max_tokens: int
) -> list[EncodedExample]:
    """The examples that fit `max_tokens` (the engine's context), encoded."""
    encoded = (encode_example(example, tokenizer) for example in examples)
    return [e for e in encoded if len(e.input_ids) <= max_tokens]
