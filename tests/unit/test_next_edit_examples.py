"""Next-edit training examples from commits (lsp_server/tuning/commits.py and
next_edit_examples.py), with plain data: the states of a commit, the prompt the server would
build for each, the target, and what is left out and why."""

from lsp_server.next_edit.prompts import layout_for
from lsp_server.next_edit.region import RADIUS
from lsp_server.next_edit.service import NextEditService
from lsp_server.runtime.scheduler import Scheduler
from lsp_server.text.documents import Change, DocumentStore
from lsp_server.tuning.commits import CommitHunk, FileCommit, replay
from lsp_server.tuning.encoding import IGNORE, encode_example
from lsp_server.tuning.next_edit_examples import (
    NEXT,
    NOTHING,
    NextEditSettings,
    commit_examples,
    mine_examples,
)
from tests.unit.test_next_edit_bench import BEFORE
from tests.unit.test_next_edit_service import ChatEngine

LAYOUT = layout_for("qwen2.5-coder")
END = LAYOUT.region_end
RENAME = FileCommit(
    repo="someone/calc",
    commit="0123456789abcdef0123456789abcdef01234567",
    path="calc/total.py",
    before=BEFORE,
    hunks=(
        CommitHunk(0, ("def total(items):",), ("def total(products):",)),
        CommitHunk(2, ("    for item in items:",), ("    for item in products:",)),
        CommitHunk(5, (), ("    # the sum of the prices",)),
    ),
)
SETTINGS = NextEditSettings()


def examples_of(commit: FileCommit, engine: ChatEngine | None = None):
    engine = engine or ChatEngine([])
    return commit_examples(commit, LAYOUT, engine.chat_prompt, engine.count_tokens, SETTINGS)


def test_each_state_but_the_last_asks_for_the_next_hunk_and_the_last_for_nothing() -> None:
    mined = examples_of(RENAME)
    assert [(e.kind, e.applied) for e in mined.next] == [(NEXT, 1), (NEXT, 2)]
    first, second = mined.next
    assert first.target == (
        "def total(products):\n"
        "    result = 0\n"
        "    for item in products:\n"
        "        result += item\n"
        f"    return result\n{END}"
    )
    # The region ends before the empty line after the final line break; a hunk inserted just
    # after its last line is inside it.
    assert second.target.endswith(f"    return result\n    # the sum of the prices\n{END}")
    user = first.prompt.segments[1].text
    assert "-def total(items):\n+def total(products):" in user
    assert f"def total(products):{LAYOUT.cursor}\n" in user and "calc/total.py" in user
    # The second prompt shows both edits made so far, oldest first.
    user = second.prompt.segments[1].text
    assert user.index("+def total(products):") < user.index("+    for item in products:")
    assert mined.nothing is not None and mined.nothing.kind == NOTHING
    assert mined.nothing.target.startswith("def total(products):\n")
    assert "# the sum of the prices\n" + END in mined.nothing.target
    assert not mined.skipped


async def test_a_training_prompt_is_the_prompt_the_server_asks_with() -> None:
    """The commit replayed into the server's next-edit service, each hunk an incremental
    change as lsp/sync.py hands it over: the engine gets the very prompts mined from it."""
    engine = ChatEngine([f"x{END}", f"x{END}"])
    documents = DocumentStore()
    uri = "file:///w/calc/total.py"
    service = NextEditService(documents, Scheduler(), _returns(engine), lambda _uri: RENAME.path)
    documents.open(uri, "python", 1, RENAME.before)
    served = []
    for step in replay(RENAME)[:2]:
        change = step.change
        assert change is not None
        before = documents.get(uri)
        start, end = before.pos_at(change.start), before.pos_at(change.end)
        after = documents.change(uri, before.version + 1, [Change(change.text, start, end)])
        service.changed(before, after, (start.line, start.line + change.text.count("\n")))
        await service.suggest(uri, after.version, after.pos_at(step.cursor))
        served.append(engine.prompts[-1])
    assert served == [e.prompt for e in examples_of(RENAME, engine).next]


