"""A fix's trial, opt-in: the fix is tried against the workspace's own pytest tests.

Nothing runs unless the user turned `runTests` on. The workspace's Python files are copied to a
scratch directory, the fix is applied to the copy, and only the tests that name the fixed
function run there, with the examples in its docstring (`>>>`, as doctests), in a subprocess
with a timeout; the user's files are never touched. The tests run under the workspace's own
virtual environment where it has one, since they import the project's dependencies.
"""

import ast
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

MAX_TEST_FILES = 200
MAX_COPY_FILES = 5000
_SKIP_DIRS = {".git", ".hg", ".venv", "venv", "node_modules", "__pycache__", ".tox", "build"}
_SUMMARY = re.compile(r"(\d+) (passed|failed|error|errors)")
_VENV_PYTHONS = (".venv/bin/python", "venv/bin/python", ".venv/Scripts/python.exe")


@dataclass(frozen=True)
class TrialOutcome:
    """What the tests said of one fix."""

    passed: int
    failed: int
    summary: str  # for the fix's title: "2 tests pass", "1 of 3 tests fails", "tests time out"

    @property
    def ok(self) -> bool:
        return self.passed > 0 and self.failed == 0


def _python_files(root: Path) -> list[Path]:
    found: list[Path] = []
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root)
        if any(part in _SKIP_DIRS or part.startswith(".") for part in relative.parts[:-1]):
            continue
        found.append(path)
        if len(found) >= MAX_COPY_FILES:
            break
    return found


def interpreter(root: Path) -> Path:
    """The workspace's virtual environment's Python where it has one, else the server's."""
    for candidate in _VENV_PYTHONS:
        if (root / candidate).is_file():
            return root / candidate
    return Path(sys.executable)


def pytest_missing(python: Path) -> str | None:
    """Why pytest cannot run under `python`; None when it can."""
    try:
        run = subprocess.run(
            [str(python), "-m", "pytest", "--version"], capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{python} cannot run pytest: {exc}"
    if run.returncode != 0:
        return f"pytest is not installed for {python}"
    return None


def find_tests(root: Path, function: str) -> list[Path]:
    """Test files under root that mention `function` by name (pytest's naming rules)."""
    word = re.compile(rf"\b{re.escape(function)}\b")
    tests: list[Path] = []
    for path in _python_files(root):
        if not (path.name.startswith("test_") or path.name.endswith("_test.py")):
            continue
        try:
            if word.search(path.read_text(encoding="utf-8", errors="replace")):
                tests.append(path)
        except OSError:
            continue
        if len(tests) >= MAX_TEST_FILES:
            break
    return tests


def has_examples(text: str, function: str) -> bool:
    """Whether a function of that name in the Python text has `>>>` examples in its docstring."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return False
    return any(
        isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.name == function
        and ">>>" in (ast.get_docstring(node) or "")
        for node in ast.walk(tree)
    )


def run_tests(
    root: Path,
    document: Path,
    fixed_text: str,
    tests: list[Path],
    timeout_s: float,
    examples_of: str | None = None,
    python: Path | None = None,
) -> TrialOutcome:
    """Run `tests`, and the docstring examples of the function `examples_of` when given, on a
    copy of the workspace where `document` holds `fixed_text`, with `python` (by default the
    server's)."""
    runs: list[list[str]] = []
    if tests:
        runs.append([str(t.relative_to(root)) for t in tests])
    if examples_of:
        # Only the document is collected, so -k picks the function's doctest out of it.
        runs.append(["--doctest-modules", str(document.relative_to(root)), "-k", examples_of])
    passed = failed = 0
    with tempfile.TemporaryDirectory(prefix="tide-fix-check-") as scratch:
        copy = Path(scratch)
        for path in _python_files(root):
            target = copy / path.relative_to(root)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
        patched = copy / document.relative_to(root)
        patched.parent.mkdir(parents=True, exist_ok=True)
        patched.write_text(fixed_text, encoding="utf-8")
        for selected in runs:
            counts = _pytest(python or Path(sys.executable), copy, selected, timeout_s)
            if counts is None:
                return TrialOutcome(0, 1, f"tests time out after {timeout_s:g}s")
            passed, failed = passed + counts[0], failed + counts[1]
    total = passed + failed
    if failed == 0:
        summary = "1 test passes" if passed == 1 else f"{passed} tests pass"
    else:
        summary = f"{failed} of {total} tests fail" if failed > 1 else f"1 of {total} tests fails"
    return TrialOutcome(passed, failed, summary)


def _pytest(
    python: Path, cwd: Path, selected: list[str], timeout_s: float
) -> tuple[int, int] | None:
    """Passed and failed counts of one pytest run; None when it timed out."""
    command = [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", *selected]
    try:
        run = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return None
    counts = {kind: int(n) for n, kind in _SUMMARY.findall(run.stdout)}
    passed = counts.get("passed", 0)
    failed = counts.get("failed", 0) + counts.get("error", 0) + counts.get("errors", 0)
    if failed == 0 and run.returncode != 0:
        failed = 1
    return passed, failed
