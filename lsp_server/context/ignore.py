"""Which workspace paths git would ignore: .gitignore files (deeper ones override shallower) and
the repository's own excludes, through pathspec; and the folders Tide never walks into."""

from pathlib import Path

import pathspec

# Version control, dependency, virtual environment, cache and build folders.
SKIPPED_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        "node_modules",
        "bower_components",
        ".venv",
        "venv",
        "__pycache__",
        ".tox",
        ".nox",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        "site-packages",
        "build",
        "dist",
        "target",
        "out",
        ".next",
        ".idea",
        ".vscode",
    }
)

# The rules in force in a folder: (folder they were read in, relative to the root; its spec).
IgnoreRules = tuple[tuple[str, pathspec.GitIgnoreSpec], ...]


def exclude_rules(root: Path) -> IgnoreRules:
    """The repository's own excludes, which every .gitignore file can override."""
    try:
        lines = (root / ".git" / "info" / "exclude").read_text("utf-8", "replace").splitlines()
    except OSError:
        return ()
    return (("", pathspec.GitIgnoreSpec.from_lines(lines)),)


def rules_in(root: Path, directory: str, inherited: IgnoreRules) -> IgnoreRules:
    """The rules in force in `directory` (relative to `root`): its parent's and its own."""
    try:
        text = (root / directory / ".gitignore").read_text("utf-8", "replace")
    except OSError:
        return inherited
    return (*inherited, (directory, pathspec.GitIgnoreSpec.from_lines(text.splitlines())))


def is_ignored(rel: str, rules: IgnoreRules) -> bool:
    """Whether the rules ignore a root-relative POSIX path (a folder's ends with "/")."""
    ignored = False
    for base, spec in rules:
        sub = rel[len(base) + 1 :] if base else rel
        result = spec.check_file(sub).include
        if result is not None:
            ignored = result
    return ignored
