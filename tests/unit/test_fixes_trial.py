"""Tests for lsp_server.fixes.trial: tests found by name, run on a patched copy."""

import sys
import venv
from pathlib import Path

from lsp_server.fixes.trial import (
    find_tests,
    has_examples,
    interpreter,
    pytest_missing,
    run_tests,
)

BUGGY = "def is_even(n):\n    return n % 2 == 1\n"
FIXED = "def is_even(n):\n    return n % 2 == 0\n"
TEST = "from calc import is_even\n\n\ndef test_is_even():\n    assert is_even(4)\n"


def project(tmp_path: Path) -> Path:
    (tmp_path / "calc.py").write_text(BUGGY)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_calc.py").write_text(TEST)
    (tmp_path / "tests" / "test_other.py").write_text("def test_nothing():\n    pass\n")
    (tmp_path / "tests" / "conftest.py").write_text(
        "import sys, pathlib\nsys.path.insert(0, str(pathlib.Path(__file__).parents[1]))\n"
    )
    return tmp_path


def test_tests_are_found_by_the_function_name(tmp_path):
    root = project(tmp_path)
    assert find_tests(root, "is_even") == [root / "tests" / "test_calc.py"]
    assert find_tests(root, "is_odd") == []


def test_the_fix_is_checked_on_a_copy_and_the_original_is_untouched(tmp_path):
    root = project(tmp_path)
    tests = find_tests(root, "is_even")
    good = run_tests(root, root / "calc.py", FIXED, tests, timeout_s=120)
    assert good.ok and good.summary == "1 test passes"
    bad = run_tests(root, root / "calc.py", BUGGY, tests, timeout_s=120)
    assert not bad.ok and bad.summary == "1 of 1 tests fails"
    assert (root / "calc.py").read_text() == BUGGY


def test_a_hanging_test_times_out(tmp_path):
    root = project(tmp_path)
    hang = "def is_even(n):\n    while True:\n        pass\n"
    outcome = run_tests(root, root / "calc.py", hang, find_tests(root, "is_even"), 3)
    assert not outcome.ok and "time out" in outcome.summary


DOCUMENTED = '''def is_even(n):
    """Whether n is even.

    >>> is_even(4)
    True
    >>> is_even(7)
    False
    """
    return n % 2 == 1


def is_odd(n):
    """No examples here."""
    return not is_even(n)
'''


def test_docstring_examples_are_found_by_the_function_name():
    assert has_examples(DOCUMENTED, "is_even")
    assert not has_examples(DOCUMENTED, "is_odd")
    assert not has_examples(DOCUMENTED, "missing")
    assert not has_examples("def is_even(:\n", "is_even")


def test_docstring_examples_run_as_the_check_when_asked(tmp_path):
    (tmp_path / "calc.py").write_text(DOCUMENTED)
    fixed = DOCUMENTED.replace("n % 2 == 1", "n % 2 == 0")
    good = run_tests(tmp_path, tmp_path / "calc.py", fixed, [], 120, examples_of="is_even")
    assert good.ok and good.summary == "1 test passes"
    bad = run_tests(tmp_path, tmp_path / "calc.py", DOCUMENTED, [], 120, examples_of="is_even")
    assert not bad.ok and bad.summary == "1 of 1 tests fails"
    assert (tmp_path / "calc.py").read_text() == DOCUMENTED


def test_tests_and_examples_count_together(tmp_path):
    root = project(tmp_path)
    (root / "calc.py").write_text(DOCUMENTED)
    fixed = DOCUMENTED.replace("n % 2 == 1", "n % 2 == 0")
    tests = find_tests(root, "is_even")
    outcome = run_tests(root, root / "calc.py", fixed, tests, 120, examples_of="is_even")
    assert outcome.ok and outcome.summary == "2 tests pass"


def test_the_workspaces_own_virtual_environment_runs_its_tests(tmp_path):
    root = project(tmp_path)
    assert interpreter(root) == Path(sys.executable)
    venv.create(root / ".venv", with_pip=False)
    assert interpreter(root) == root / ".venv" / "bin" / "python"


def test_an_interpreter_without_pytest_is_named_and_one_with_it_passes(tmp_path):
    venv.create(tmp_path / "bare", with_pip=False)
    bare = tmp_path / "bare" / "bin" / "python"
    assert pytest_missing(bare) == f"pytest is not installed for {bare}"
    assert "cannot run pytest" in pytest_missing(tmp_path / "no-such-python")
    assert pytest_missing(Path(sys.executable)) is None
