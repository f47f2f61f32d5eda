"""Tests for lsp_server.context.window: the token-budgeted prefix/suffix window at the cursor."""

import functools
import re

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from lsp_server.completion.window import LineTokenCounter, Window, cursor_window

LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")


def words(s: str) -> int:
    """A stand-in tokenizer: one token per word and one per line break."""
    return len(s.split()) + s.count("\n")


def quarter(s: str) -> int:
    """A stand-in tokenizer: four characters per token."""
    return len(s) // 4


def lines_of(text: str) -> list[str]:
    """The document's lines with their endings; LSP line breaks are \\r\\n, \\r and \\n."""
    return LINE.findall(text)


def counted(text: str, count=words) -> int:
    """Tokens of `text` counted line by line, the approximation the window reports."""
    return sum(count(line) for line in lines_of(text))


def assert_consistent(text: str, cursor: int, budget: int, window: Window, count=words) -> None:
    assert window.prefix_tokens + window.suffix_tokens <= budget
    assert text[window.start : cursor] == window.prefix
    assert text[cursor : window.end] == window.suffix
    assert window.prefix_tokens == counted(window.prefix, count)
    assert window.suffix_tokens == counted(window.suffix, count)


def source(n_lines: int, newline: str = "\n") -> str:
    """Code-like text with lines of varied length, blank lines included."""
    lines = []
    for i in range(n_lines):
        if i % 7 == 0:
            lines.append("")
        elif i % 5 == 0:
            lines.append(f"def function_{i}(alpha, beta):")
        else:
            lines.append("    " + " ".join(f"name_{i}_{j}" for j in range(i % 6 + 1)) + " = 1")
    return newline.join(lines) + newline


def line_starts(text: str) -> list[int]:
    return [0] + [m.end() for m in re.finditer(r"\r\n|\r(?!\n)|\n", text)]


# --- the whole text fits ---------------------------------------------------------------------


def test_small_text_is_taken_whole():
    text = "import os\n\ndef main():\n    print(os.getcwd())\n\nmain()\n"
    cursor = text.index("print")
    window = cursor_window(text, cursor, 1000, words)
    assert window.prefix == text[:cursor]
    assert window.suffix == text[cursor:]
    assert (window.start, window.end) == (0, len(text))
    assert_consistent(text, cursor, 1000, window)


def test_empty_text_gives_an_empty_window():
    assert cursor_window("", 0, 512, words) == Window("", "", 0, 0, 0, 0)


def test_cursor_at_start_of_text_has_no_prefix():
    text = source(100)
    window = cursor_window(text, 0, 200, words)
    assert window.prefix == ""
    assert window.start == 0
    assert window.prefix_tokens == 0
    assert window.suffix and text.startswith(window.suffix)
    assert_consistent(text, 0, 200, window)


def test_cursor_at_end_of_text_has_no_suffix():
    text = source(100)
    window = cursor_window(text, len(text), 200, words)
    assert window.suffix == ""
    assert window.end == len(text)
    assert window.suffix_tokens == 0
    assert window.prefix and text.endswith(window.prefix)
    assert_consistent(text, len(text), 200, window)


def test_cursor_at_end_of_text_without_final_newline():
    text = source(100) + "    return fo"
    window = cursor_window(text, len(text), 200, words)
    assert window.prefix.endswith("\n    return fo")
    assert window.suffix == ""
    assert_consistent(text, len(text), 200, window)


# --- budget and the share between prefix and suffix ------------------------------------------


@pytest.mark.parametrize("budget", [32, 100, 512])
@pytest.mark.parametrize("align", [1, 4, 16])
def test_budget_and_offsets_hold_at_every_cursor(budget, align):
    text = source(200)
    starts = line_starts(text)
    for cursor in sorted({*starts[::3], *(s + 3 for s in starts[1:-1:5]), len(text)}):
        window = cursor_window(text, cursor, budget, words, align=align)
        assert_consistent(text, cursor, budget, window)


def test_suffix_takes_at_most_its_share():
    text = source(400)
    cursor = line_starts(text)[100]
    window = cursor_window(text, cursor, 500, words, suffix_share=0.2)
    assert 0 < window.suffix_tokens <= 100
    # It stops only when the next whole line would not fit.
    next_line = lines_of(text[window.end :])[0]
    assert window.suffix_tokens + words(next_line) > 100


@pytest.mark.parametrize("share", [0.0, 0.1, 0.5, 0.9])
def test_suffix_share_is_honoured(share):
    text = source(400)
    cursor = line_starts(text)[200]
    window = cursor_window(text, cursor, 400, words, suffix_share=share)
    assert window.suffix_tokens <= int(400 * share)
    assert_consistent(text, cursor, 400, window)


