"""A workspace's own edits, read from its git history as file commits (`commits.FileCommit`).

The newest commits first, merges left out (they repeat edits made elsewhere), and root
commits too (a file's first version is not an edit of anything). Each commit gives one file
commit per file it changed, for files in a language Tide supports, outside vendored folders,
written by people (`files.written_text`: not binary, generated or minified, and not larger
than the workspace index reads), whose hunks (git's, without context lines) are few and small:
a commit of many or large hunks is a rewrite or a sweep, not a series of next edits. A commit
that changes many files at once (a rename, a reformat) is left out whole. Every file commit
left out is counted with its reason.

Only `git` itself is run, through subprocess, with the workspace as its working folder, so
paths are relative to the workspace and only its part of a larger repository is read.
"""

import re
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from lsp_server.text.languages import language_for

from .commits import CommitHunk, FileCommit
from .errors import TuningError
from .files import counted, is_generated_name, is_vendored, written_text

_HUNK_HEADER = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_NO_NEWLINE = "\\ No newline at end of file"
_FIELD, _RECORD = "\x1f", "\x1e"


@dataclass(frozen=True)
class HistorySettings:
    max_commits: int = 1_000  # the newest commits read (merges not counted)
    max_file_commits: int = 2_000  # reading stops once this many are found
    min_hunks: int = 2  # one hunk has no next hunk to learn
    max_hunks: int = 8
    max_hunk_lines: int = 8  # lines a hunk removes, or adds, at most
    max_files_per_commit: int = 8
    max_file_bytes: int = 200_000  # as the workspace index

    def check(self) -> None:
        """Raise TuningError naming the first bad setting."""
        for name in ("max_commits", "max_file_commits", "max_hunk_lines", "max_files_per_commit"):
            if getattr(self, name) < 1:
                raise TuningError(f"{name} must be 1 or more, not {getattr(self, name)}")
        if not 1 <= self.min_hunks <= self.max_hunks:
            raise TuningError(
                f"the hunks per commit must be 1 <= min ({self.min_hunks}) <= max "
                f"({self.max_hunks})"
            )


@dataclass(frozen=True)
class GitHistory:
    root: Path  # the workspace
    commits: tuple[FileCommit, ...]  # newest first
    commits_read: int
    skipped: Counter[str] = field(default_factory=Counter)  # file commits left out, by reason

    def describe(self) -> str:
        text = (
            f"{self.root}: {len(self.commits)} file commits to learn from in the last "
            f"{self.commits_read} commits"
        )
        if self.skipped:
            text += f" (left out: {counted(self.skipped)})"
        return text


