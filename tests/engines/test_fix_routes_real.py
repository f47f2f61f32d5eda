"""Both ways FixFinder asks the real default model for a fix, each shown to work on its own.

The e2e tests see only the best fix; here the chat route ("instruct") and the re-infill route
must each produce a verified fix for a known bug, so that one of them silently failing is seen.
The bug is one the 0.5B model's chat answer does fix: on `n % 2 == 1` in `is_even` (the e2e
tests' bug) it copies the function back unchanged, which the finder rightly drops.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest

from lsp_server.engines.llamacpp.engine import LlamaCppEngine
from lsp_server.fixes.candidates import Fix, FixFinder, FixTarget
from lsp_server.text.documents import DocumentStore

pytestmark = pytest.mark.model

FACTORIAL = '''def factorial(n: int) -> int:
    """Return n!."""
    result = 1
    for i in range(1, n):
        result *= i
    return result
'''
BUG_LINE = 3


@pytest.fixture(scope="module")
def found(model_path: Path) -> Iterator[tuple[list[Fix], list[str]]]:
    engine = LlamaCppEngine(model_path, n_threads=2)
    try:
        snapshot = DocumentStore().open("file:///factorial.py", "python", 1, FACTORIAL)
        finder = FixFinder(engine)
        fixes = finder.find(FixTarget(snapshot, BUG_LINE, BUG_LINE), lambda: False)
        yield fixes, finder.failures
    finally:
        engine.close()


def works(fix: Fix) -> bool:
    namespace: dict = {}
    fixed = FACTORIAL[: fix.start] + fix.text + FACTORIAL[fix.end :]
    exec(compile(fixed, "fixed", "exec"), namespace)
    return [namespace["factorial"](n) for n in (1, 3, 5)] == [1, 6, 120]


@pytest.mark.parametrize("route", ["instruct", "infill"])
def test_each_route_finds_a_fix_that_works(found: tuple[list[Fix], list[str]], route: str) -> None:
    fixes, failures = found
    assert failures == []
    mine = [f for f in fixes if f.source == route]
    assert mine, [(f.source, f.title) for f in fixes]
    working = [f for f in mine if works(f)]
    assert working, [f.title for f in mine]
    # A minimal edit: the fix touches the buggy line only.
    assert all(FACTORIAL.count("\n", 0, f.start) == BUG_LINE for f in working)