def test_zero_suffix_share_gives_no_suffix():
    text = source(100)
    cursor = line_starts(text)[50]
    window = cursor_window(text, cursor, 200, words, suffix_share=0.0)
    assert window.suffix == ""
    assert window.suffix_tokens == 0
    assert window.end == cursor


def test_unused_suffix_budget_goes_to_the_prefix():
    text = "".join(f"value_{i} = compute(a, b)\n" for i in range(200))  # 5 tokens a line
    budget, share = 100, 0.2
    at_end = cursor_window(text, len(text), budget, words, suffix_share=share, align=1)
    assert at_end.suffix_tokens == 0
    assert at_end.prefix_tokens > budget - int(budget * share)
    assert at_end.prefix_tokens == budget

    # Two short lines after the cursor leave most of the suffix's share to the prefix.
    cursor = line_starts(text)[198]
    near_end = cursor_window(text, cursor, budget, words, suffix_share=share, align=1)
    assert near_end.suffix_tokens == 10
    assert near_end.prefix_tokens == budget - 10


def test_prefix_is_cut_at_whole_lines_when_it_does_not_fit():
    text = source(300)
    cursor = line_starts(text)[250]
    window = cursor_window(text, cursor, 200, words)
    assert window.start > 0
    assert window.start in line_starts(text)
    assert window.end in line_starts(text)


# --- alignment: the prompt start stays put while typing --------------------------------------


@pytest.mark.parametrize("align", [1, 4, 16])
def test_prefix_first_line_is_aligned(align):
    text = source(400)
    starts = line_starts(text)
    for line in range(80, 400, 13):
        cursor = starts[line] + 2
        window = cursor_window(text, cursor, 300, words, align=align)
        assert window.start > 0, "the text must not fit, or there is nothing to align"
        first_line = starts.index(window.start)
        assert first_line % align == 0


def test_small_windows_keep_every_line_that_fits():
    # Ten 6-token lines and a budget of 20: aligning to 16 lines would drop all of them.
    text = "".join(f"a b c d {i}\n" for i in range(10)) + "x"
    window = cursor_window(text, len(text), 20, words, suffix_share=0.0, align=16)
    assert window.prefix.count("\n") == 3


def test_a_short_window_gives_up_no_more_than_half_its_lines_to_alignment():
    # 40 lines of 6 tokens and a budget of 40: six lines fit above the cursor, and the line
    # a 16-line alignment would start at (32) leaves only the cursor's own.
    text = "".join(f"a b c d {i}\n" for i in range(33)) + "x"
    window = cursor_window(text, len(text), 40, words, suffix_share=0.0, align=16)
    assert window.prefix.count("\n") == 6


def simulate_typing(text: str, cursor: int, typed: str, align: int) -> list[Window]:
    windows = []
    for k in range(len(typed) + 1):
        current = text[:cursor] + typed[:k] + text[cursor:]
        window = cursor_window(current, cursor + k, 200, words, align=align)
        assert_consistent(current, cursor + k, 200, window)
        windows.append(window)
    return windows


TYPED = "result = first_value + second * third - fourth(x)"[:40]


@pytest.mark.parametrize("where", ["new line", "middle of a line"])
def test_start_is_stable_while_typing(where):
    text = source(300)
    starts = line_starts(text)
    cursor = starts[200] if where == "new line" else starts[200] + 4
    if where == "new line":
        text = text[:cursor] + "\n" + text[cursor:]
    windows = simulate_typing(text, cursor, TYPED, align=16)
    assert len(TYPED) == 40
    assert windows[0].start > 0, "the text must not fit, or the start cannot move"
    changes = sum(1 for a, b in zip(windows, windows[1:], strict=False) if a.start != b.start)
    assert changes <= 1
    # While the start holds, each keystroke only extends the prefix: the cached prompt is reused.
    for a, b in zip(windows, windows[1:], strict=False):
        if a.start == b.start:
            assert b.prefix.startswith(a.prefix)


def test_alignment_is_what_keeps_the_start_still():
    text = source(300)
    cursor = line_starts(text)[200]
    text = text[:cursor] + "\n" + text[cursor:]
    unaligned = {w.start for w in simulate_typing(text, cursor, TYPED, align=1)}
    aligned = {w.start for w in simulate_typing(text, cursor, TYPED, align=16)}
    assert len(aligned) < len(unaligned)


