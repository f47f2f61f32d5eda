"""Reading a workspace's git history as file commits (lsp_server/tuning/git_history.py), on a
repository made here with the real git."""

import subprocess
from pathlib import Path

import pytest

from lsp_server.tuning.commits import CommitHunk, replay
from lsp_server.tuning.errors import TuningError
from lsp_server.tuning.git_history import HistorySettings, parse_hunks, read_history
from tests.unit.trees import write

CALC = (
    "def total(items):\n"
    "    result = 0\n"
    "    for item in items:\n"
    "        result += item\n"
    "    return result\n"
    "\n"
    "\n"
    "def count(items):\n"
    "    return len(items)\n"
)


def git(root: Path, *args: str) -> str:
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
        "HOME": str(root),
        "PATH": "/usr/bin:/bin:/usr/local/bin",
    }
    done = subprocess.run(["git", *args], cwd=root, env=env, capture_output=True, check=True)
    return done.stdout.decode()


def commit(root: Path, files: dict[str, str | bytes], message: str) -> str:
    write(root, files)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)
    return git(root, "rev-parse", "HEAD").strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    commit(root, {"calc.py": CALC, "notes.txt": "a\nb\n", "blob.py": b"x = 1\n\x00\n"}, "first")
    return root


def test_a_commit_of_small_hunks_becomes_a_file_commit_that_replays_to_the_next_version(
    repo: Path,
) -> None:
    renamed = CALC.replace("items", "products").replace(
        "    return len", "    # how many\n    return len"
    )
    sha = commit(repo, {"calc.py": renamed, "notes.txt": "a\nc\n"}, "rename items")
    history = read_history(repo)
    assert history.commits_read == 2 and history.skipped["a root commit"] == 1
    assert history.skipped["not in a language Tide supports"] == 1  # notes.txt
    (found,) = history.commits
    assert (found.commit, found.path, found.subject, found.before) == (
        sha,
        "calc.py",
        "rename items",
        CALC,
    )
    assert found.hunks[0] == CommitHunk(0, ("def total(items):",), ("def total(products):",))
    assert len(found.hunks) == 3
    assert replay(found)[-1].text == renamed


def test_merges_big_hunks_binary_files_and_sweeping_commits_are_left_out(repo: Path) -> None:
    git(repo, "checkout", "-q", "-b", "side")
    commit(repo, {"calc.py": CALC.replace("result = 0", "result = 0.0")}, "side")
    git(repo, "checkout", "-q", "main")
    commit(repo, {"calc.py": CALC.replace("count(items)", "count(things)")}, "main")
    git(repo, "merge", "-q", "--no-edit", "side")
    long = CALC + "".join(f"x{i} = {i}\n" for i in range(20))
    commit(repo, {"calc.py": long}, "a long hunk")
    commit(repo, {"blob.py": b"x = 2\n\x00\n"}, "binary")
    commit(repo, {f"m{i}.py": f"a = {i}\n" for i in range(3)}, "add modules")
    sweep = {f"m{i}.py": f"a = {i + 1}\n" for i in range(3)}
    commit(repo, sweep, "a sweep")
    history = read_history(repo, HistorySettings(max_files_per_commit=2, min_hunks=1))
    subjects = [c.subject for c in history.commits]
    assert "Merge branch 'side'" not in subjects and subjects == ["main", "side"]
    assert history.skipped["a hunk over 8 lines"] == 1
    assert history.skipped["binary"] == 1
    assert history.skipped["in a commit of over 2 files"] == 3
    assert "2 file commits to learn from" in history.describe()
    capped = read_history(repo, HistorySettings(max_commits=1, min_hunks=1))
    assert capped.commits_read == 1 and capped.commits == ()


def test_a_folder_outside_git_or_without_commits_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TuningError, match="is not in a git repository"):
        read_history(tmp_path)
    git(tmp_path, "init", "-q")
    with pytest.raises(TuningError, match="has no commits yet"):
        read_history(tmp_path)
    with pytest.raises(TuningError, match="is not a folder"):
        read_history(tmp_path / "missing")


def test_hunks_are_read_from_a_diff_without_context() -> None:
    diff = (
        "diff --git a/x.py b/x.py\n--- a/x.py\n+++ b/x.py\n"
        "@@ -1 +1 @@\n-a\n+b\n"
        "@@ -4,0 +5,2 @@\n+c\n+d\n"
        "@@ -7,2 +8,0 @@\n-e\n-f\n"
    )
    assert parse_hunks(diff) == [
        CommitHunk(0, ("a",), ("b",)),
        CommitHunk(4, (), ("c", "d")),
        CommitHunk(6, ("e", "f"), ()),
    ]
    assert parse_hunks("@@ -1 +1 @@\n-a\n\\ No newline at end of file\n+b\n") is None
