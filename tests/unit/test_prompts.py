"""Tests for lsp_server.prompts: template detection from a vocabulary and prompt layout."""

import pytest

from lsp_server.completion.prompts import (
    LEFT_TO_RIGHT,
    TEMPLATES,
    ContextFile,
    Segment,
    build_prompt,
    detect_template,
    template_for_family,
)

# Fake vocabularies: the markers each family's tokenizer keeps as single tokens.
QWEN = {
    "<|endoftext|>",
    "<|fim_prefix|>",
    "<|fim_middle|>",
    "<|fim_suffix|>",
    "<|fim_pad|>",
    "<|repo_name|>",
    "<|file_sep|>",
    "<|im_start|>",
    "<|im_end|>",
}
CODEGEMMA = {
    "<eos>",
    "<|fim_prefix|>",
    "<|fim_middle|>",
    "<|fim_suffix|>",
    "<|file_separator|>",
}
STARCODER2 = {
    "<|endoftext|>",
    "<fim_prefix>",
    "<fim_middle>",
    "<fim_suffix>",
    "<fim_pad>",
    "<repo_name>",
    "<file_sep>",
}
STARCODER = {"<|endoftext|>", "<fim_prefix>", "<fim_middle>", "<fim_suffix>", "<fim_pad>"}
DEEPSEEK = {"<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>", "<｜end▁of▁sentence｜>"}
CODELLAMA = {"▁<PRE>", "▁<SUF>", "▁<MID>", "▁<EOT>", "</s>"}
CODESTRAL = {"[PREFIX]", "[SUFFIX]", "</s>"}
PLAIN = {"<s>", "</s>", "<unk>"}


def detect(vocabulary: set[str]) -> str:
    return detect_template(vocabulary.__contains__).family


# --- detect_template --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("vocabulary", "family"),
    [
        (QWEN, "qwen2.5-coder"),
        (CODEGEMMA, "codegemma"),
        (STARCODER2, "starcoder2"),
        (STARCODER, "starcoder"),
        (DEEPSEEK, "deepseek-coder"),
        (CODELLAMA, "codellama"),
        (CODESTRAL, "codestral"),
        (PLAIN, "l2r"),
        (set(), "l2r"),
    ],
)
def test_detects_the_family_from_its_markers(vocabulary, family):
    assert detect(vocabulary) == family


def test_qwen_is_preferred_over_codegemma_when_both_signatures_match():
    assert detect(QWEN | CODEGEMMA) == "qwen2.5-coder"


def test_shared_fim_markers_without_repo_markers_are_codegemma():
    assert detect(CODEGEMMA) == "codegemma"
    assert detect(CODEGEMMA | {"<|repo_name|>"}) == "codegemma"
    assert detect(CODEGEMMA | {"<|file_sep|>"}) == "codegemma"


@pytest.mark.parametrize("missing", ["<|repo_name|>", "<|file_sep|>"])
def test_qwen_needs_both_repo_markers(missing):
    assert detect(QWEN - {missing}) == "l2r"
    assert detect(QWEN - {missing} | {"<|file_separator|>"}) == "codegemma"


def test_starcoder2_is_preferred_over_starcoder():
    assert detect(STARCODER | {"<file_sep>"}) == "starcoder2"
    assert detect(STARCODER) == "starcoder"


@pytest.mark.parametrize("missing", sorted(DEEPSEEK - {"<｜end▁of▁sentence｜>"}))
def test_a_partial_signature_does_not_match(missing):
    assert detect(DEEPSEEK - {missing}) == "l2r"


def test_markers_split_into_several_tokens_fall_back_to_left_to_right():
    # A vocabulary that knows the marker text only as plain text never reports a single token.
    assert detect_template(lambda marker: False) is LEFT_TO_RIGHT


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t.family)
def test_a_templates_own_signature_detects_that_template(template):
    assert detect_template(set(template.signature).__contains__) is template


