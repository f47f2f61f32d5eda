"""Token ids of a training example, and which of them the loss is taken on.

The prompt is tokenized by the engine's own `prompt_tokens`, segment by segment and with its
markers as control tokens, so the ids are the ones the served model reads. Two sets of labels:
what the model generates (for a completion, the middle and the end marker after it; for a next
edit, the region rewritten and its closing marker), and the code the prompt
shows (its text segments, not its markers), which fill-in-the-middle pretraining also takes the
loss on and which holds most of an example's tokens of the workspace's code.
"""

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from lsp_server.completion.prompts import Prompt, Segment

from .errors import TuningError

IGNORE = -100  # the label transformers' loss skips


class PromptTokenizer(Protocol):
    def prompt_tokens(self, prompt: Prompt) -> list[int]: ...


class TrainingExample(Protocol):
    """A prompt and what the model should generate after it (a FimExample, a
    NextEditExample)."""

    @property
    def prompt(self) -> Prompt: ...

    @property
    def location(self) -> str: ...  # where it comes from, for messages

    def target_segments(self) -> tuple[Segment, ...]: ...


@dataclass(frozen=True)
class EncodedExample:
    input_ids: tuple[int, ...]
    labels: tuple[int, ...]  # IGNORE over the prompt, the token ids of the middle and end after
    # The prompt's code tokens, IGNORE over its markers and over the middle and end.
    context_labels: tuple[int, ...] = ()

    @property
    def target_tokens(self) -> int:
        return sum(1 for label in self.labels if label != IGNORE)

    @property
    def context_tokens(self) -> int:
        return sum(1 for label in self.context_labels if label != IGNORE)


def encode_example(example: TrainingExample, tokenizer: PromptTokenizer) -> EncodedExample:
    prompt_ids = tokenizer.prompt_tokens(example.prompt)
    whole = Prompt(
        (*example.prompt.segments, *example.target_segments()),
        example.prompt.stops,
        example.prompt.family,
        example.prompt.order,
    )
    ids = tokenizer.prompt_tokens(whole)
    # Segments are tokenized one by one, so the prompt's ids must lead the whole's unchanged.
    if ids[: len(prompt_ids)] != prompt_ids:
        raise TuningError(
            f"the tokenizer changed the prompt's tokens when the target was appended "
            f"({example.location}); its segments are not tokenized separately"
        )
    labels = [IGNORE] * len(prompt_ids) + ids[len(prompt_ids) :]
    code = _code_flags(example.prompt, tokenizer, len(prompt_ids))
    context = [i if is_code else IGNORE for i, is_code in zip(prompt_ids, code, strict=True)]
    context += [IGNORE] * (len(ids) - len(prompt_ids))
    return EncodedExample(tuple(ids), tuple(labels), tuple(context))


def _code_flags(prompt: Prompt, tokenizer: PromptTokenizer, expected: int) -> list[bool]:
    """Per prompt token, whether it comes from a text segment; the tokens an empty prompt has
    (a BOS) are not code."""
    lead = len(tokenizer.prompt_tokens(replace(prompt, segments=())))
    flags = [False] * lead
    for segment in prompt.segments:
        n = len(tokenizer.prompt_tokens(replace(prompt, segments=(segment,)))) - lead
        flags += [not segment.special] * n
    if len(flags) != expected:
        raise TuningError(
            f"the prompt's segments tokenized one by one give {len(flags)} tokens, "
            f"the whole prompt {expected}"
        )
    return flags


def encode_examples(
    examples: Sequence[TrainingExample], tokenizer: PromptTokenizer, max_tokens: int
) -> list[EncodedExample]:
    """The examples that fit `max_tokens` (the engine's context), encoded."""
    encoded = (encode_example(example, tokenizer) for example in examples)
    return [e for e in encoded if len(e.input_ids) <= max_tokens]
