"""The typing replay's rules (benchmarks/replay_policy.py): what the simulated user types, sees
and accepts, and the arithmetic of its summary, on literal data."""

from benchmarks.replay_policy import (
    KeyEvent,
    Pauses,
    RegionRecord,
    RequestFact,
    bucket,
    decide_accept,
    ghost_text,
    histogram,
    infer_cause,
    leaves_a_closer_ahead,
    next_key,
    pause_after,
    plain_region,
    split_region,
    summarize,
    tally,
    vim_ghost,
    vim_window,
)


def test_a_suggestion_that_is_all_right_is_accepted_whole():
    accept = decide_accept("append(x)", "append(x)\n    return y")
    assert (accept.kind, accept.text) == ("whole", "append(x)")


def test_a_multi_line_suggestion_right_in_its_first_line_only_is_accepted_by_line():
    accept = decide_accept("total = 0\n    for x in xs:", "total = 0\n    while True:")
    assert (accept.kind, accept.text) == ("line", "total = 0")


def test_a_suggestion_right_in_its_first_words_is_accepted_word_by_word_as_far_as_it_is_right():
    accept = decide_accept("self.items.append(item)", "self.items.extend(more)")
    assert (accept.kind, accept.text) == ("word", "self.items.")


def test_word_accepts_may_run_past_the_first_line_when_that_is_longer():
    accept = decide_accept("a = 1\n    b = 2\n    c", "a = 1\n    b = 2\n    d = 4")
    assert (accept.kind, accept.text) == ("word", "a = 1\n    b = 2")


def test_a_word_right_only_in_part_is_not_accepted_so_the_suggestion_is_wrong():
    assert decide_accept("items", "itemize()").kind == "wrong"
    assert decide_accept("return None", "raise ValueError").kind == "wrong"


def test_nothing_shown_is_nothing_to_accept():
    assert decide_accept("", "anything").kind == "none"


def test_a_suggestion_running_past_the_region_is_not_whole_but_its_right_part_is_taken():
    accept = decide_accept("x)\nprint(x)", "x)")
    assert (accept.kind, accept.text) == ("line", "x)")


def test_enter_carries_the_next_lines_indentation_and_other_keys_are_one_character():
    target = "if x:\n        y = 1\n\nz"
    assert next_key(target, 0) == ("i", "char")
    assert next_key(target, 5) == ("\n        ", "enter")
    assert next_key(target, 19) == ("\n", "enter")  # a blank line has no indentation
    assert next_key("\tgo\n\treturn", 3) == ("\n\t", "enter")


def test_pauses_follow_what_was_just_inserted():
    pauses = Pauses(key_ms=150, arrival_ms=1500, line_ms=600, punctuation_ms=300)
    assert pause_after("", "arrival", pauses) == 1500
    assert pause_after("\n    ", "enter", pauses) == 600
    assert pause_after("a", "char", pauses) == 150
    assert [pause_after(c, "char", pauses) for c in ".(=,:"] == [300] * 5
    assert pause_after("foo(x)\n", "accept", pauses) == 600  # an accept that ends a line
    assert pause_after("self.", "accept", pauses) == 300


def test_the_ghost_is_what_the_item_adds_after_what_is_typed():
    text = "x = foo.ba\n"
    assert ghost_text(text, 10, 8, 10, "bar()") == "r()"
    assert ghost_text(text, 10, 10, 10, "r()") == "r()"
    assert ghost_text(text, 10, 8, 10, "baz") == "z"
    assert ghost_text(text, 10, 8, 10, "qux") == ""  # does not continue what is typed


def test_llama_vim_drops_trailing_empty_lines_and_blank_answers():
    assert vim_ghost("foo()\n\n", "x = ") == "foo()"
    assert vim_ghost("  \n", "x = ") == ""


def test_llama_vim_lays_the_answers_indentation_over_a_blank_lines():
    # On a line of only spaces llama.vim sends no line and completes from column 0.
    assert vim_ghost("        return x\n    y", "    ") == "    return x\n    y"
    assert vim_ghost("  return x", "    ") == "return x"


