"""The next-edit benchmark's plain logic (benchmarks/next_edit_cases.py): cases from a made-up
commit in the data's format, UTF-16 positions, exact and location scores, and the summary."""

import gzip
import json

from benchmarks.next_edit_cases import (
    CaseRecord,
    Truth,
    applied_edits,
    cases_of,
    choose_cases,
    edit_lines,
    goals_met,
    grouped,
    is_exact,
    location_right,
    offset_of,
    position_of,
    read_commits,
    score,
    summarize,
    table,
)

BEFORE = (
    "def total(items):\n"
    "    result = 0\n"
    "    for item in items:\n"
    "        result += item\n"
    "    return result\n"
)
COMMIT = {
    "repo": "someone/calc",
    "license": "MIT",
    "commit": "0123456789abcdef0123456789abcdef01234567",
    "path": "calc/total.py",
    "subject": "rename items to products",
    "before": BEFORE,
    "hunks": [
        {"start": 0, "old": ["def total(items):"], "new": ["def total(products):"]},
        {"start": 2, "old": ["    for item in items:"], "new": ["    for item in products:"]},
        {"start": 4, "old": [], "new": ["    # the sum of the prices"]},
    ],
}


def edit(line: int, character: int, end_line: int, end_character: int, text: str) -> dict:
    return {
        "range": {
            "start": {"line": line, "character": character},
            "end": {"line": end_line, "character": end_character},
        },
        "text": text,
    }


def test_a_commit_of_three_hunks_gives_two_next_cases_and_one_nothing_case():
    cases = cases_of(COMMIT, "train")
    assert [(c.kind, c.applied, c.hunks) for c in cases] == [
        ("next", 1, 3),
        ("next", 2, 3),
        ("nothing", 3, 3),
    ]
    assert [c.id for c in cases] == [f"someone/calc@0123456789#{k}" for k in (1, 2, 3)]
    first = cases[0]
    assert first.opened == BEFORE
    assert first.text == BEFORE.replace("total(items)", "total(products)")
    # The change is only what differs (the common "s" stays); the cursor ends the line.
    assert [(c.start, c.end, c.text) for c in first.changes] == [(10, 14, "product")]
    assert first.cursor == len("def total(products):")
    assert first.truth == Truth(2, ("    for item in items:",), ("    for item in products:",))
    assert first.expected == cases[1].text


def test_each_case_replays_the_earlier_hunks_in_order_and_the_last_expects_no_change():
    cases = cases_of(COMMIT, "train")
    second, last = cases[1], cases[2]
    text = second.opened
    for change in second.changes:
        text = text[: change.start] + change.text + text[change.end :]
    assert text == second.text and len(second.changes) == 2
    # The insertion's line is counted in the text the earlier hunks left.
    assert second.truth == Truth(4, (), ("    # the sum of the prices",))
    assert last.truth is None and last.expected == last.text
    assert last.cursor == last.text.index("prices") + len("prices")
    assert last.text.endswith(
        "        result += item\n    # the sum of the prices\n    return result\n"
    )


def test_a_sample_is_seeded_and_keeps_the_datas_order(tmp_path):
    other = {**COMMIT, "commit": "f" * 40}
    with gzip.open(tmp_path / "train.jsonl.gz", "wt") as handle:
        handle.write("\n".join(json.dumps(c) for c in (COMMIT, other)) + "\n")
    commits = read_commits("train", tmp_path)
    assert len(choose_cases(commits, "train", 0, 0)) == 6
    picked = choose_cases(commits, "train", 3, seed=7)
    assert [c.id for c in picked] == [c.id for c in choose_cases(commits, "train", 3, seed=7)]
    everything = [c.id for c in choose_cases(commits, "train", 0, 0)]
    assert [c.id for c in picked] == [i for i in everything if i in {c.id for c in picked}]


def test_positions_count_utf16_units_as_the_server_does():
    text = "a = '𝔘x'\nb = 1\n"
    assert position_of(text, text.index("x")) == (0, 7)
    assert offset_of(text, 0, 7) == text.index("x")
    assert offset_of(text, 1, 99) == text.index("\n", 10)  # clamped to the line
    assert offset_of(text, 9, 0) == len(text)


def test_exact_ignores_trailing_whitespace_only():
    assert is_exact("x = 1  \ny = 2\n\n", "x = 1\ny = 2")
    assert not is_exact("x = 1\ny = 3\n", "x = 1\ny = 2\n")
    assert not is_exact("x = 1\n    y = 2\n", "x = 1\ny = 2\n")


def test_the_suggestion_is_applied_at_its_utf16_range():
    text = "s = '𝔘'\nold()\n"
    assert applied_edits(text, [edit(1, 0, 1, 3, "new")]) == "s = '𝔘'\nnew()\n"
    assert applied_edits(text, [edit(0, 5, 0, 7, "u"), edit(1, 0, 1, 0, "# ")]) == (
        "s = 'u'\n# old()\n"
    )


