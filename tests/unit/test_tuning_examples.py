"""Tests for lsp_server.tuning.examples and .encoding: FIM examples laid out as completions are."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from lsp_server.completion.prompts import (
    LEFT_TO_RIGHT,
    Prompt,
    Segment,
    build_prompt,
    template_for_family,
)
from lsp_server.tuning.encoding import IGNORE, encode_example, encode_examples
from lsp_server.tuning.errors import NoUsableFilesError, TuningError
from lsp_server.tuning.examples import (
    ExampleSettings,
    FimExample,
    end_marker,
    file_examples,
    workspace_examples,
)
from lsp_server.tuning.files import SourceFile, is_held_out, training_files

QWEN = template_for_family("qwen2.5-coder")
SOURCE = '''"""Shapes and their areas."""

import math


class Circle:
    def __init__(self, radius: float) -> None:
        self.radius = radius

    def area(self) -> float:
        return math.pi * self.radius**2

    def scaled(self, factor: float) -> "Circle":
        return Circle(self.radius * factor)


def total_area(shapes: list[Circle]) -> float:
    total = 0.0
    for shape in shapes:
        total += shape.area()
    return total
'''


def chars(text: str) -> int:
    """One token per character: budgets become character counts."""
    return len(text)


class CharTokenizer:
    """Plain text one id per character, each marker one id of its own, as the engines keep
    markers whole and tokenize segments separately."""

    MARKERS = {"<|fim_prefix|>": 1001, "<|fim_suffix|>": 1002, "<|fim_middle|>": 1003}
    END = 1004

    def prompt_tokens(self, prompt: Prompt) -> list[int]:
        ids: list[int] = []
        for segment in prompt.segments:
            if segment.special:
                ids.append(self.MARKERS.get(segment.text, self.END))
            else:
                ids.extend(ord(c) for c in segment.text)
        return ids


def examples(seed: int = 0, **settings) -> list:
    options = {"context_budget": 120, "lines_per_example": 2, "seed": seed, **settings}
    return file_examples(SourceFile("shapes.py", SOURCE), QWEN, chars, ExampleSettings(**options))


def test_examples_are_laid_out_as_completion_prompts_are() -> None:
    found = examples()
    assert len(found) >= 8
    for example in found:
        # The very prompt a completion builds from the same prefix and suffix (SPM for Qwen).
        assert example.prompt == build_prompt(QWEN, example.prefix, example.suffix)
        assert example.prompt.segments[:2] == (
            Segment("<|fim_prefix|>", True),
            Segment("<|fim_suffix|>", True),
        )
        assert example.prompt.text.endswith("<|fim_middle|>" + example.prefix)
        assert example.end == "<|endoftext|>"
        # Prefix, middle and suffix are one stretch of the file; the middle ends a line.
        at = SOURCE.find(example.prefix + example.middle + example.suffix)
        assert at >= 0
        after = at + len(example.prefix) + len(example.middle)
        assert SOURCE[after : after + 1] in ("\n", "")
        assert example.middle.strip() and example.middle.rstrip() == example.middle
        # Within the budget (one token per character here) and the suffix's 20% share.
        assert len(example.prefix) + len(example.suffix) <= 120
        assert len(example.suffix) <= 24
        # Token healing as completions do it: the blanks before the cursor go to the middle.
        assert not example.prefix.endswith((" ", "\t"))


def test_middles_start_at_indentation_or_inside_a_line_and_may_span_lines() -> None:
    found = [e for seed in range(4) for e in examples(seed)]
    lines = SOURCE.split("\n")
    new_line = [e for e in found if e.prefix.endswith("\n") or not e.prefix]
    inside = [e for e in found if e not in new_line]
    assert new_line and inside
    for example in new_line:
        # The model re-types the indentation that the prompt backed off.
        first = example.middle.split("\n")[0]
        assert first in lines
    assert any("\n" in e.middle for e in new_line)
    assert all("\n" not in e.middle for e in inside)


def test_examples_depend_on_the_seed_and_the_file_only() -> None:
    assert examples(seed=3) == examples(seed=3)
    assert examples(seed=3) != examples(seed=4)


def test_workspace_examples_keep_held_out_files_apart(tmp_path: Path) -> None:
    for i in range(12):
        (tmp_path / f"mod{i}.py").write_text(SOURCE, encoding="utf-8")
    files = training_files(tmp_path, held_out_share=0.3)
    assert files.held_out, "expected some of twelve files to be held out at 30%"
    settings = ExampleSettings(context_budget=120, lines_per_example=6)
    found = workspace_examples(files, QWEN, chars, settings)
    assert {e.path for e in found.train} == {f.path for f in files.train}
    assert {e.path for e in found.held_out} == {f.path for f in files.held_out}
    # A file yields the same examples in a workspace as on its own.
    alone = file_examples(files.train[0], QWEN, chars, settings)
    assert [e for e in found.train if e.path == files.train[0].path] == alone


def test_a_large_workspace_is_sampled_down_the_same_way_each_time(tmp_path: Path) -> None:
    for i in range(6):
        (tmp_path / f"mod{i}.py").write_text(SOURCE, encoding="utf-8")
    files = training_files(tmp_path, held_out_share=0.0)
    every = workspace_examples(files, QWEN, chars, ExampleSettings(lines_per_example=2))
    capped = ExampleSettings(lines_per_example=2, max_examples=7)
    sampled = workspace_examples(files, QWEN, chars, capped)
    assert len(every.train) > 7 and len(sampled.train) == 7
    assert set(sampled.train) <= set(every.train)
    assert workspace_examples(files, QWEN, chars, capped) == sampled


def test_a_workspace_with_nothing_short_enough_to_learn_raises(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text(SOURCE, encoding="utf-8")
    files = training_files(tmp_path, held_out_share=0.0)
    with pytest.raises(NoUsableFilesError, match="has a span of at most 1 tokens"):
        workspace_examples(files, QWEN, chars, ExampleSettings(max_middle_tokens=1))


def test_a_base_without_fill_in_the_middle_is_refused() -> None:
    with pytest.raises(TuningError, match="no fill-in-the-middle template"):
        end_marker(LEFT_TO_RIGHT)
    with pytest.raises(TuningError, match="fill-in-the-middle"):
        file_examples(SourceFile("a.py", SOURCE), LEFT_TO_RIGHT, chars, ExampleSettings())


def test_the_loss_covers_the_middle_and_the_end_marker_only() -> None:
    tokenizer = CharTokenizer()
    for example in examples():
        encoded = encode_example(example, tokenizer)
        prompt = tokenizer.prompt_tokens(example.prompt)
        middle = [ord(c) for c in example.middle]
        assert list(encoded.input_ids) == prompt + middle + [CharTokenizer.END]
        assert list(encoded.labels) == [IGNORE] * len(prompt) + middle + [CharTokenizer.END]
        assert encoded.target_tokens == len(middle) + 1


def test_the_context_loss_covers_the_prompts_code_and_not_its_markers() -> None:
    tokenizer = CharTokenizer()
    for example in examples():
        encoded = encode_example(example, tokenizer)
        prompt = tokenizer.prompt_tokens(example.prompt)
        code = [IGNORE if i in CharTokenizer.MARKERS.values() else i for i in prompt]
        after = len(encoded.input_ids) - len(prompt)
        assert list(encoded.context_labels) == code + [IGNORE] * after
        text = sum(len(s.text) for s in example.prompt.segments if not s.special)
        assert encoded.context_tokens == text > 0


def test_a_tokenizer_that_joins_segments_is_refused() -> None:
    class Joining(CharTokenizer):
        """Two characters a token across segment boundaries, as a tokenizer of the whole
        text would merge them."""

        def prompt_tokens(self, prompt: Prompt) -> list[int]:
            text = prompt.text
            return [hash(text[i : i + 2]) for i in range(0, len(text), 2)]

    # Even lengths throughout, so the prompt's tokens lead the whole's; odd segments.
    prompt = build_prompt(QWEN, "abc", "xyz")
    example = FimExample("a.py", 0, "abc", "de", "xyz", prompt, "<|endoftext|>")
    with pytest.raises(TuningError, match="segments tokenized one by one give 25 tokens"):
        encode_example(example, Joining())


def test_examples_longer_than_the_context_are_dropped() -> None:
    found = examples()
    encoded = encode_examples(found, CharTokenizer(), max_tokens=10_000)
    assert len(encoded) == len(found)
    lengths = sorted(len(e.input_ids) for e in encoded)
    kept = encode_examples(found, CharTokenizer(), max_tokens=lengths[len(lengths) // 2])
    assert 0 < len(kept) < len(found)
    assert all(len(e.input_ids) <= lengths[len(lengths) // 2] for e in kept)


def test_a_tokenizer_that_merges_across_segments_is_refused() -> None:
    class Joint:
        def prompt_tokens(self, prompt: Prompt) -> list[int]:
            return [len(prompt.text)]

    with pytest.raises(TuningError, match="not tokenized separately"):
        encode_example(examples()[0], Joint())


def _main_using(module: str) -> str:
    return (
        f"from {module} import Circle, total_area\n\n\n"
        "def report(radii: list[float]) -> str:\n"
        "    circles = [Circle(r) for r in radii]\n"
        "    area = total_area(circles)\n"
        '    return f"{len(circles)} circles, {area:.1f} in all"\n\n\n'
        "def biggest(radii: list[float]) -> Circle:\n"
        "    return max((Circle(r) for r in radii), key=lambda c: c.area())\n"
    )


def _names(share: float, held: bool) -> Iterator[str]:
    return (n for n in (f"mod{i}" for i in range(1000)) if is_held_out(f"{n}.py", share) == held)


def test_examples_show_the_imported_files_code_as_completions_show_it(tmp_path: Path) -> None:
    (tmp_path / "shapes.py").write_text(SOURCE, encoding="utf-8")
    (tmp_path / "main.py").write_text(_main_using("shapes"), encoding="utf-8")
    files = training_files(tmp_path, held_out_share=0.0)
    settings = ExampleSettings(context_budget=120, lines_per_example=2, cross_file_budget=400)
    found = workspace_examples(files, QWEN, chars, settings).train
    # The examples after the import line: one of the import line itself imports nothing.
    main = [e for e in found if e.path == "main.py" and e.line > 0]
    assert main
    for example in main:
        # The repository layout: the workspace's name, the imported file, then this one's path.
        text = example.prompt.text
        assert text.startswith(f"<|repo_name|>{tmp_path.name}\n<|file_sep|>shapes.py\n")
        assert "def total_area(shapes: list[Circle]) -> float:" in text
        assert "<|file_sep|>main.py\n" in text
        assert text.endswith("<|fim_middle|>" + example.prefix)
    # Without the budget, the plain layout: nothing but the window.
    plain = ExampleSettings(context_budget=120, lines_per_example=2, cross_file_budget=0)
    for example in workspace_examples(files, QWEN, chars, plain).train:
        assert example.prompt == build_prompt(QWEN, example.prefix, example.suffix)


def test_held_out_files_never_show_in_a_training_prompt(tmp_path: Path) -> None:
    held, kept = next(_names(0.5, True)), next(_names(0.5, False))
    (tmp_path / f"{held}.py").write_text(SOURCE, encoding="utf-8")
    (tmp_path / f"{kept}.py").write_text(_main_using(held), encoding="utf-8")
    files = training_files(tmp_path, held_out_share=0.5)
    assert [f.path for f in files.held_out] == [f"{held}.py"]
    settings = ExampleSettings(context_budget=120, lines_per_example=2, cross_file_budget=400)
    found = workspace_examples(files, QWEN, chars, settings)
    assert found.train
    for example in found.train:
        assert "def total_area" not in example.prompt.text


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            ExampleSettings(context_budget=31),
            "'contextBudget' must be between 32 and 32768, got 31",
        ),
        (ExampleSettings(cross_file_budget=-5), "'crossFileBudget' must be between 0 and 16384"),
        (ExampleSettings(suffix_share=0.95), "'suffixShare' must be between 0.0 and 0.9, got 0.95"),
        (ExampleSettings(max_middle_tokens=0), "'maxTokens' must be between 1 and 1024, got 0"),
    ],
)
def test_bad_example_settings_are_named(settings: ExampleSettings, message: str) -> None:
    with pytest.raises(TuningError, match=message):
        settings.check()
    ExampleSettings().check()
