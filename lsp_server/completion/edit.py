"""Where a completion ends, what of it to drop, and the edit that puts it in the line.

`LineCut` runs while the model streams, so generation stops as soon as the answer is known
instead of generating tokens only to throw them away.
"""

import re
from dataclasses import dataclass

from ..text.brackets import OPENERS, bracket_depth

_WORD_TAIL = re.compile(r"\w+$")


@dataclass(frozen=True)
class Edit:
    """Replace document text [start, end) with `text`; offsets are code points."""

    start: int
    end: int
    text: str


LINE_BREAK = re.compile(r"\r\n|\r|\n")


def leading_break(text: str) -> str:
    """The line break `text` starts with, or ""."""
    match = LINE_BREAK.match(text)
    return match.group() if match else ""


class LineCut:
    """Streaming cut for single-line completions.

    The answer is the first line of the model's output; if the output starts with a line
    break (the cursor sits at the end of a finished line), it is the line after it.
    """

    def __init__(self, stops: tuple[str, ...] = (), max_lines: int = 1) -> None:
        self._stops = stops
        self._max_lines = max(1, max_lines)
        self.raw = ""
        self.done = False

    def feed(self, piece: str) -> bool:
        """Add streamed text; True once the completion is complete."""
        self.raw += piece
        found = [at for at in (self.raw.find(stop) for stop in self._stops) if at >= 0]
        if found:
            self.raw = self.raw[: min(found)]
            self.done = True
            return True
        body = self.raw[len(leading_break(self.raw)) :]
        if len(LINE_BREAK.findall(body)) >= self._max_lines:
            self.done = True
        return self.done

    @property
    def text(self) -> str:
        """The completion cut to its lines, without trailing whitespace."""
        lead = leading_break(self.raw)
        body = self.raw[len(lead) :]
        if leading_break(body):
            return ""
        lines = LINE_BREAK.split(body)[: self._max_lines]
        text = "\n".join(line.rstrip() for line in lines).rstrip()
        return lead + text if text else ""


def line_around(text: str, cursor: int) -> tuple[str, str]:
    """The cursor line's text before and after the cursor, without the line break."""
    start = max(text.rfind("\n", 0, cursor), text.rfind("\r", 0, cursor)) + 1
    ends = [i for i in (text.find("\n", cursor), text.find("\r", cursor)) if i >= 0]
    end = min(ends) if ends else len(text)
    return text[start:cursor], text[cursor:end]


def _first_line(text: str) -> str:
    return LINE_BREAK.split(text, 1)[0]


def repeats_suffix(completion: str, line_suffix: str, suffix: str) -> bool:
    """True when accepting the completion would only re-type text already after the cursor."""
    stripped = completion.strip()
    if not stripped:
        return True
    lead = leading_break(completion)
    if lead:
        after = suffix[len(line_suffix) :]
        after = after[len(leading_break(after)) :]
        return _first_line(after).strip() == stripped
    return line_suffix.strip().startswith(stripped)


def make_edit(
    cursor: int, line_prefix: str, line_suffix: str, suffix: str, completion: str
) -> Edit | None:
    """The edit that leaves the line right when the completion is accepted.

    The edit starts at the beginning of the word under the cursor (clients filter and re-show
    suggestions by that word). When the model re-typed the text after the cursor (it closes
    `greet(|)` with `name)`), the edit replaces the rest of the line instead of doubling it:
    whichever of inserting and replacing keeps the line's brackets as balanced as they were.
    """
    if repeats_suffix(completion, line_suffix, suffix):
        return None
    word = _WORD_TAIL.search(line_prefix)
    start = cursor - (len(word.group()) if word else 0)
    typed = line_prefix[len(line_prefix) - (cursor - start) :]
    rest = line_suffix.rstrip()
    end = cursor
    if rest.strip() and not LINE_BREAK.search(completion):
        before = bracket_depth(line_prefix + line_suffix)
        inserted = bracket_depth(line_prefix + completion + line_suffix)
        replaced = bracket_depth(line_prefix + completion)
        retyped = completion.endswith(rest.strip()) or (
            rest.strip() in completion and replaced == before != inserted
        )
        if retyped and (replaced == before or inserted != before):
            end = cursor + len(rest)
    return Edit(start=start, end=end, text=typed + completion)


def stop_at_suffix_opener(completion: str, line_suffix: str) -> str:
    """The completion cut where it starts re-typing what follows the cursor on the line.

    With `area = trap|(3, 4)` the answer is the rest of the name: a completion that goes on
    to open its own `(` would leave two calls, so it ends before its first bracket of the kind
    the line's remainder starts with.
    """
    head = line_suffix.lstrip()[:1]
    if head not in OPENERS or LINE_BREAK.search(completion):
        return completion
    at = completion.find(head)
    return completion[:at].rstrip() if at > 0 else completion
