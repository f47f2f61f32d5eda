"""Fill-in-the-middle training examples cut from a workspace's own files.

Each example is what the served model would see if the user stopped typing just before a span
of the file: the span is taken out of the text, the prompt is built from what is left exactly as
a completion builds it (the same window around the cursor, the same token healing, the same
template through `build_prompt`), and the target is the text the model would then have to
generate, followed by the marker that ends a completion. Training on anything else would teach
the adapter a layout it never meets when serving.

Spans start where completions start: at a line's indentation (the user starts a new line; up to
a few lines, as after a block opener) or after a space or punctuation inside a line (the rest of
that line). They always end at a line's end. Choices come from a random generator seeded with
the seed and the file's path, so a file yields the same examples whatever else changes.
"""

import random
from collections.abc import Callable
from dataclasses import dataclass

from lsp_server.completion import heal_word
from lsp_server.config import DEFAULTS
from lsp_server.context.window import LineTokenCounter, cursor_window
from lsp_server.postprocess import LINE_BREAK, line_around
from lsp_server.prompts import Prompt, Template, build_prompt

from .errors import NoUsableFilesError, TuningError
from .files import SourceFile, TrainingFiles

# Characters after which a completion inside a line naturally starts.
_BREAKS = frozenset(" \t([{,=:.")


@dataclass(frozen=True)
class ExampleSettings:
    # Tokens of prefix + suffix and the suffix's share, as completions use them by default.
    context_budget: int = DEFAULTS.context_budget
    suffix_share: float = DEFAULTS.suffix_share
    # The longest middle worth learning: completions stop generating there.
    max_middle_tokens: int = DEFAULTS.max_tokens
    max_middle_lines: int = 3
    lines_per_example: int = 12  # one middle per this many lines of a file
    max_examples_per_file: int = 64
    # More than a run of hundreds of steps can use; a large workspace is sampled down to this
    # so that tokenizing examples never takes longer than training on them.
    max_examples: int = 5_000
    seed: int = 0


@dataclass(frozen=True)
class FimExample:
    path: str
    line: int  # 0-based line the span starts on
    prefix: str  # the text before the cursor as the prompt shows it (after token healing)
    middle: str  # what the model should generate: the healed text, then the span
    suffix: str
    prompt: Prompt
    end: str  # the marker that ends a completion, generated after the middle


@dataclass(frozen=True)
class ExampleSet:
    files: TrainingFiles
    train: tuple[FimExample, ...]
    held_out: tuple[FimExample, ...]


def end_marker(template: Template) -> str:
    """The token a completion ends with: the first of the family's stops, which is the token
    its FIM training data ends a middle with (<|endoftext|> for Qwen2.5-Coder)."""
    if template.order == "l2r" or not template.stops:
        raise TuningError(
            f"the base model has no fill-in-the-middle template (family {template.family}); "
            "tuning needs a FIM code model such as Qwen2.5-Coder"
        )
    return template.stops[0]


def file_examples(
    file: SourceFile,
    template: Template,
    count_line: Callable[[str], int],
    settings: ExampleSettings,
) -> list[FimExample]:
    """The examples of one file; `count_line` counts a line's tokens (a LineTokenCounter)."""
    end = end_marker(template)
    text = file.text
    starts = [0] + [m.end() for m in LINE_BREAK.finditer(text)]
    ends = [m.start() for m in LINE_BREAK.finditer(text)] + [len(text)]
    if starts[-1] == len(text):  # a final line break opens no line
        starts.pop()
        ends.pop()
    candidates = [i for i in range(len(starts)) if text[starts[i] : ends[i]].strip()]
    rng = random.Random(f"{settings.seed}:{file.path}")
    wanted = len(starts) // settings.lines_per_example
    count = min(max(wanted, 1), settings.max_examples_per_file, len(candidates))
    examples: list[FimExample] = []
    for line in sorted(rng.sample(candidates, count)):
        content = text[starts[line] : ends[line]]
        indent = len(content) - len(content.lstrip())
        inside = [
            j
            for j in range(indent + 1, len(content))
            if content[j - 1] in _BREAKS and content[j:].strip()
        ]
        if inside and rng.random() < 0.5:
            column, last = rng.choice(inside), line
        else:
            last = min(line + rng.randint(1, settings.max_middle_lines) - 1, len(starts) - 1)
            while not text[starts[last] : ends[last]].strip():
                last -= 1  # a middle ends on code, not on the blank lines after it
            column = indent
        start, stop = starts[line] + column, ends[last]
        example = _example(file.path, text, line, start, stop, template, end, count_line, settings)
        if example is not None:
            examples.append(example)
    return examples


def _example(
    path: str,
    text: str,
    line: int,
    start: int,
    stop: int,
    template: Template,
    end: str,
    count_line: Callable[[str], int],
    settings: ExampleSettings,
) -> FimExample | None:
    span = text[start:stop]
    # The document as it was before the user typed the span, the cursor where it starts.
    document = text[:start] + text[stop:]
    window = cursor_window(
        document, start, settings.context_budget, count_line, suffix_share=settings.suffix_share
    )
    heal = heal_word(*line_around(document, start))
    kept = len(window.prefix) - len(heal)
    prefix = window.prefix[:kept]
    middle = window.prefix[kept:] + span
    if count_line(middle) > settings.max_middle_tokens:
        return None
    prompt = build_prompt(template, prefix, window.suffix)
    return FimExample(path, line, prefix, middle, window.suffix, prompt, end)


def workspace_examples(
    files: TrainingFiles,
    template: Template,
    count_tokens: Callable[[str], int],
    settings: ExampleSettings | None = None,
) -> ExampleSet:
    """The examples of the training files and of the held-out ones; NoUsableFilesError when
    no training file has a span to learn."""
    settings = settings or ExampleSettings()
    count_line = LineTokenCounter(count_tokens)
    train = [e for f in files.train for e in file_examples(f, template, count_line, settings)]
    held = [e for f in files.held_out for e in file_examples(f, template, count_line, settings)]
    if not train:
        raise NoUsableFilesError(
            f"no usable files to tune on in {files.root}: none of its {len(files.train)} files "
            f"has a span of at most {settings.max_middle_tokens} tokens to learn"
        )
    return ExampleSet(files, _sample(train, settings), _sample(held, settings))


def _sample(examples: list[FimExample], settings: ExampleSettings) -> tuple[FimExample, ...]:
    if len(examples) <= settings.max_examples:
        return tuple(examples)
    chosen = random.Random(settings.seed).sample(range(len(examples)), settings.max_examples)
    return tuple(examples[i] for i in sorted(chosen))
