"""The next-edit prompt, laid out as data per model family, and the rewrite read back from
the model's answer.

The layout follows Zed's Zeta: the recent edits as a unified diff, the file around the
editable region, the region between markers with the cursor marked, and the model asked to
answer with the region rewritten between the same markers. For an instruct model the request
goes through its own chat template (`Engine.chat_prompt`), with the answer's opening marker
already written as the start of its reply, so the model's first token is the region's.
"""

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..completion.prompts import Prompt, Segment
from ..text.documents import Snapshot
from .history import EditHistory, Hunk
from .region import Region

MAX_DIFF_CHARS = 3_000  # the newest hunks that fit; older ones say less about what comes next
CONTEXT_BEFORE, CONTEXT_AFTER = 30, 15  # lines of the file shown around the region, at most


@dataclass(frozen=True)
class Layout:
    """How one model family is asked for a rewritten region."""

    family: str
    system: str
    region_start: str
    region_end: str
    cursor: str
    instruction: str


_FENCE_OPEN = re.compile(r"\A```[\w+-]*\n")
_FENCE_CLOSE = re.compile(r"\n?```\s*\Z")
_SYSTEM = (
    "You are a code editor that predicts the next edit a developer makes, from the edits they "
    "just made. You answer with code only."
)
_INSTRUCTION = (
    "Rewrite the editable region with the edit the developer will most likely make next, "
    "consistent with their recent edits (for example, the same change in another place). Keep "
    "every other line exactly as it is; if nothing needs to change, repeat the region unchanged. "
    "Answer with the region only, from {start} to {end}."
)

DEFAULT_LAYOUT = Layout(
    family="",
    system=_SYSTEM,
    region_start="<|editable_region_start|>",
    region_end="<|editable_region_end|>",
    cursor="<|user_cursor_is_here|>",
    instruction=_INSTRUCTION,
)

# Qwen2.5-Coder's vocabulary has no such markers, so they are read as plain text, as Zeta's
# own Qwen2.5-Coder fine-tune reads them.
LAYOUTS: tuple[Layout, ...] = (
    Layout(
        family="qwen2.5-coder",
        system=_SYSTEM,
        region_start="<|editable_region_start|>",
        region_end="<|editable_region_end|>",
        cursor="<|user_cursor_is_here|>",
        instruction=_INSTRUCTION,
    ),
)


def layout_for(family: str) -> Layout:
    """The layout registered for a family; the default one for any other."""
    for layout in LAYOUTS:
        if layout.family == family:
            return layout
    return DEFAULT_LAYOUT


@dataclass(frozen=True)
class NextEditRequest:
    """What a prompt is made of: the document's text and path, the region, the cursor (an
    offset into text, inside or beside the region) and the recent edits, oldest first."""

    path: str
    language_id: str
    text: str
    region: Region
    cursor: int
    hunks: Sequence[Hunk]
    path_of: Callable[[str], str]


def request_for(
    snapshot: Snapshot,
    region: Region,
    cursor: int,
    history: EditHistory,
    path_of: Callable[[str], str],
) -> NextEditRequest:
    """The request for a rewrite of `region` of the snapshot, with the history's recent edits;
    `path_of` names a document's file as the prompt shows it."""
    hunks = history.recent()
    uri = snapshot.uri
    paths = {hunk.uri: path_of(hunk.uri) for hunk in hunks} | {uri: path_of(uri)}
    text, language = snapshot.text, snapshot.language_id
    return NextEditRequest(paths[uri], language, text, region, cursor, hunks, paths.__getitem__)


def diff_text(hunks: Sequence[Hunk], path_of: Callable[[str], str]) -> str:
    """The hunks as a unified diff, newest last, at most MAX_DIFF_CHARS of the newest."""
    parts: list[str] = []
    size = 0
    for hunk in reversed(hunks):
        old = hunk.before.split("\n") if hunk.before else []
        new = hunk.after.split("\n") if hunk.after else []
        path = path_of(hunk.uri)
        body = [f"-{line.rstrip(chr(13))}" for line in old] + [
            f"+{line.rstrip(chr(13))}" for line in new
        ]
        header = f"@@ -{hunk.line + 1},{len(old)} +{hunk.line + 1},{len(new)} @@"
        part = "\n".join([f"--- a/{path}", f"+++ b/{path}", header, *body])
        if size + len(part) > MAX_DIFF_CHARS and parts:
            break
        parts.append(part)
        size += len(part)
    return "\n".join(reversed(parts))