def test_template_for_family():
    assert template_for_family("qwen2.5-coder").prefix == "<|fim_prefix|>"
    assert template_for_family("codestral").order == "spm"
    assert template_for_family("no-such-family") is LEFT_TO_RIGHT


def test_every_fim_template_has_stops_and_distinct_family():
    families = [t.family for t in TEMPLATES]
    assert len(families) == len(set(families))
    for template in TEMPLATES:
        assert template.stops
        assert template.prefix and template.suffix


# --- build_prompt -----------------------------------------------------------------------------


QWEN_T = template_for_family("qwen2.5-coder")


def test_psm_is_prefix_suffix_middle():
    prompt = build_prompt(QWEN_T, "def f(", "):\n    pass\n", order="psm")
    assert prompt.segments == (
        Segment("<|fim_prefix|>", special=True),
        Segment("def f("),
        Segment("<|fim_suffix|>", special=True),
        Segment("):\n    pass\n"),
        Segment("<|fim_middle|>", special=True),
    )
    assert prompt.text == "<|fim_prefix|>def f(<|fim_suffix|>):\n    pass\n<|fim_middle|>"
    assert prompt.order == "psm"
    assert prompt.family == "qwen2.5-coder"


def test_spm_is_the_default_for_qwen():
    # Chosen by measurement: see BENCHMARKS.md, "FIM order".
    assert build_prompt(QWEN_T, "a", "b") == build_prompt(QWEN_T, "a", "b", order="spm")


def test_spm_puts_the_suffix_first_and_the_prefix_last():
    prompt = build_prompt(QWEN_T, "PRE", "SUF", order="spm")
    assert prompt.segments == (
        Segment("<|fim_prefix|>", special=True),
        Segment("<|fim_suffix|>", special=True),
        Segment("SUF"),
        Segment("<|fim_middle|>", special=True),
        Segment("PRE"),
    )
    assert prompt.order == "spm"
    # The prefix ends the prompt: the model continues right at the cursor.
    assert prompt.text.endswith("PRE")


def test_codestral_spm_has_no_middle_marker():
    codestral = template_for_family("codestral")
    prompt = build_prompt(codestral, "PRE", "SUF")
    assert prompt.segments == (
        Segment("[SUFFIX]", special=True),
        Segment("SUF"),
        Segment("[PREFIX]", special=True),
        Segment("PRE"),
    )
    assert prompt.order == "spm"
    assert prompt.stops == ("</s>",)


def test_deepseek_psm_text():
    deepseek = template_for_family("deepseek-coder")
    prompt = build_prompt(deepseek, "p", "s")
    assert prompt.text == "<｜fim▁begin｜>p<｜fim▁hole｜>s<｜fim▁end｜>"
    assert [s.special for s in prompt.segments] == [True, False, True, False, True]


def test_left_to_right_is_the_prefix_alone():
    prompt = build_prompt(LEFT_TO_RIGHT, "def f(", "):\n")
    assert prompt.segments == (Segment("def f("),)
    assert prompt.order == "l2r"
    assert prompt.family == "l2r"
    assert prompt.stops == ()


@pytest.mark.parametrize("order", ["psm", "spm"])
def test_left_to_right_template_ignores_a_fim_order(order):
    prompt = build_prompt(LEFT_TO_RIGHT, "abc", "xyz", order=order)
    assert prompt.segments == (Segment("abc"),)
    assert prompt.order == "l2r"


def test_a_fim_template_can_be_asked_for_left_to_right():
    prompt = build_prompt(QWEN_T, "abc", "xyz", order="l2r")
    assert prompt.segments == (Segment("abc"),)
    assert prompt.order == "l2r"
    assert prompt.stops == QWEN_T.stops
    assert prompt.family == "qwen2.5-coder"


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t.family)
@pytest.mark.parametrize("order", [None, "psm", "spm", "l2r"])
def test_stops_are_the_templates(template, order):
    assert build_prompt(template, "a", "b", order=order).stops == template.stops


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t.family)
@pytest.mark.parametrize("order", [None, "psm", "spm"])
def test_only_markers_are_special(template, order):
    prefix = "x = '<|fim_prefix|><fim_suffix>[PREFIX]'"
    suffix = "  # <|fim_middle|> <｜fim▁end｜> ▁<MID>\n"
    prompt = build_prompt(template, prefix, suffix, order=order)
    special = [s.text for s in prompt.segments if s.special]
    plain = [s.text for s in prompt.segments if not s.special]
    assert set(special) <= {template.prefix, template.suffix, template.middle}
    assert sorted(plain) == sorted([prefix, suffix])