def _returns(engine: ChatEngine):
    async def current() -> ChatEngine:
        return engine

    return current


def test_a_next_hunk_outside_the_region_is_left_out_and_counted() -> None:
    body = [f"    x{i} = {i}" for i in range(60)]
    before = "def f():\n" + "\n".join(body) + "\n"
    far = FileCommit(
        "r",
        "c" * 40,
        "far.py",
        before,
        (
            CommitHunk(1, ("    x0 = 0",), ("    x0 = 100",)),
            CommitHunk(
                2 + 3 * RADIUS, (f"    x{1 + 3 * RADIUS} = {1 + 3 * RADIUS}",), ("    y = 1",)
            ),
        ),
    )
    mined = examples_of(far)
    assert mined.next == [] and mined.skipped == {"the next hunk outside the region": 1}
    assert mined.nothing is not None


def test_what_the_server_refuses_and_unknown_languages_are_left_out() -> None:
    binary = FileCommit("r", "b" * 40, "blob.py", "a = 1\x00\nb = 2\n", RENAME.hunks[:0])
    assert examples_of(binary).skipped == {}
    binary = FileCommit(
        "r", "b" * 40, "blob.py", "a = 1\x00\nb = 2\n", (CommitHunk(1, ("b = 2",), ("b = 3",)),)
    )
    assert examples_of(binary).skipped == {"the document is binary (it holds NUL bytes)": 1}
    text = FileCommit("r", "t" * 40, "notes.txt", BEFORE, RENAME.hunks)
    assert examples_of(text).skipped == {"not in a language Tide supports": 1}
    wrong = FileCommit("r", "w" * 40, "w.py", BEFORE, (CommitHunk(0, ("nope",), ("yes",)),))
    assert examples_of(wrong).skipped == {"hunks that do not match the file": 1}


def test_nothing_examples_are_a_small_seeded_share_and_each_commit_stays_together() -> None:
    engine = ChatEngine([])
    commits = [
        FileCommit(RENAME.repo, f"{n:040d}", f"calc/t{n}.py", BEFORE, RENAME.hunks)
        for n in range(12)
    ]
    settings = NextEditSettings(nothing_share=0.2, seed=3)
    mined = mine_examples(commits, LAYOUT, engine.chat_prompt, engine.count_tokens, settings)
    kinds = [e.kind for e in mined.examples]
    assert kinds.count(NEXT) == 24 and kinds.count(NOTHING) == 6  # 6 of 30 is 0.2
    assert (mined.summary.next, mined.summary.nothing, mined.summary.commits) == (24, 6, 12)
    order = [(e.commit, e.applied) for e in mined.examples]
    assert order == sorted(order)
    again = mine_examples(commits, LAYOUT, engine.chat_prompt, engine.count_tokens, settings)
    assert again.examples == mined.examples
    none = NextEditSettings(nothing_share=0.0)
    mined = mine_examples(commits, LAYOUT, engine.chat_prompt, engine.count_tokens, none)
    assert all(e.kind == NEXT for e in mined.examples)
    assert "24 next-edit examples and 0 with nothing to do from 12" in mined.summary.describe()


class WordTokenizer:
    """Markers one id each, other text one id per character, segments tokenized apart."""

    def prompt_tokens(self, prompt) -> list[int]:
        ids: list[int] = []
        for segment in prompt.segments:
            ids.extend([1] if segment.special else [ord(c) for c in segment.text])
        return ids


def test_the_loss_is_on_the_target_alone() -> None:
    example = examples_of(RENAME).next[0]
    encoded = encode_example(example, WordTokenizer())
    prompt_ids = WordTokenizer().prompt_tokens(example.prompt)
    assert encoded.input_ids[: len(prompt_ids)] == tuple(prompt_ids)
    assert set(encoded.labels[: len(prompt_ids)]) == {IGNORE}
    target = "".join(chr(i) for i in encoded.labels[len(prompt_ids) :])
    assert target == example.target and target.endswith(END)
