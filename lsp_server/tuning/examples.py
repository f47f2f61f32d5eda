"""Fill-in-the-middle training examples cut from a workspace's own files.

Each example is what the served model would see if the user stopped typing just before a span
of the file: the span is taken out of the text, the prompt is built from what is left exactly as
a completion builds it (the same window around the cursor, the same token healing, the same
template through `build_prompt`), and the target is the text the model would then have to
generate, followed by the marker that ends a completion. That includes the other files'
code a completion shows ahead of the window (definitions from the files the document imports,
in the repository layout), gathered by the server's own `ContextGatherer` over the workspace:
trained without it, an adapter meets a layout it never saw on most completions.

Spans start where completions start: at a line's indentation (the user starts a new line; up to
a few lines, as after a block opener) or after a space or punctuation inside a line (the rest of
that line). They always end at a line's end. Choices come from a random generator seeded with
the seed and the file's path, so a file yields the same examples whatever else changes.
"""

import random
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from lsp_server.completion.edit import LINE_BREAK, line_around
from lsp_server.completion.healing import heal_word
from lsp_server.completion.prompts import ContextFile, Prompt, Segment, Template, build_prompt
from lsp_server.completion.window import LineTokenCounter, cursor_window
from lsp_server.config import DEFAULTS, apply_settings
from lsp_server.context.assemble import ContextGatherer, ContextRequest
from lsp_server.context.workspace import WorkspaceIndex
from lsp_server.text.languages import language_for

from .errors import NoUsableFilesError, TuningError
from .files import SourceFile, TrainingFiles

T = TypeVar("T")

# Characters after which a completion inside a line naturally starts.
_BREAKS = frozenset(" \t([{,=:.")


@dataclass(frozen=True)
class ExampleSettings:
    # Tokens of prefix + suffix and the suffix's share, as completions use them by default.
    context_budget: int = DEFAULTS.context_budget
    suffix_share: float = DEFAULTS.suffix_share
    cross_file_budget: int = DEFAULTS.cross_file_budget  # tokens of other files' code
    # The longest middle worth learning: completions stop generating there.
    max_middle_tokens: int = DEFAULTS.max_tokens
    max_middle_lines: int = 3
    lines_per_example: int = 12  # one middle per this many lines of a file
    max_examples_per_file: int = 64
    # More than a run of hundreds of steps can use; a large workspace is sampled down to this
    # so that tokenizing examples never takes longer than training on them.
    max_examples: int = 5_000
    seed: int = 0

    def check(self) -> None:
        """Raise TuningError naming the first bad setting, by the server's own bounds for the
        settings completions use (an example must fit what a completion may show)."""
        _, problems = apply_settings(
            DEFAULTS,
            {
                "contextBudget": self.context_budget,
                "suffixShare": self.suffix_share,
                "crossFileBudget": self.cross_file_budget,
                "maxTokens": self.max_middle_tokens,
            },
        )
        if problems:
            raise TuningError(f"bad example settings: {problems[0]}")


@dataclass(frozen=True)
class FimExample:
    path: str
    line: int  # 0-based line the span starts on
    prefix: str  # the text before the cursor as the prompt shows it (after token healing)
    middle: str  # what the model should generate: the healed text, then the span
    suffix: str
    prompt: Prompt
    end: str  # the marker that ends a completion, generated after the middle

    @property
    def location(self) -> str:
        return f"{self.path}:{self.line + 1}"

    def target_segments(self) -> tuple[Segment, ...]:
        """What the model learns to generate after the prompt."""
        return Segment(self.middle), Segment(self.end, special=True)


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


class CrossFileContext:
    """The other files' code a completion in the workspace shows, gathered as the server gathers
    it (no open buffers or recent edits here). Held-out files are never shown, so no training
    prompt carries code the adapter is then measured on."""

    def __init__(
        self,
        root: Path,
        held_out: Collection[str],
        budget: int,
        count_tokens: Callable[[str], int],
    ) -> None:
        index = WorkspaceIndex(root)
        while not index.index_some(1.0):
            pass
        self.root = index.root
        self._gatherer = ContextGatherer(index)
        self._held_out = frozenset(held_out)
        self._budget = budget
        self._count_tokens = count_tokens

    def files_for(self, path: str, document: str, cursor: int, visible: str) -> list[ContextFile]:
        request = ContextRequest(
            (self.root / path).as_uri(), document, cursor, visible, language_for(path=path)
        )
        files = self._gatherer.gather_context(request, self._budget, self._count_tokens)
        return [f for f in files if f.path not in self._held_out]


def file_examples(
    file: SourceFile,
    template: Template,
    count_line: Callable[[str], int],
    settings: ExampleSettings,
    context: CrossFileContext | None = None,
) -> list[FimExample]:
    """The examples of one file; `count_line` counts a line's tokens (a LineTokenCounter);
    `context`, when given, adds the other files' code as completions show it."""
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
        example = _example(
            file.path, text, line, start, stop, template, end, count_line, settings, context
        )
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
    context: CrossFileContext | None,
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
    visible = window.prefix + window.suffix
    files = context.files_for(path, document, start, visible) if context is not None else []
    language = language_for(path=path)
    prompt = build_prompt(
        template,
        prefix,
        window.suffix,
        files=files,
        path=path,
        repo=context.root.name if context is not None else "",
        line_comment=language.line_comment if language else None,
    )
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
    context = None
    if settings.cross_file_budget > 0:
        held_out = [f.path for f in files.held_out]
        context = CrossFileContext(files.root, held_out, settings.cross_file_budget, count_tokens)

    def cut(file: SourceFile) -> list[FimExample]:
        return file_examples(file, template, count_line, settings, context)

    train = [e for f in files.train for e in cut(f)]
    held = [e for f in files.held_out for e in cut(f)]
    if not train:
        raise NoUsableFilesError(
            f"no usable files to tune on in {files.root}: none of its {len(files.train)} files "
            f"has a span of at most {settings.max_middle_tokens} tokens to learn"
        )
    limit, seed = settings.max_examples, settings.seed
    return ExampleSet(files, seeded_sample(train, limit, seed), seeded_sample(held, limit, seed))


def seeded_sample(items: Sequence[T], limit: int, seed: int) -> tuple[T, ...]:
    """At most `limit` of the items, chosen by the seed alone, in their own order."""
    if len(items) <= limit:
        return tuple(items)
    chosen = random.Random(seed).sample(range(len(items)), limit)
    return tuple(items[i] for i in sorted(chosen))
