"""Tests for lsp_server.fixes.answer: taking the code out of chat answers."""

import pytest

from lsp_server.fixes.answer import extract_code

FIXED = "def is_odd(n):\n    return n % 2 == 1"


def test_a_tagged_block_inside_prose() -> None:
    answer = f"The comparison is inverted. Here is the fix:\n\n```python\n{FIXED}\n```\n\nDone."
    assert extract_code(answer, "python") == FIXED


@pytest.mark.parametrize("tag", ["py", "python3", "Python", "{.python}", "python:src/odd.py"])
def test_tag_spellings(tag: str) -> None:
    assert extract_code(f"```{tag}\n{FIXED}\n```", "python") == FIXED


def test_an_untagged_block() -> None:
    assert extract_code(f"```\n{FIXED}\n```", "python") == FIXED


def test_tilde_fences_and_longer_fences() -> None:
    assert extract_code(f"~~~python\n{FIXED}\n~~~", "python") == FIXED
    inner = "s = '''\n```\n'''"
    assert extract_code(f"````python\n{inner}\n````", "python") == inner


def test_a_block_tagged_with_another_language_is_refused() -> None:
    answer = "```javascript\nfunction isOdd(n) { return n % 2 === 1; }\n```"
    assert extract_code(answer, "python") is None


def test_the_matching_block_wins_over_other_languages() -> None:
    shell = "```bash\npython -m odd --check all of the files here\n```"
    answer = f"Run:\n{shell}\n```python\n{FIXED}\n```"
    assert extract_code(answer, "python") == FIXED


def test_a_tagged_block_wins_over_a_longer_untagged_one() -> None:
    untagged = "x = 1\n" * 20
    answer = f"```\n{untagged}```\n```python\n{FIXED}\n```"
    assert extract_code(answer, "python") == FIXED


def test_the_longest_matching_block_wins() -> None:
    answer = f"```python\n{FIXED}\n```\nUse it like this:\n```python\nprint(is_odd(3))\n```"
    assert extract_code(answer, "python") == FIXED


def test_of_equally_long_blocks_the_later_one_wins() -> None:
    buggy = FIXED.replace("== 1", "== 0")
    answer = f"Before:\n```python\n{buggy}\n```\nAfter:\n```python\n{FIXED}\n```"
    assert extract_code(answer, "python") == FIXED


def test_an_untagged_block_that_is_not_code_is_skipped() -> None:
    answer = f"```\nThis is just some prose, not code.\n```\n```\n{FIXED}\n```"
    assert extract_code(answer, "python") == FIXED
    assert extract_code("```\nThis is just some prose, not code.\n```", "python") is None


def test_an_unclosed_fence_runs_to_the_end() -> None:
    # Generation stopped at "```", a common stop sequence, so the closing fence is missing.
    assert extract_code(f"Here you go:\n```python\n{FIXED}\n", "python") == FIXED


def test_an_indented_fence_is_dedented_by_its_own_indentation() -> None:
    answer = "1. Replace the function:\n\n   ```python\n   def f():\n       return 1\n   ```\n"
    assert extract_code(answer, "python") == "def f():\n    return 1"


def test_indentation_of_the_first_line_is_kept() -> None:
    method = "    def f(self):\n        return 1"
    assert extract_code(f"```python\n\n{method}\n\n```", "python") == method


def test_crlf_answers() -> None:
    answer = f"```python\r\n{FIXED}\r\n```\r\n".replace("\n    ", "\r\n    ")
    assert extract_code(answer, "python") == FIXED


def test_an_answer_without_fences_that_parses_is_code() -> None:
    assert extract_code(FIXED + "\n", "python") == FIXED
    assert extract_code("\n\n" + FIXED, "python") == FIXED


@pytest.mark.parametrize(
    "answer",
    [
        "",
        "   \n\n",
        "The function looks correct to me.",
        "Sure",
        "I cannot help with that.",
        "Here is the fix:\ndef f(:\n    return 1",
        "```\n```",
        "```python\n\n```",
    ],
)
def test_answers_without_code(answer: str) -> None:
    assert extract_code(answer, "python") is None


def test_a_caller_check_replaces_the_parse_check() -> None:
    assert extract_code("anything at all", "python", looks_like=lambda code: True) == (
        "anything at all"
    )
    assert extract_code(FIXED, "python", looks_like=lambda code: False) is None
    assert extract_code(f"```\n{FIXED}\n```", "python", looks_like=lambda code: False) is None
    # A tagged block is taken on its tag.
    assert extract_code(f"```python\n{FIXED}\n```", "python", looks_like=lambda c: False) == FIXED


@pytest.mark.parametrize(
    ("language_id", "tag", "code"),
    [
        ("typescript", "ts", "const f = (n: number): boolean => n % 2 === 1;"),
        ("typescript", "javascript", "const f = (n) => n % 2 === 1;"),
        ("typescriptreact", "tsx", "const A = () => <div />;"),
        ("go", "golang", "func f(n int) bool { return n%2 == 1 }"),
        ("rust", "rs", "fn f(n: i32) -> bool { n % 2 == 1 }"),
        ("java", "java", "class A { boolean f(int n) { return n % 2 == 1; } }"),
        ("c", "h", "int f(int n);"),
        ("cpp", "c++", "int f(int n) { return n % 2 == 1; }"),
        ("cpp", "c", "int f(int n) { return n % 2 == 1; }"),
    ],
)
def test_tags_of_other_languages(language_id: str, tag: str, code: str) -> None:
    assert extract_code(f"```{tag}\n{code}\n```", language_id) == code


def test_wrong_language_for_go() -> None:
    assert extract_code("```rust\nfn main() {}\n```", "go") is None
    assert extract_code("```python\nx = 1\n```", "typescript") is None


def test_unfenced_code_in_another_language_does_not_parse() -> None:
    assert extract_code("fn main() { let x = 1; }", "python") is None
    assert extract_code("fn main() { let x = 1; }", "rust") == "fn main() { let x = 1; }"


def test_plain_text_documents_take_untagged_blocks_only() -> None:
    assert extract_code("```\nsome text\n```", "plaintext") == "some text"
    assert extract_code("```python\nx = 1\n```", "plaintext") is None
    # Without a grammar prose cannot be told from code, so an unfenced answer is not taken.
    assert extract_code("some text", "plaintext") is None


def test_inline_triple_backticks_are_not_a_fence() -> None:
    assert extract_code("Use ```x = 1``` here", "python") is None


def test_block_closed_tells_when_generation_can_stop() -> None:
    from lsp_server.fixes.answer import block_closed

    assert not block_closed("Here is the fix:\n```python\ndef f():\n")
    assert block_closed("Here is the fix:\n```python\ndef f():\n    return 1\n```")
    assert not block_closed("no code at all")
