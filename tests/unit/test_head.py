"""When the prompt head may change: the policy of completion.head and the held window, with
plain data."""

from lsp_server.completion.generate import Plan
from lsp_server.completion.head import Head, HeadPolicy, fingerprint
from lsp_server.completion.prompts import ContextFile
from lsp_server.completion.window import cursor_window, held_window
from lsp_server.config import Settings
from lsp_server.text.documents import DocumentStore

URI = "file:///w/a.py"
OTHER = "file:///w/b.py"
TEXT = "".join(f"line_{i} = {i}\n" for i in range(40))
PLAN = Plan((ContextFile("lib.py", "def helper(): ..."),), "a.py", "w")


def snap(text: str, uri: str = URI):
    documents = DocumentStore()
    return documents.open(uri, "python", 1, text)


def held_at(policy: HeadPolicy, text: str, cursor: int, start: int = 0) -> None:
    line = text.count("\n", 0, cursor)
    policy.hold(Head(URI, PLAN, start, fingerprint(text, start, cursor), line, settled=True))


def test_nothing_held_is_an_arrival() -> None:
    head, cause = HeadPolicy().held(snap(TEXT), 10)
    assert head is None and cause == "arrival"


def test_typing_on_the_line_keeps_the_head() -> None:
    policy = HeadPolicy()
    cursor = TEXT.index("line_20")
    held_at(policy, TEXT, cursor)
    typed = TEXT[:cursor] + "new_name = other_name(" + TEXT[cursor:]
    head, cause = policy.held(snap(typed), cursor + len("new_name = other_name("))
    assert cause == "typing" and head.plan == PLAN and head.start == 0


def test_typing_a_few_lines_down_keeps_the_head() -> None:
    policy = HeadPolicy()
    cursor = TEXT.index("line_20")
    held_at(policy, TEXT, cursor)
    typed = TEXT[:cursor] + "a = 1\n    b = 2\n    c = 3\n" + TEXT[cursor:]
    head, cause = policy.held(snap(typed), cursor + len("a = 1\n    b = 2\n    c = 3\n"))
    assert cause == "typing" and head is not None


def test_a_jump_elsewhere_in_the_file_is_an_arrival() -> None:
    policy = HeadPolicy()
    held_at(policy, TEXT, TEXT.index("line_5"))
    head, cause = policy.held(snap(TEXT), TEXT.index("line_30"))
    assert head is None and cause == "arrival"


def test_an_edit_above_the_place_drops_the_head() -> None:
    policy = HeadPolicy()
    cursor = TEXT.index("line_20")
    held_at(policy, TEXT, cursor)
    edited = "import os\n" + TEXT
    head, _ = policy.held(snap(edited), cursor + len("import os\n"))
    assert head is None


def test_going_to_another_file_says_so() -> None:
    policy = HeadPolicy()
    held_at(policy, TEXT, 10)
    policy.held(snap(TEXT), 10)
    head, cause = policy.held(snap(TEXT, OTHER), 10)
    assert head is None and cause == "file"


def test_a_prepared_head_is_taken_and_named_for_what_changed() -> None:
    policy = HeadPolicy()
    cursor = TEXT.index("line_20")
    held_at(policy, TEXT, cursor)
    better = Plan((ContextFile("lib.py", "def helper2(): ..."),), "a.py", "w")
    policy.offer(URI, Head(URI, better, 0, fingerprint(TEXT, 0, cursor), 20))
    head, cause = policy.held(snap(TEXT), cursor)
    assert head.plan == better and cause == "context"
    policy.offer(URI, Head(URI, PLAN, 64, fingerprint(TEXT, 64, cursor), 20))
    head, cause = policy.held(snap(TEXT), cursor)
    assert head.start == 64 and cause == "window"


def test_until_a_run_on_a_new_head_finishes_its_cost_is_the_arrivals() -> None:
    policy = HeadPolicy()
    cursor = TEXT.index("line_20")
    policy.hold(Head(URI, PLAN, 0, fingerprint(TEXT, 0, cursor), 20))
    head, cause = policy.held(snap(TEXT), cursor)
    assert head is not None and cause == "arrival"  # superseded before it finished
    policy.settle(URI, 0)
    assert policy.held(snap(TEXT), cursor)[1] == "typing"


def test_a_forgotten_document_holds_nothing() -> None:
    policy = HeadPolicy()
    held_at(policy, TEXT, 10)
    policy.forget(URI)
    assert policy.current(URI) is None


def count(line: str) -> int:
    return max(len(line) // 4, 1)


def test_a_held_window_keeps_its_start_within_the_slack() -> None:
    cursor = TEXT.index("line_30")
    fresh = cursor_window(TEXT, cursor, 64, count)
    grown = TEXT[:cursor] + "more = 1\n" + TEXT[cursor:]
    held = held_window(grown, fresh.start, cursor + 9, 64, count, slack=0.5)
    assert held is not None and held.start == fresh.start
    assert held.prefix == grown[fresh.start : cursor + 9]


def test_a_held_window_that_outgrew_its_slack_must_move() -> None:
    cursor = TEXT.index("line_30")
    fresh = cursor_window(TEXT, cursor, 64, count)
    grown = TEXT[:cursor] + "more = 1\n" * 30 + TEXT[cursor:]
    assert held_window(grown, fresh.start, cursor + 9 * 30, 64, count, slack=0.5) is None
    assert held_window(TEXT, cursor + 1, cursor, 64, count) is None  # a start past the cursor


def test_an_arrival_in_the_same_document_keeps_the_snippets_it_left() -> None:
    policy = HeadPolicy()
    held_at(policy, TEXT, TEXT.index("line_5"))
    policy.held(snap(TEXT), TEXT.index("line_5"))
    head, cause = policy.held(snap(TEXT), TEXT.index("line_30"))
    assert head is None and cause == "arrival"
    assert policy.left_behind(URI, cause, False, Settings()) == PLAN


def test_the_snippets_are_gathered_afresh_after_another_document_or_when_asked() -> None:
    policy = HeadPolicy()
    held_at(policy, TEXT, TEXT.index("line_5"))
    policy.held(snap(TEXT), TEXT.index("line_5"))
    policy.held(snap(TEXT, OTHER), 3)
    _, cause = policy.held(snap(TEXT), TEXT.index("line_30"))
    assert cause == "file" and policy.left_behind(URI, cause, False, Settings()) is None
    assert policy.left_behind(URI, "arrival", True, Settings()) is None
    off = Settings(cross_file_budget=0)
    assert policy.left_behind(URI, "arrival", False, off) is None
    assert HeadPolicy().left_behind(URI, "arrival", False, Settings()) is None