def _lines_before(text: str, start: int, count: int) -> str:
    """Up to `count` whole lines ending just before offset start (a line start)."""
    begin = start
    for _ in range(count):
        if begin == 0:
            break
        begin = text.rfind("\n", 0, begin - 1) + 1
    return text[begin:start]


def _lines_after(text: str, end: int, count: int) -> str:
    """Up to `count` whole lines after the line ending at offset end, with the line break
    before them."""
    stop = text.find("\n", end)
    if stop < 0:
        return ""
    for _ in range(count):
        found = text.find("\n", stop + 1)
        if found < 0:
            return text[end:]
        stop = found
    return text[end:stop]


def marked_region(layout: Layout, request: NextEditRequest) -> str:
    """The region's text with the cursor marked in it."""
    region = request.region
    cursor = min(max(request.cursor, region.start), region.end) - region.start
    return region.text[:cursor] + layout.cursor + region.text[cursor:]


def draft_for(layout: Layout, request: NextEditRequest) -> str:
    """What an answer that changes nothing would be: models repeat the cursor marker too."""
    return f"{marked_region(layout, request)}\n{layout.region_end}"


def user_message(layout: Layout, request: NextEditRequest, before: int, after: int) -> str:
    region = request.region
    marked = marked_region(layout, request)
    above = _lines_before(request.text, region.start, before)
    below = _lines_after(request.text, region.end, after)
    diff = diff_text(request.hunks, request.path_of)
    edits = (
        f"The developer has just made these edits:\n```diff\n{diff}\n```\n\n"
        if diff
        else "The developer has made no edit yet.\n\n"
    )
    return (
        f"{edits}Here is `{request.path}` around where they are working. The part they may edit "
        f"next is between {layout.region_start} and {layout.region_end}; {layout.cursor} marks "
        f"the cursor.\n```{request.language_id}\n{above}{layout.region_start}\n{marked}\n"
        f"{layout.region_end}{below}\n```\n\n"
        + layout.instruction.format(start=layout.region_start, end=layout.region_end)
    )


def build_prompt(
    layout: Layout,
    request: NextEditRequest,
    chat: Callable[[str, str], Prompt | None],
    count_tokens: Callable[[str], int],
    room: int,
) -> Prompt | None:
    """The chat prompt, with as much of the file around the region as leaves `room` tokens
    (the prompt's share of the context); None when the model has no chat format or even the
    region alone does not fit."""
    before, after = CONTEXT_BEFORE, CONTEXT_AFTER
    while True:
        prompt = chat(layout.system, user_message(layout, request, before, after))
        if prompt is None:
            return None
        opened = Prompt(
            (*prompt.segments, Segment(layout.region_start + "\n")),
            prompt.stops,
            prompt.family,
            prompt.order,
        )
        if count_tokens(opened.text) <= room:
            return opened
        if before == after == 0:
            return None
        before, after = before // 2, after // 2


def served_prompt(
    layout: Layout,
    request: NextEditRequest,
    chat: Callable[[str, str], Prompt | None],
    count_tokens: Callable[[str], int],
    n_ctx: int,
) -> tuple[Prompt | None, int]:
    """The prompt an engine of `n_ctx` tokens is asked with (None as `build_prompt` says), and
    the tokens its answer may take: the region and half again, since a rewrite may add lines,
    and at most half the context."""
    region_tokens = count_tokens(request.region.text)
    budget = min(region_tokens + region_tokens // 2 + 32, n_ctx // 2)
    return build_prompt(layout, request, chat, count_tokens, n_ctx - budget), budget


def rewrite_from(answer: str, layout: Layout, finished: bool) -> str | None:
    """The rewritten region in the model's answer (which continues after the opening marker),
    or None when the answer never closed the region: a region cut short would delete its end.

    The model ending its reply (`finished`) closes the region too.
    """
    body, closed, _ = answer.partition(layout.region_end)
    if not closed and not finished:
        return None
    body = body.removeprefix(layout.region_start).removeprefix("\n")
    body = body.replace(layout.cursor, "")
    # A chat model may wrap its answer in a markdown fence, which is no part of the code.
    body = _FENCE_OPEN.sub("", body, count=1)
    body = _FENCE_CLOSE.sub("", body.removesuffix("\n"))
    return body.removesuffix("\n")