def test_start_does_not_move_when_typing_after_the_cursor_line():
    text = source(300)
    cursor = line_starts(text)[150]
    before = cursor_window(text, cursor, 200, words)
    edited = text + "more_code = 1\n" * 50
    after = cursor_window(edited, cursor, 200, words)
    assert after.start == before.start
    assert after.prefix == before.prefix


# --- over-long lines --------------------------------------------------------------------------


def test_minified_line_is_capped_around_the_cursor():
    text = "var a=1;" * 125_000  # one 1 MB line
    cursor = len(text) // 2
    budget = 100
    window = cursor_window(text, cursor, budget, quarter)
    assert window.prefix_tokens + window.suffix_tokens <= budget
    assert 0 < window.suffix_tokens <= int(budget * 0.2)
    assert window.prefix_tokens > 0
    assert len(window.prefix) <= budget * 8
    assert len(window.suffix) <= int(budget * 0.2) * 8
    assert_consistent(text, cursor, budget, window, quarter)


def test_long_line_after_the_cursor_is_cut_to_the_suffix_share():
    text = "x = 1\n" + "y" * 50_000 + "\nz = 2\n"
    cursor = len("x = 1\n")
    window = cursor_window(text, cursor, 200, quarter)
    assert window.prefix == "x = 1\n"
    assert window.suffix == text[cursor : window.end]
    assert 0 < window.suffix_tokens <= 40
    assert "\n" not in window.suffix


def test_long_cursor_line_without_lines_before_it_is_a_contiguous_tail():
    text = "a" * 10_000
    window = cursor_window(text, len(text), 100, quarter)
    assert_consistent(text, len(text), 100, window, quarter)
    assert 0 < window.prefix_tokens <= 100


def test_prefix_stays_contiguous_when_the_cursor_line_is_cut():
    text = "// bundle\n" + "var a=1;" * 5000
    window = cursor_window(text, len(text), 200, words)
    assert window.prefix_tokens <= 200
    assert text[window.start :] == window.prefix


# --- line endings -----------------------------------------------------------------------------


@pytest.mark.parametrize("newline", ["\r\n", "\r"])
def test_other_line_endings_count_as_one_line_break(newline):
    text = source(300, newline)
    starts = line_starts(text)
    for line in (0, 1, 50, 150, 299):
        for cursor in (starts[line], starts[line] + 3):
            window = cursor_window(text, cursor, 300, words, align=16)
            assert_consistent(text, cursor, 300, window)
            assert window.start in starts
            if window.start:
                assert starts.index(window.start) % 16 == 0
            # A CRLF pair is never split between lines.
            assert not window.prefix.startswith("\n")
            assert not window.suffix.endswith("\r") or newline == "\r"


def test_cursor_right_after_a_line_break_starts_a_fresh_line():
    for newline in ("\n", "\r\n", "\r"):
        text = f"a = 1{newline}b = 2{newline}"
        cursor = len(f"a = 1{newline}")
        window = cursor_window(text, cursor, 100, words)
        assert window.prefix == f"a = 1{newline}"
        assert window.suffix == f"b = 2{newline}"


def test_form_feed_and_unicode_separators_are_not_line_breaks():
    text = "a = 1\x0cb = 2\u2028c = 3\nd"
    window = cursor_window(text, len(text), 100, words)
    assert window.prefix == text
    assert window.prefix_tokens == counted(text)


# --- reach: a huge text costs no more than a small one ---------------------------------------