def test_llama_vim_window_is_lines_before_the_line_up_to_the_cursor_and_lines_after():
    text = "a\nb\nc = d\ne\nf\n"
    cursor = text.index("= d")
    assert vim_window(text, cursor, n_prefix=1, n_suffix=1) == ("b\n", "c ", "= d\ne\n")
    assert vim_window(text, cursor) == ("a\nb\n", "c ", "= d\ne\nf\n")


def test_llama_vim_window_on_a_line_of_spaces_sends_neither_line_part():
    text = "def f():\n    \nx\n"
    assert vim_window(text, text.index("\nx"), n_prefix=5, n_suffix=5) == (
        "def f():\n",
        "",
        "\nx\n",
    )


def test_histogram_buckets():
    assert [bucket(n) for n in (0, 1, 16, 17, 64, 65, 256, 257)] == [
        "0", "1-16", "1-16", "17-64", "17-64", "65-256", "65-256", ">256",
    ]  # fmt: skip
    assert histogram([0, 0, 3, 400]) == {"0": 2, "1-16": 1, "17-64": 0, "65-256": 0, ">256": 1}


def test_causes_inferred_where_the_server_gives_none():
    first = {"uri": "a", "kind": "request", "files_tokens": 40}
    assert infer_cause(first, None) == "arrival"
    assert infer_cause({"uri": "b", "kind": "request"}, first) == "file switch"
    assert infer_cause({"uri": "a", "kind": "ahead"}, first) == "ahead-of-accept"
    assert infer_cause({"uri": "a", "kind": "request", "files_tokens": 60}, first) == (
        "context change"
    )
    assert infer_cause({"uri": "a", "kind": "request", "files_tokens": 40}, first) == "unknown"


def test_a_region_is_cut_so_that_typing_it_rebuilds_the_file():
    text = "a\n  b\n  c\nd\n"
    region = split_region(text, 1, 2)
    assert region.opened == "a\n  \nd\n"
    assert region.cursor == len("a\n  ")
    assert region.target == "b\n  c"
    assert region.on_disk == "a\nd\n"
    typed = region.opened[: region.cursor] + region.target + region.opened[region.cursor :]
    assert typed == text


def test_regions_of_comments_blank_lines_or_trailing_spaces_are_not_retyped():
    code = ["def f(x):", "    y = x + 1", "    return y"]
    assert plain_region(code, 200)
    assert not plain_region(["# one", "# two", "# three"], 200)
    assert not plain_region(["x = 1", "", "", "", "y = 2"], 200)
    assert not plain_region(["", "x = 1", "y = 2"], 200)
    assert not plain_region(["x = 1", "y = 2", ""], 200)
    assert not plain_region(["x = 1 ", "y = 2"], 200)
    assert not plain_region(code, 20)


def event(index, kind, inserted="", shown="", shown_ms=None, accept_kind="", wrong=False):
    return KeyEvent(index, kind, inserted, 0, 0.0, 150.0, f"r-{index}", accept_kind, shown,
                    shown_ms, wrong)  # fmt: skip


def test_tally_counts_characters_by_how_they_came_and_line_starts_served():
    events = [
        event(0, "arrival", shown="retur", shown_ms=900.0),  # seen within 1 s: served
        event(1, "accept", "retur", accept_kind="word"),
        event(2, "char", "n", shown="x", shown_ms=100.0, wrong=True),
        event(3, "enter", "\n    ", shown="y", shown_ms=1200.0),  # seen, but after 1 s
        event(4, "char", "z"),
    ]
    requests = [
        RequestFact("r-0", 0, 0.0, "answer", 900.0),
        RequestFact("r-1", 1, 1500.0, "cancelled", 5.0),
        RequestFact("r-2", 2, 1700.0, "answer", 100.0),
        RequestFact("r-3", 3, 1900.0, "empty", 80.0),
        RequestFact("r-4", 4, 2600.0, "missing"),
    ]
    record = RegionRecord("tide", "py/x.py:3", "python", chars=11)
    tally(record, events, requests)
    assert (record.accepted_chars, record.typed_chars, record.auto_indent_chars) == (5, 3, 4)
    assert record.accepts == {"word": 1}
    assert (record.keys, record.seen, record.wrong) == (4, 3, 1)
    assert (record.line_starts, record.line_starts_served) == (2, 1)
    assert record.fresh_ms == [900.0, 100.0]
    assert record.responses == {"answer": 2, "cancelled": 1, "empty": 1, "missing": 1}


