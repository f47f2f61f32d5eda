"""The team benchmark's arithmetic (benchmarks/team_summary.py) on literal data: llama-server's
log read into tasks, tasks given to developers, reuse, throughput and the goals."""

from dataclasses import asdict

from benchmarks.replay_policy import RunFact
from benchmarks.team_summary import (
    SlotTask,
    clock_offset,
    developer_figures,
    goals,
    group_figures,
    match_tasks,
    parse_server_log,
    reuse,
    selection_counts,
    table,
)

LOG = """\
0.00.745.778 I srv    load_model: initializing, n_slots = 2, n_ctx_slot = 2048, kv_unified = 'false'
0.38.985.417 I slot get_availabl: id  0 | task -1 | selected slot by LRU, t_last = -1
0.38.985.481 I slot launch_slot_: id  0 | task 0 | processing task, is_child = 0
0.38.990.000 I slot get_availabl: id  1 | task -1 | selected slot by LRU, t_last = -1
0.38.990.100 I slot launch_slot_: id  1 | task 1 | processing task, is_child = 0
0.40.985.694 W srv          stop: cancel task, id_task = 1
1.06.582.366 I slot print_timing: id  0 | task 0 | prompt eval time =    4854.43 ms /   514 tokens
1.06.582.390 I slot print_timing: id  0 | task 0 |        eval time =     113.83 ms /     4 tokens
1.06.582.391 I slot print_timing: id  0 | task 0 |       total time =    4968.26 ms /   518 tokens
1.06.582.945 I slot      release: id  0 | task 0 | stop processing: n_tokens = 517, truncated = 0
slot get_availabl: id  0 | task -1 | selected slot by LCP similarity, f_sim_best = 0.606 (> 0.1)
1.27.413.785 I slot launch_slot_: id  0 | task 7 | processing task, is_child = 0
1.39.477.081 I slot print_timing: id  0 | task 7 | prompt eval time =    24.05 ms /     3 tokens
1.39.477.101 I slot print_timing: id  0 | task 7 |        eval time =     90.00 ms /     2 tokens
1.39.477.176 I slot      release: id  0 | task 7 | stop processing: n_tokens = 519, truncated = 0
"""


def run(prompt: int, reused: int, generated: int, cause: str = "") -> dict:
    fact = RunFact("request", 1, prompt, reused, prompt - reused, generated, 0.0, 0.0, cause=cause)
    return asdict(fact)


def record(developer: int, fresh: list[float], runs: list[dict], **responses: int) -> dict:
    return {
        "config": "shared",
        "region": f"python/r{developer}.py:1",
        "language": "python",
        "developer": developer,
        "chars": 10,
        "accepted_chars": 5,
        "accepts": {"word": 1},
        "typed_chars": 5,
        "auto_indent_chars": 0,
        "keys": 6,
        "seen": 2,
        "wrong": 0,
        "line_starts": 2,
        "line_starts_served": 1,
        "fresh_ms": fresh,
        "responses": {"answer": len(fresh), **responses},
        "runs": runs,
        "unreported_runs": 0,
        "slots": [0, 0],
    }


def test_the_log_gives_each_task_its_slot_how_it_was_chosen_its_times_and_figures():
    tasks = parse_server_log(LOG)
    assert [(t.task, t.slot, t.selected, t.similarity) for t in tasks] == [
        (0, 0, "lru", None),
        (1, 1, "lru", None),
        (7, 0, "lcp", 0.606),
    ]
    first, dropped, second = tasks
    assert (first.launch_s, first.release_s) == (38.985481, 66.582945)
    assert (first.evaluated, first.generated, first.n_tokens) == (514, 4, 517)
    assert dropped.cancelled and dropped.evaluated is None and dropped.release_s is None
    assert dropped.cancel_s == 40.985694
    assert (second.evaluated, second.generated, second.n_tokens) == (3, 2, 519)
    assert selection_counts(tasks) == {"id": 0, "lcp": 1, "lru": 2, "unknown": 0, "lcp_close": 1}


def test_a_slot_chosen_by_id_is_counted_as_such():
    log = (
        "slot get_availabl: id  3 | task -1 | selected slot by id (3)\n"
        "slot launch_slot_: id  3 | task 9 | processing task, is_child = 0\n"
    )
    assert selection_counts(parse_server_log(log))["id"] == 1


def test_the_probe_request_puts_the_logs_times_on_the_benchmarks_clock():
    probe = SlotTask(0, 0, launch_s=4.0, release_s=4.5)
    assert clock_offset(100.0, 100.6, probe) == 96.05
    assert clock_offset(100.0, 100.6, SlotTask(0, 0)) is None


def timed(received_s: float, prompt: int = 0, generated: int = 3) -> dict:
    return {**run(prompt, 0, generated), "received_s": received_s}


def test_tasks_go_to_the_developer_whose_report_came_when_the_task_was_released():
    tasks = [
        SlotTask(0, 0, "lru", release_s=10.0),
        SlotTask(1, 1, "lru", release_s=11.0),
        SlotTask(2, 1, "lcp", release_s=12.0),
        SlotTask(3, 0, "lcp", release_s=13.0),
        SlotTask(4, 1, "lru"),  # never ended: left out
        SlotTask(5, 1, "lru", release_s=20.0),  # no report near: unmatched
    ]
    # The log's clock is 100 s behind: a report 50 ms after its task's end.
    runs = {0: [timed(110.05), timed(113.05)], 1: [timed(111.05), timed(112.05)]}
    match = match_tasks(tasks, runs, offset_s=100.0)
    assert match.slots == {0: [0, 0], 1: [1, 1]}
    assert (match.ended, match.ambiguous, match.unmatched) == (5, 0, 1)