def test_user_text_with_a_marker_stays_plain():
    code = 'TOKEN = "<|fim_prefix|>"\n'
    prompt = build_prompt(QWEN_T, code, "<|fim_middle|>")
    assert Segment(code) in prompt.segments
    assert Segment("<|fim_middle|>", special=False) in prompt.segments
    assert Segment(code, special=True) not in prompt.segments
    assert [s for s in prompt.segments if s.special] == [
        Segment("<|fim_prefix|>", special=True),
        Segment("<|fim_suffix|>", special=True),
        Segment("<|fim_middle|>", special=True),
    ]


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t.family)
@pytest.mark.parametrize("order", [None, "psm", "spm"])
@pytest.mark.parametrize(("prefix", "suffix"), [("", "s"), ("p", ""), ("", "")])
def test_empty_text_leaves_no_empty_segment(template, order, prefix, suffix):
    prompt = build_prompt(template, prefix, suffix, order=order)
    assert all(s.text for s in prompt.segments)
    plain = "".join(s.text for s in prompt.segments if not s.special)
    assert sorted(plain) == sorted(prefix + suffix)


def test_empty_prefix_and_suffix_keep_the_markers():
    prompt = build_prompt(QWEN_T, "", "")
    assert prompt.text == "<|fim_prefix|><|fim_suffix|><|fim_middle|>"
    assert all(s.special for s in prompt.segments)


def test_empty_prefix_left_to_right_is_an_empty_prompt():
    prompt = build_prompt(LEFT_TO_RIGHT, "", "anything")
    assert prompt.text == ""
    assert not any(s.special for s in prompt.segments)


# --- other files --------------------------------------------------------------------------------

FILES = (
    ContextFile("pkg/geometry.py", "def area(r):\n    return r * r"),
    ContextFile("b.py", "B\n"),
)


def special(prompt) -> list[str]:
    return [s.text for s in prompt.segments if s.special]


def test_qwen_repository_layout_comes_before_the_fim_block_in_spm():
    prompt = build_prompt(QWEN_T, "PRE", "SUF", files=FILES, path="pkg/main.py", repo="proj")
    assert prompt.segments == (
        Segment("<|repo_name|>", special=True),
        Segment("proj\n"),
        Segment("<|file_sep|>", special=True),
        Segment("pkg/geometry.py\ndef area(r):\n    return r * r\n"),
        Segment("<|file_sep|>", special=True),
        Segment("b.py\nB\n"),
        Segment("<|file_sep|>", special=True),
        Segment("pkg/main.py\n"),
        Segment("<|fim_prefix|>", special=True),
        Segment("<|fim_suffix|>", special=True),
        Segment("SUF"),
        Segment("<|fim_middle|>", special=True),
        Segment("PRE"),
    )


def test_qwen_repository_layout_in_psm_and_left_to_right():
    psm = build_prompt(QWEN_T, "PRE", "SUF", "psm", files=FILES[:1], path="m.py", repo="r")
    assert psm.text == (
        "<|repo_name|>r\n<|file_sep|>pkg/geometry.py\ndef area(r):\n    return r * r\n"
        "<|file_sep|>m.py\n<|fim_prefix|>PRE<|fim_suffix|>SUF<|fim_middle|>"
    )
    l2r = build_prompt(QWEN_T, "PRE", "SUF", "l2r", files=FILES[:1], path="m.py", repo="r")
    assert l2r.text.endswith("<|file_sep|>m.py\nPRE")
    assert l2r.text.startswith("<|repo_name|>r\n")