def test_ten_megabyte_text_only_looks_near_the_cursor():
    reach = 200_000
    far, near = "FAR_AWAY = 1\n", "near = 1\n"
    head = far * (4_800_000 // len(far))
    around = near * (2 * reach // len(near) + 1)  # everything the window may look at before
    after = near * (reach // len(near) + 1)  # and after the cursor
    text = head + around + after + far * (5_200_000 // len(far))
    cursor = len(head) + len(around)
    assert len(text) > 10_000_000

    seen: list[str] = []

    def recording(s: str) -> int:
        seen.append(s)
        return words(s)

    window = cursor_window(text, cursor, 10**9, recording, reach=reach)
    assert seen
    assert not any("FAR" in s for s in seen)
    assert cursor - 2 * reach <= window.start
    assert window.end <= cursor + reach
    assert text[window.start : cursor] == window.prefix
    assert text[cursor : window.end] == window.suffix


@functools.cache
def ten_megabytes() -> str:
    text = source(1000)
    return text * (10_000_000 // len(text) + 1)


@pytest.mark.parametrize("where", ["start", "middle", "end"])
def test_ten_megabyte_text_with_an_ordinary_budget(where):
    text = ten_megabytes()
    assert len(text) > 10_000_000
    middle = text.index("\n", len(text) // 2) + 5
    cursor = {"start": 0, "middle": middle, "end": len(text)}[where]
    window = cursor_window(text, cursor, 512, words)
    assert_consistent(text, cursor, 512, window)
    # Alignment may give up up to 15 lines of the budget, never most of it; at the start of
    # the text only the suffix's share is used, since the prefix's budget does not flow back.
    assert window.prefix_tokens + window.suffix_tokens > (256 if cursor else 80)


def test_window_reaching_the_reach_bound_stays_consistent():
    text = source(2000)
    for cursor in (5_000, 20_000, len(text) // 2, len(text)):
        window = cursor_window(text, cursor, 10**6, words, reach=3_000)
        assert cursor - 6_000 <= window.start
        assert window.end <= cursor + 3_000
        assert text[window.start : cursor] == window.prefix
        assert text[cursor : window.end] == window.suffix


# --- property: invariants over arbitrary short-lined text -------------------------------------

short_lines = st.lists(
    st.tuples(
        st.text(alphabet="ab _(),.:=", max_size=30),
        st.sampled_from(["\n", "\r\n", "\r"]),
    ),
    max_size=60,
).map(lambda pairs: "".join(body + end for body, end in pairs))


@settings(max_examples=300, deadline=None)
@given(
    text=short_lines,
    where=st.floats(min_value=0, max_value=1),
    budget=st.integers(min_value=20, max_value=400),
    share=st.sampled_from([0.0, 0.2, 0.5]),
    align=st.sampled_from([1, 3, 16]),
)
def test_window_invariants(text, where, budget, share, align):
    cursor = int(len(text) * where)
    # A cursor between \r and \n is no LSP position.
    assume(not (0 < cursor < len(text) and text[cursor - 1] == "\r" and text[cursor] == "\n"))
    # The cursor line's text before the cursor fits whatever the suffix leaves.
    head = text[:cursor].split("\n")[-1].split("\r")[-1]
    assume(words(head) <= budget - int(budget * share))
    window = cursor_window(text, cursor, budget, words, suffix_share=share, align=align)
    assert_consistent(text, cursor, budget, window)
    assert window.suffix_tokens <= int(budget * share)
    assert window.start == 0 or text[window.start - 1] in "\r\n"


# --- LineTokenCounter ------------------------------------------------------------------------


class CountingCounter:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, line: str) -> int:
        self.calls.append(line)
        return words(line)


def test_line_counter_returns_the_underlying_count():
    counter = LineTokenCounter(words)
    assert counter("a b c\n") == 4
    assert counter("") == 0


def test_line_counter_counts_each_line_once():
    underlying = CountingCounter()
    counter = LineTokenCounter(underlying)
    for _ in range(3):
        assert counter("x = 1\n") == 4
        assert counter("y\n") == 2
    assert underlying.calls == ["x = 1\n", "y\n"]


def test_line_counter_caches_zero_counts():
    underlying = CountingCounter()
    counter = LineTokenCounter(underlying)
    counter("   ")
    counter("   ")
    assert underlying.calls == ["   "]


def test_line_counter_evicts_the_least_recently_used_line():
    underlying = CountingCounter()
    counter = LineTokenCounter(underlying, capacity=2)
    counter("a")
    counter("b")
    counter("a")  # "a" is now the most recently used
    counter("c")  # evicts "b"
    underlying.calls.clear()
    counter("a")
    counter("c")
    assert underlying.calls == []
    counter("b")
    assert underlying.calls == ["b"]


def test_line_counter_holds_at_most_capacity_lines():
    underlying = CountingCounter()
    counter = LineTokenCounter(underlying, capacity=10)
    for i in range(100):
        counter(f"line {i}")
    underlying.calls.clear()
    for i in range(90, 100):
        counter(f"line {i}")
    assert underlying.calls == []
    counter("line 89")
    assert underlying.calls == ["line 89"]


def test_window_recounts_only_the_edited_line_while_typing():
    underlying = CountingCounter()
    counter = LineTokenCounter(underlying)
    text = source(300)
    cursor = line_starts(text)[200] + 4
    cursor_window(text, cursor, 300, counter)
    underlying.calls.clear()
    typed = text[:cursor] + "x" + text[cursor:]
    cursor_window(typed, cursor + 1, 300, counter)
    assert underlying.calls == [typed[line_starts(text)[200] : cursor + 1]]
