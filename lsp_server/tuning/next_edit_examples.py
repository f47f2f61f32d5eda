"""Next-edit training examples from commits: each state a commit passes through, asked as the
server asks, with the commit's next hunk as the answer.

For a commit of n hunks and k = 1..n-1: the first k hunks applied, each recorded in an
`EditHistory` as the server records the edit that makes it; the cursor where the developer
left hunk k; the region, the request and the prompt made by the server's own functions
(`region_for`, `request_for`, `served_prompt`, with the served engine's context size), so a
training prompt is the prompt the adapter is then asked with. The target is the region
rewritten with hunk k+1 applied, then the layout's closing marker: the server stops reading
there, so no chat end token is needed. A next hunk the region does not cover is skipped (the
model cannot see where it goes), as is whatever the server would refuse.

A share of the examples has nothing to do: a commit cut after its last hunk, whose target is
the region unchanged, so the adapter learns that a finished edit needs no other.
"""

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from lsp_server.completion.prompts import Prompt, Segment
from lsp_server.config import DEFAULTS
from lsp_server.next_edit.edit import refusal, region_refusal
from lsp_server.next_edit.history import EditHistory
from lsp_server.next_edit.prompts import Layout, request_for, served_prompt
from lsp_server.next_edit.region import Region, region_for
from lsp_server.text.documents import Snapshot
from lsp_server.text.languages import language_for

from .commits import CommitHunk, FileCommit, apply_hunk, replay
from .errors import TuningError
from .examples import seeded_sample
from .files import counted

NEXT, NOTHING = "next", "nothing"


@dataclass(frozen=True)
class NextEditSettings:
    # Of all examples, those with nothing to do; real next-edit requests mostly come after an
    # edit that needs no other, but an adapter trained mostly on them learns to change nothing.
    nothing_share: float = 0.1
    # The context of the engine that will serve the adapter: the prompt gets the room the
    # server gives it (the `contextLength` setting).
    n_ctx: int = DEFAULTS.context_length
    max_examples: int = 5_000
    seed: int = 0

    def check(self) -> None:
        """Raise TuningError naming the first bad setting."""
        if not 0.0 <= self.nothing_share < 1.0:
            raise TuningError(f"the nothing share must be in [0, 1), not {self.nothing_share}")
        if self.n_ctx < 256:
            raise TuningError(f"the context must be at least 256 tokens, not {self.n_ctx}")
        if self.max_examples < 1:
            raise TuningError(f"max examples must be 1 or more, not {self.max_examples}")


@dataclass(frozen=True)
class NextEditExample:
    path: str
    commit: str
    applied: int  # hunks of the commit applied in the prompt's file
    kind: str  # NEXT: the target makes the commit's next hunk; NOTHING: it changes nothing
    prompt: Prompt
    target: str  # the region rewritten, "\n", the layout's region_end marker

    @property
    def location(self) -> str:
        return f"{self.path} at {self.commit[:10]} after hunk {self.applied}"

    def target_segments(self) -> tuple[Segment, ...]:
        # The markers are plain text in the layouts (see next_edit.prompts), so is the target.
        return (Segment(self.target),)


@dataclass
class MiningSummary:
    commits: int = 0
    next: int = 0
    nothing: int = 0  # kept, of those with nothing to do
    skipped: Counter[str] = field(default_factory=Counter)  # states left out, by reason

    def describe(self) -> str:
        text = (
            f"{self.next} next-edit examples and {self.nothing} with nothing to do "
            f"from {self.commits} file commits"
        )
        if self.skipped:
            text += f"; left out: {counted(self.skipped)}"
        return text


@dataclass(frozen=True)
class MinedExamples:
    examples: tuple[NextEditExample, ...]
    summary: MiningSummary


@dataclass(frozen=True)
class CommitExamples:
    """One commit's examples with something to do, its state after the last hunk (None when
    it was left out), and why other states were left out."""

    next: list[NextEditExample]
    nothing: NextEditExample | None
    skipped: Counter[str]