def _git(workspace: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
    try:
        done = subprocess.run(
            ["git", "--literal-pathspecs", "-c", "core.quotepath=off", *args],
            cwd=workspace,
            capture_output=True,
            timeout=120,
        )
    except FileNotFoundError:
        raise TuningError("git is not installed; next-edit tuning reads the git history") from None
    except subprocess.TimeoutExpired:
        raise TuningError(f"git {args[0]} in {workspace} took over two minutes") from None
    if check and done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip()
        raise TuningError(f"git {args[0]} failed in {workspace}: {message}")
    return done


def _commits(workspace: Path, limit: int) -> list[tuple[str, str, str]]:
    """(sha, parent, subject) of the newest non-merge commits touching the workspace; the
    parent is empty for a root commit."""
    done = _git(
        workspace,
        "log",
        "--no-merges",
        f"--max-count={limit}",
        f"--format=%H{_FIELD}%P{_FIELD}%s{_RECORD}",
        "--",
        ".",
    )
    found = []
    for record in done.stdout.decode(errors="replace").split(_RECORD):
        parts = record.strip("\n").split(_FIELD)
        if len(parts) == 3:
            sha, parents, subject = parts
            found.append((sha, parents.split(" ")[0], subject))
    return found


def _changed_files(workspace: Path, parent: str, sha: str) -> list[tuple[str, bool]]:
    """The files the commit changed (added, deleted and renamed ones apart), relative to the
    workspace, each with whether git takes it for binary."""
    done = _git(
        workspace,
        "diff",
        "--numstat",
        "-z",
        "--no-renames",
        "--diff-filter=M",
        "--relative",
        parent,
        sha,
    )
    files = []
    for entry in done.stdout.decode(errors="replace").split("\0"):
        added, _, rest = entry.partition("\t")
        _, _, path = rest.partition("\t")
        if path:
            files.append((path, added == "-"))
    return files


def parse_hunks(diff: str) -> list[CommitHunk] | None:
    """The hunks of a one-file diff without context lines (`git diff -U0`), each starting at
    its line of the old file (for an insertion, the line it goes before); None when the diff
    adds or removes the file's last line break, which whole lines cannot say."""
    hunks: list[CommitHunk] = []
    old: list[str] = []
    new: list[str] = []
    start: int | None = None
    for line in diff.split("\n"):
        header = _HUNK_HEADER.match(line)
        if header is not None:
            if start is not None:
                hunks.append(CommitHunk(start, tuple(old), tuple(new)))
            first, count = int(header.group(1)), int(header.group(2) or 1)
            # git numbers from 1 and puts an insertion after line `first`.
            start = first if count == 0 else first - 1
            old, new = [], []
        elif line == _NO_NEWLINE:
            return None
        elif start is not None and line.startswith("-"):
            old.append(line[1:])
        elif start is not None and line.startswith("+"):
            new.append(line[1:])
    if start is not None:
        hunks.append(CommitHunk(start, tuple(old), tuple(new)))
    return hunks


def _file_commit(
    workspace: Path, parent: str, sha: str, subject: str, path: str, settings: HistorySettings
) -> tuple[FileCommit | None, str]:
    """The commit's change to one file, or None and why it is left out."""
    if language_for(path=path) is None:
        return None, "not in a language Tide supports"
    if is_vendored(path) or is_generated_name(path.rsplit("/", 1)[-1]):
        return None, "vendored or generated"
    shown = _git(workspace, "show", f"{parent}:./{path}", check=False)
    if shown.returncode != 0:
        return None, "unreadable at the parent commit"
    if len(shown.stdout) > settings.max_file_bytes:
        return None, "too large"
    before, reason = written_text(shown.stdout)
    if before is None:
        return None, reason.split(" (")[0]
    if "\r" in before:
        return None, "carriage returns"
    diff = _git(
        workspace, "diff", "-U0", "--no-color", "--no-ext-diff", "--no-renames", parent, sha,
        "--", path,
    )  # fmt: skip
    hunks = parse_hunks(diff.stdout.decode("utf-8", errors="replace"))
    if hunks is None:
        return None, "a changed final line break"
    if not settings.min_hunks <= len(hunks) <= settings.max_hunks:
        return None, f"not {settings.min_hunks} to {settings.max_hunks} hunks"
    if any(max(len(h.old), len(h.new)) > settings.max_hunk_lines for h in hunks):
        return None, f"a hunk over {settings.max_hunk_lines} lines"
    return FileCommit(workspace.name, sha, path, before, tuple(hunks), subject), ""


def read_history(workspace: Path, settings: HistorySettings | None = None) -> GitHistory:
    """The workspace's file commits, newest first; TuningError when it is not in a git
    repository or git cannot read it."""
    settings = settings or HistorySettings()
    settings.check()
    workspace = workspace.expanduser().resolve()
    if not workspace.is_dir():
        raise TuningError(f"cannot read the history of {workspace}: it is not a folder")
    inside = _git(workspace, "rev-parse", "--is-inside-work-tree", check=False)
    if inside.returncode != 0 or inside.stdout.strip() != b"true":
        raise TuningError(
            f"{workspace} is not in a git repository: next-edit tuning learns from the edits "
            "in its commits"
        )
    if _git(workspace, "rev-parse", "--verify", "--quiet", "HEAD", check=False).returncode:
        raise TuningError(f"the git repository of {workspace} has no commits yet")
    skipped: Counter[str] = Counter()
    found: list[FileCommit] = []
    commits = _commits(workspace, settings.max_commits)
    for sha, parent, subject in commits:
        if len(found) >= settings.max_file_commits:
            break
        if not parent:
            skipped["a root commit"] += 1
            continue
        files = _changed_files(workspace, parent, sha)
        if len(files) > settings.max_files_per_commit:
            skipped[f"in a commit of over {settings.max_files_per_commit} files"] += len(files)
            continue
        for path, binary in files:
            if binary:
                skipped["binary"] += 1
                continue
            commit, reason = _file_commit(workspace, parent, sha, subject, path, settings)
            if commit is None:
                skipped[reason] += 1
            else:
                found.append(commit)
    return GitHistory(workspace, tuple(found[: settings.max_file_commits]), len(commits), skipped)