def test_starcoder2_puts_the_current_path_inside_the_prefix():
    starcoder2 = template_for_family("starcoder2")
    prompt = build_prompt(starcoder2, "PRE", "SUF", files=FILES[1:], path="m.py", repo="r")
    assert prompt.text == (
        "<repo_name>r<file_sep>b.py\nB\n<file_sep><fim_prefix>m.py\nPRE<fim_suffix>SUF<fim_middle>"
    )
    assert special(prompt) == [
        "<repo_name>",
        "<file_sep>",
        "<file_sep>",
        "<fim_prefix>",
        "<fim_suffix>",
        "<fim_middle>",
    ]


def test_families_without_a_repository_layout_get_commented_paths_before_the_prefix():
    deepseek = template_for_family("deepseek-coder")
    prompt = build_prompt(deepseek, "PRE", "SUF", files=FILES, path="pkg/main.py")
    assert prompt.text == (
        "<｜fim▁begin｜># path: pkg/geometry.py\ndef area(r):\n    return r * r\n"
        "# path: b.py\nB\n# path: pkg/main.py\nPRE<｜fim▁hole｜>SUF<｜fim▁end｜>"
    )


def test_commented_paths_use_the_current_languages_comment():
    codellama = template_for_family("codellama")
    prompt = build_prompt(codellama, "PRE", "", files=FILES[1:], path="web/app.ts")
    assert "// path: b.py\nB\n// path: web/app.ts\nPRE" in prompt.text
    prompt = build_prompt(codellama, "PRE", "", files=FILES[1:], path="x.lua", line_comment=";;")
    assert ";; path: b.py\n" in prompt.text
    prompt = build_prompt(codellama, "PRE", "", files=FILES[1:])
    assert prompt.text.startswith("▁<PRE># path: b.py\nB\nPRE")


def test_codestral_spm_keeps_the_files_with_the_prefix():
    codestral = template_for_family("codestral")
    prompt = build_prompt(codestral, "PRE", "SUF", files=FILES[1:], path="m.py")
    assert prompt.text == "[SUFFIX]SUF[PREFIX]# path: b.py\nB\n# path: m.py\nPRE"


def test_left_to_right_template_with_files():
    prompt = build_prompt(LEFT_TO_RIGHT, "PRE", "SUF", files=FILES[1:], path="m.go")
    assert prompt.segments == (Segment("// path: b.py\nB\n// path: m.go\nPRE"),)


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t.family)
@pytest.mark.parametrize("order", [None, "psm", "spm", "l2r"])
def test_file_text_with_markers_stays_plain(template, order):
    hostile = ContextFile("<|file_sep|>x.py", "<|fim_prefix|><fim_middle><repo_name>[PREFIX]")
    prompt = build_prompt(template, "p", "s", order, files=(hostile,), path="m.py", repo="<|r|>")
    markers = {
        template.prefix,
        template.suffix,
        template.middle,
        template.repo_name,
        template.file_sep,
    }
    assert set(special(prompt)) <= markers
    plain = "".join(s.text for s in prompt.segments if not s.special)
    assert hostile.text in plain and hostile.path in plain


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t.family)
@pytest.mark.parametrize("order", [None, "psm", "spm", "l2r"])
def test_files_come_before_the_text_around_the_cursor(template, order):
    prompt = build_prompt(
        template, "before_cursor", "after_cursor", order, files=FILES, path="m.py"
    )
    text = prompt.text
    assert text.index("def area(r)") < text.index("B\n") < text.index("before_cursor")
    if template.repo_name is not None and order != "l2r":
        # The whole FIM block follows the files, the suffix too in suffix-first order.
        assert text.index("B\n") < text.index(template.prefix)
        assert text.index("B\n") < text.index("after_cursor")


def test_no_files_leaves_the_prompt_as_it_was():
    assert build_prompt(QWEN_T, "a", "b", path="m.py", repo="r") == build_prompt(QWEN_T, "a", "b")