def region_dict(config, language, chars, accepted, runs, fresh):
    record = RegionRecord(config, f"{language}/f:1", language, chars, accepted_chars=accepted,
                          keys=10, seen=5, line_starts=2, line_starts_served=1, fresh_ms=fresh,
                          responses={"answer": 4, "error": 1}, runs=runs)  # fmt: skip
    return record.__dict__


def run(evaluated, cause):
    return {"version": 2, "kind": "request", "evaluated_tokens": evaluated, "cause": cause}


def test_summary_arithmetic():
    records = [
        region_dict("tide", "python", 100, 30, [run(400, "arrival"), run(3, "unknown")], [100.0]),
        region_dict(
            "tide",
            "go",
            50,
            0,
            [run(300, "arrival"), run(40, "context change")],
            [200.0, 300.0, 400.0],
        ),  # fmt: skip
    ]
    s = summarize(records)
    assert (s["chars"], s["accepted_chars"], s["accepted_pct"]) == (150, 30, 20.0)
    assert (s["keys"], s["seen"], s["seen_per_key"]) == (20, 10, 0.5)
    assert (s["line_starts"], s["line_starts_served"], s["line_starts_served_pct"]) == (4, 2, 50.0)
    assert (s["fresh_p50_ms"], s["fresh_p95_ms"]) == (300.0, 400.0)
    assert s["errors"] == 2
    assert s["model_runs"] == 4 and s["unreported_runs"] == 0
    assert s["evaluated_histogram"] == {"0": 0, "1-16": 1, "17-64": 1, "65-256": 0, ">256": 2}
    # Runs while typing: all but the arrivals; one of the two re-evaluated at most 16 tokens.
    assert (s["typing_runs"], s["typing_runs_small_pct"]) == (2, 50.0)
    assert s["large_by_cause"] == {"arrival": 2, "context change": 1}
    assert [x["evaluated_tokens"] for x in s["large"]] == [400, 300, 40]


def test_summary_of_nothing_has_no_shares():
    s = summarize([])
    assert s["accepted_pct"] is None and s["fresh_p50_ms"] is None and s["seen_per_key"] is None


def test_a_region_that_closes_a_block_and_then_leaves_one_open_is_not_retyped():
    # The ninth run's FlowActionResultV2.ts:80: the interface opened last closes after the
    # region, where the user types the `}` before it.
    ts = ["    attributes: Attr[];", "}", "", "export interface Next", "    extends Base {"]
    assert leaves_a_closer_ahead(ts)
    # symbol.go:109: the `if` closes inside the region, the `for` after it.
    go = ["\tif len(a) == 0 {", "\t\treturn nil", "\t}", "\tfor _, s := range a {"]
    assert leaves_a_closer_ahead(go)
    # What it opens it closes; or it only closes; or it closes nothing: all typed as written.
    assert not leaves_a_closer_ahead(["\tif x {", "\t\ty()", "\t}", "\tz()"])
    assert not leaves_a_closer_ahead(["\t\ty()", "\t}", "\treturn z"])
    assert not leaves_a_closer_ahead(["func f() {", "\tx := 1", "\tif x {"])
    # A bracket in a string is no block.
    assert not leaves_a_closer_ahead(["\t}", '\ts := "{"'])