def test_a_cancelled_task_ends_at_its_cancel_not_at_the_slots_late_release():
    # Released 3 s after the cancel, once the batch being decoded was done.
    tasks = [SlotTask(0, 1, cancel_s=10.0, release_s=13.0, cancelled=True)]
    runs = {0: [timed(10.1)], 1: [timed(13.0)]}
    assert match_tasks(tasks, runs, offset_s=0.0).slots == {0: [1], 1: []}


def test_a_task_released_near_two_developers_reports_is_left_out_unless_its_cells_decide():
    tasks = [SlotTask(0, 0, release_s=1.0, n_tokens=520)]
    both = {0: [timed(1.1)], 1: [timed(1.2)]}
    match = match_tasks(tasks, both, offset_s=0.0)
    assert match.slots == {0: [], 1: []} and match.ambiguous == 1
    sized = {0: [timed(1.1, prompt=300)], 1: [timed(1.2, prompt=515)]}
    assert match_tasks(tasks, sized, offset_s=0.0).slots == {0: [], 1: [0]}


def test_reuse_while_typing_leaves_out_the_arrival_run():
    runs = [run(1000, 0, 5, "arrival"), run(1010, 1000, 5), run(1020, 990, 5)]
    figures = reuse(runs)
    assert figures["typing_reuse_pct"] == round(100 * 1990 / 2030, 1)
    assert figures["overall_reuse_pct"] == round(100 * 1990 / 3030, 1)
    assert (figures["typing_prompt_tokens"], figures["typing_reused_tokens"]) == (2030, 1990)
    assert reuse([])["typing_reuse_pct"] is None


def test_a_developers_figures_count_errors_and_requests_never_answered_apart():
    figures = developer_figures(record(0, [100.0, 200.0, 300.0], [], error=2, missing=1))
    assert (figures["fresh_p50_ms"], figures["fresh_p95_ms"]) == (200.0, 300.0)
    assert (figures["errors"], figures["unanswered"], figures["slots"]) == (2, 1, [0])


def test_a_group_pools_latencies_and_divides_tokens_by_the_typing_phase():
    records = [
        record(0, [100.0, 300.0], [run(1000, 0, 10, "arrival"), run(1000, 990, 10)]),
        record(1, [200.0], [run(500, 0, 20, "arrival")], missing=1),
    ]
    g = group_figures(records, phase_s=10.0, selection={"id": 0, "lcp": 1, "lru": 2})
    assert g["developer_p50_ms"] == [100.0, 200.0]  # of two, the nearest rank rounds to even
    assert g["fresh_p50_ms"] == 200.0
    assert (g["errors"], g["unanswered"], g["model_runs"]) == (0, 1, 3)
    assert g["generated_tok_per_s"] == 4.0
    assert g["evaluated_tok_per_s"] == round((1000 + 10 + 500) / 10, 1)
    assert g["typing_reuse_pct"] == 99.0
    assert g["slots_per_developer_max"] == 1
    assert g["accepted_pct"] == 50.0


def shared(p50: float, devs: list[float], unanswered: int, sent: int, reused: int) -> dict:
    return {
        "fresh_p50_ms": p50,
        "developer_p50_ms": devs,
        "unanswered": unanswered,
        "typing_prompt_tokens": sent,
        "typing_reused_tokens": reused,
        "typing_reuse_pct": round(100 * reused / sent, 1),
    }


def test_the_goals_judge_the_slowest_developer_at_four_against_one():
    groups = {
        "1": {"shared": shared(100.0, [100.0], 0, 1000, 950), "local": {"unanswered": 2}},
        "4": {"shared": shared(180.0, [150.0, 190.0, 210.0, 170.0], 0, 3000, 2700)},
    }
    checks = goals(groups)
    assert checks["p50_n4_over_n1_pooled"] == 1.8
    assert checks["p50_n4_over_n1_worst_developer"] == 2.1
    assert checks["p50_goal_met"] is False
    assert checks["unanswered_shared"] == 0 and checks["unanswered_goal_met"] is True
    assert checks["unanswered_all"] == 2
    assert checks["typing_reuse_pct_shared"] == round(100 * 3650 / 4000, 1)
    assert checks["typing_reuse_pct_lowest_n"] == 90.0
    assert checks["reuse_goal_met"] is True


def test_goals_without_the_runs_they_need_are_left_open():
    checks = goals({"2": {"local": {"unanswered": 0}}})
    assert checks["p50_goal_met"] is None
    assert checks["unanswered_goal_met"] is None
    assert checks["reuse_goal_met"] is None


def test_the_table_has_a_row_per_n_and_configuration():
    records = [record(0, [100.0], [run(1000, 0, 10, "arrival"), run(1000, 990, 10)])]
    groups = {"1": {"shared": group_figures(records, 5.0, {"id": 0, "lcp": 1, "lru": 1})}}
    text = table(groups, goals(groups))
    assert "  1 shared" in text and "99%" in text
    assert "N=1 shared: slot chosen by" in text and text.splitlines()[-1].startswith("goals:")
