"""A commit's change to one file as plain data, and its replay hunk by hunk.

The format is the next-edit benchmark's (`../shared/bench/next-edit/README.md`): the file as it
was at the commit's parent (`before`) and the commit's hunks in file order, each the lines it
replaces (`old`, from line `start` of `before`; for a pure insertion, the line it goes before)
and the lines it puts there (`new`). A replay applies the hunks one at a time, as a developer
making them in order would, and says after each where the cursor is and what comes next. The
benchmark's cases and next-edit training examples are both made from it, so what an adapter
learns and what it is measured on are the same states.
"""

import gzip
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lsp_server.fixes.minimal_edit import minimal_edit

from .errors import TuningError


@dataclass(frozen=True)
class CommitHunk:
    start: int  # a 0-based line of the text the hunk applies to
    old: tuple[str, ...]
    new: tuple[str, ...]

    def shifted(self, lines: int) -> "CommitHunk":
        return CommitHunk(self.start + lines, self.old, self.new)


@dataclass(frozen=True)
class FileCommit:
    repo: str
    commit: str
    path: str  # relative to the repository (or workspace), with forward slashes
    before: str
    hunks: tuple[CommitHunk, ...]
    subject: str = ""

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> "FileCommit":
        """From one line of the benchmark's .jsonl."""
        hunks = tuple(
            CommitHunk(int(h["start"]), tuple(h["old"]), tuple(h["new"])) for h in record["hunks"]
        )
        return cls(
            str(record.get("repo", "")),
            str(record.get("commit", "")),
            str(record["path"]),
            str(record["before"]),
            hunks,
            str(record.get("subject", "")),
        )

    def to_record(self) -> dict[str, Any]:
        return {
            "repo": self.repo,
            "commit": self.commit,
            "path": self.path,
            "subject": self.subject,
            "before": self.before,
            "hunks": [
                {"start": h.start, "old": list(h.old), "new": list(h.new)} for h in self.hunks
            ],
        }


@dataclass(frozen=True)
class Change:
    """Replace [start, end) (code points) of the text it applies to with `text`."""

    start: int
    end: int
    text: str


@dataclass(frozen=True)
class ReplayStep:
    """The file after the commit's first `applied` hunks."""

    applied: int
    previous: str  # the text before hunk `applied` was made
    text: str
    change: Change | None  # that hunk as the smallest edit of `previous`; None if it is a no-op
    cursor: int  # where the developer's cursor is in `text` after making it
    following: CommitHunk | None  # the next hunk, its start in `text`'s lines; None after the last

    def with_following(self) -> str:
        """The text with the next hunk applied too (the text itself after the last hunk)."""
        if self.following is None:
            return self.text
        return "\n".join(apply_hunk(self.text.split("\n"), self.following))


def apply_hunk(lines: list[str], hunk: CommitHunk) -> list[str]:
    """`lines` with the hunk applied; ValueError when its old lines are not there."""
    at = hunk.start
    if lines[at : at + len(hunk.old)] != list(hunk.old):
        raise ValueError(f"hunk at line {hunk.start} does not match the text")
    return lines[:at] + list(hunk.new) + lines[at + len(hunk.old) :]


def _line_start(lines: list[str], line: int) -> int:
    """The offset of a line of "\\n".join(lines); past the last, the text's end."""
    return min(sum(len(text) + 1 for text in lines[:line]), sum(map(len, lines)) + len(lines) - 1)


def _hunk_change(before: list[str], after: list[str], hunk: CommitHunk) -> Change | None:
    """The hunk as the smallest edit within its own lines, as a developer would type it: a
    diff of the whole texts could slide an inserted block over lines that look alike."""
    at = hunk.start
    start = _line_start(before, at)
    old_end = _line_start(before, at + len(hunk.old))
    new_end = _line_start(after, at + len(hunk.new))
    old_text, new_text = "\n".join(before), "\n".join(after)
    edit = minimal_edit(old_text[start:old_end], new_text[start:new_end], base=start)
    if edit is not None and old_text[: edit[0]] + edit[2] + old_text[edit[1] :] != new_text:
        # The file's last line, without a line break, lost or gained: the spans miss it.
        edit = minimal_edit(old_text, new_text)
    return Change(*edit) if edit is not None else None


def _cursor_after(after: list[str], hunk: CommitHunk) -> int:
    """Where the developer's cursor is after typing the hunk: the end of its last new line,
    or for a deletion the start of the line that followed it."""
    if hunk.new:
        last = hunk.start + len(hunk.new) - 1
        return _line_start(after, last) + len(after[last])
    return _line_start(after, hunk.start)


def replay(commit: FileCommit) -> list[ReplayStep]:
    """A step per hunk, in order; ValueError when a hunk does not match the file."""
    lines = commit.before.split("\n")
    shift = 0  # lines the hunks so far added, less those they removed
    steps: list[ReplayStep] = []
    for k, hunk in enumerate(commit.hunks):
        here = hunk.shifted(shift)
        after = apply_hunk(lines, here)
        change = _hunk_change(lines, after, here)
        previous = "\n".join(lines)
        lines = after
        shift += len(hunk.new) - len(hunk.old)
        following = commit.hunks[k + 1].shifted(shift) if k + 1 < len(commit.hunks) else None
        steps.append(
            ReplayStep(
                k + 1, previous, "\n".join(lines), change, _cursor_after(after, here), following
            )
        )
    return steps


def read_records(path: Path) -> list[dict[str, Any]]:
    """The JSON objects of a .jsonl file, gzipped when its name ends in .gz."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def read_commits_file(path: Path) -> list[FileCommit]:
    """The file commits of a .jsonl(.gz) in the benchmark's format; TuningError, naming the
    file, when it cannot be read or a line is not a file commit."""
    try:
        return [FileCommit.from_record(record) for record in read_records(path)]
    except (OSError, EOFError) as exc:
        raise TuningError(f"cannot read the commits in {path}: {exc}") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise TuningError(
            f"{path} does not hold file commits, one JSON object a line: {exc!r}"
        ) from exc
