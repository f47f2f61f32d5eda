"""Which cached tokens a new prompt keeps: the common prefix and the runs worth moving."""

from lsp_server.engines.reuse import Run, change, common_prefix, moved_runs


def test_common_prefix_stops_at_the_first_difference() -> None:
    assert common_prefix([1, 2, 3], [1, 2, 4]) == 2
    assert common_prefix([1, 2], [1, 2, 3]) == 2
    assert common_prefix([], [1]) == 0


def test_a_keystroke_before_the_suffix_moves_the_suffix_one_token_on() -> None:
    prefix, suffix = [1, 2, 3], list(range(100, 140))
    old = prefix + [9] + suffix + [7, 50, 51]  # the last prompt, then its generated tokens
    new = prefix + [9, 10] + suffix + [7]
    runs = moved_runs(old, new, common_prefix(old, new), min_length=8)
    assert runs == [Run(old_start=4, new_start=5, length=40)]
    assert change(runs, keep=4) == 1  # one token inserted ahead of the moved cells


def test_moving_the_cursor_down_a_line_moves_the_rest_back_by_that_line() -> None:
    head, line, rest = [1, 2], [20, 21, 22], list(range(100, 160))
    marker = [5]
    old = head + line + rest + marker + [60, 61]
    new = head + rest + marker + [60, 61] + line + [8]
    runs = moved_runs(old, new, common_prefix(old, new), min_length=16)
    assert runs == [Run(old_start=5, new_start=2, length=63)]
    assert change(runs, keep=2) == 3


def test_the_new_prompts_last_token_is_never_taken() -> None:
    old = list(range(50))
    new = [99] + list(range(50))
    runs = moved_runs(old, new, 0, min_length=8)
    assert runs and runs[-1].new_start + runs[-1].length <= len(new) - 1


def test_short_runs_are_not_worth_moving() -> None:
    old = [1, 2, 3, 4, 5, 6]
    new = [0, 1, 2, 3, 4, 5, 6, 7]
    assert moved_runs(old, new, 0, min_length=8) == []


def test_several_runs_come_in_order_with_the_change_between_them() -> None:
    a, b = list(range(100, 120)), list(range(200, 220))
    old = a + [1, 1] + b + [3]
    new = [0] + a + [2] + b + [4]
    runs = moved_runs(old, new, 0, min_length=10)
    assert [(r.old_start, r.new_start, r.length) for r in runs] == [(0, 1, 20), (22, 22, 20)]
    # One token inserted before the first run; two removed and one inserted before the second.
    assert change(runs, keep=0) == 1 + 3