def region_with(region: Region, hunk: CommitHunk) -> str | None:
    """The region's text with the hunk (in the document's lines) applied; None when the hunk
    reaches outside the region. An insertion just after the region's last line is inside: the
    rewrite may add lines at its end."""
    if hunk.start < region.first or hunk.start + len(hunk.old) > region.last + 1:
        return None
    return "\n".join(apply_hunk(region.text.split("\n"), hunk.shifted(-region.first)))


def commit_examples(
    commit: FileCommit,
    layout: Layout,
    chat: Callable[[str, str], Prompt | None],
    count_tokens: Callable[[str], int],
    settings: NextEditSettings,
) -> CommitExamples:
    """The examples of one commit's states, made as the server makes its requests."""
    skipped: Counter[str] = Counter()
    language = language_for(path=commit.path)
    if language is None:
        skipped["not in a language Tide supports"] += 1
        return CommitExamples([], None, skipped)
    try:
        steps = replay(commit)
    except ValueError:
        skipped["hunks that do not match the file"] += 1
        return CommitExamples([], None, skipped)
    uri = f"file:///{commit.path}"
    history = EditHistory()
    found: list[NextEditExample] = []
    nothing: NextEditExample | None = None
    for step in steps:
        change = step.change
        if change is not None:
            # As lsp/sync.py reports an incremental change: its first line, and that line plus
            # the line breaks it typed.
            first = step.previous.count("\n", 0, change.start)
            history.record(uri, step.previous, step.text, first, first + change.text.count("\n"))
        snapshot = Snapshot(uri, step.applied + 1, language.id, step.text, None, language)
        region = region_for(snapshot, step.cursor, history)
        refused = refusal(snapshot) or region_refusal(region)
        if refused:
            skipped[refused] += 1
            continue
        if step.following is None:
            rewritten: str | None = region.text
        else:
            rewritten = region_with(region, step.following)
        if rewritten is None:
            skipped["the next hunk outside the region"] += 1
            continue
        request = request_for(snapshot, region, step.cursor, history, lambda _uri: commit.path)
        prompt, _ = served_prompt(layout, request, chat, count_tokens, settings.n_ctx)
        if prompt is None:
            skipped["no room for the prompt"] += 1
            continue
        # The model writes "\n"; the server puts a region's own line breaks back.
        target = f"{rewritten.replace(chr(13) + chr(10), chr(10))}\n{layout.region_end}"
        kind = NOTHING if step.following is None else NEXT
        example = NextEditExample(commit.path, commit.commit, step.applied, kind, prompt, target)
        if kind == NOTHING:
            nothing = example
        else:
            found.append(example)
    return CommitExamples(found, nothing, skipped)


def mine_examples(
    commits: Iterable[FileCommit],
    layout: Layout,
    chat: Callable[[str, str], Prompt | None],
    count_tokens: Callable[[str], int],
    settings: NextEditSettings | None = None,
) -> MinedExamples:
    """Every commit's examples with something to do, and a seeded `nothing_share` of examples
    with nothing to do, at most `max_examples` in all, in the commits' order."""
    settings = settings or NextEditSettings()
    summary = MiningSummary()
    mined: list[CommitExamples] = []
    for commit in commits:
        summary.commits += 1
        mined.append(commit_examples(commit, layout, chat, count_tokens, settings))
        summary.skipped.update(mined[-1].skipped)
    nexts = sum(len(m.next) for m in mined)
    share = settings.nothing_share
    wanted = round(nexts * share / (1.0 - share))
    nothings = [m.nothing for m in mined if m.nothing is not None]
    kept = {id(e) for e in seeded_sample(nothings, wanted, settings.seed)}
    # In the commits' order, each commit's nothing after its other examples.
    ordered = [
        e
        for m in mined
        for e in (*m.next, m.nothing)
        if e is not None and (e.kind == NEXT or id(e) in kept)
    ]
    examples = seeded_sample(ordered, settings.max_examples, settings.seed)
    summary.next = sum(1 for e in examples if e.kind == NEXT)
    summary.nothing = len(examples) - summary.next
    return MinedExamples(examples, summary)