def test_location_means_overlapping_the_true_hunks_lines():
    truth = Truth(5, ("a", "b"), ("c",))  # lines 5 and 6
    assert location_right([edit(6, 2, 6, 4, "x")], truth)
    assert location_right([edit(3, 0, 5, 0, "x\n"), edit(5, 1, 5, 1, "y")], truth)
    # A range ending at the start of line 5 touches lines 3 and 4 only.
    assert edit_lines(edit(3, 0, 5, 0, "")) == (3, 4)
    assert not location_right([edit(3, 0, 5, 0, "x\n")], truth)
    assert not location_right([edit(7, 0, 7, 1, "")], truth)
    assert not location_right([edit(5, 0, 5, 1, "")], None)


def test_an_insertion_is_located_by_the_lines_either_side():
    truth = Truth(4, (), ("new line",))  # goes between lines 3 and 4
    assert location_right([edit(3, 0, 3, 2, "")], truth)
    assert location_right([edit(4, 0, 4, 0, "new line\n")], truth)
    assert not location_right([edit(2, 0, 2, 1, "")], truth)


def test_a_record_is_scored_from_the_offered_edits():
    case = cases_of(COMMIT, "train")[0]
    right = edit(2, 16, 2, 21, "products")
    record = CaseRecord(case.id, "train", case.repo, case.path, case.kind, 1, 3)
    score(record, case, [right], lambda text: text.count("("))
    assert (record.offered, record.exact, record.location) == (True, True, True)
    assert record.errors_after == record.errors_before
    wrong = CaseRecord(case.id, "train", case.repo, case.path, case.kind, 1, 3)
    score(wrong, case, [edit(3, 8, 3, 14, "total(")], lambda text: text.count("("))
    assert (wrong.exact, wrong.location, wrong.errors_after - wrong.errors_before) == (
        False,
        False,
        1,
    )
    nothing = CaseRecord(case.id, "train", case.repo, case.path, case.kind, 1, 3)
    score(nothing, case, [], lambda text: 0)
    assert not nothing.offered and not nothing.exact


def record(repo: str, kind: str, **scores) -> CaseRecord:
    return CaseRecord("id", "bench", repo, "p.py", kind, 1, 2, **scores)


def test_the_summary_counts_next_cases_nothing_cases_and_latency_apart():
    records = [
        record("a/x", "next", offered=True, exact=True, location=True, latency_ms=100.0),
        record("a/x", "next", offered=True, location=True, latency_ms=300.0),
        record("b/y", "next", latency_ms=200.0),
        record("b/y", "next", error="no answer within 300 s"),
        record("a/x", "nothing", latency_ms=400.0),
        record("b/y", "nothing", offered=True, errors_before=1, errors_after=2, latency_ms=500.0),
    ]
    s = summarize(records)
    assert (s["cases"], s["next_cases"], s["nothing_cases"]) == (6, 4, 2)
    assert (s["exact"], s["exact_pct"], s["exact_of_offered_pct"]) == (1, 25.0, 50.0)
    assert (s["location_pct"], s["offered_pct"]) == (50.0, 50.0)
    assert (s["rightly_nothing"], s["rightly_nothing_pct"]) == (1, 50.0)
    assert s["syntax_errors_added"] == 1 and s["errors"] == 1
    assert (s["p50_ms"], s["p95_ms"]) == (300.0, 500.0)
    assert goals_met(s) == {
        "exact_pct": True,
        "p50_ms": True,
        "p95_ms": True,
        "syntax_errors_added": False,
    }


def test_the_summary_is_per_split_and_repository_and_prints_as_a_table():
    records = [record("a/x", "next", exact=True, offered=True), record("b/y", "nothing")]
    splits = grouped(records)
    assert list(splits) == ["bench"] and list(splits["bench"]) == ["all", "a/x", "b/y"]
    assert splits["bench"]["a/x"]["exact_pct"] == 100.0
    assert splits["bench"]["b/y"]["exact_pct"] is None
    assert splits["bench"]["all"]["goals"]["p50_ms"] is None
    lines = table(splits).splitlines()
    assert lines[0].split()[:3] == ["split", "repository", "next"]
    assert lines[2].split()[:4] == ["bench", "all", "1", "100%"]
    assert len(lines) == 6


def test_an_inserted_block_is_sent_where_it_goes_and_the_cursor_ends_it():
    # Lines that start like the one below them: a diff of the whole texts would put the edit
    # one line down, and the cursor after the next line's indentation.
    commit = {
        **COMMIT,
        "before": "def f():\n    x = 1\n",
        "hunks": [
            {"start": 1, "old": [], "new": ["    # why"]},
            {"start": 1, "old": ["    x = 1"], "new": ["    x = 2"]},
        ],
    }
    first = cases_of(commit, "train")[0]
    assert [(c.start, c.end, c.text) for c in first.changes] == [(9, 9, "    # why\n")]
    assert first.cursor == len("def f():\n    # why")
    assert first.truth == Truth(2, ("    x = 1",), ("    x = 2",))


def test_a_last_line_without_a_line_break_can_be_removed():
    commit = {
        **COMMIT,
        "before": "a = 1\nb = 2\nc = 3",
        "hunks": [
            {"start": 0, "old": ["a = 1"], "new": ["a = 0"]},
            {"start": 2, "old": ["c = 3"], "new": []},
        ],
    }
    last = cases_of(commit, "train")[-1]
    text = last.opened
    for change in last.changes:
        text = text[: change.start] + change.text + text[change.end :]
    assert text == last.text == "a = 0\nb = 2"
