"""A document's diagnostics, as the server publishes them and `tide-lsp fix` prints them:
syntax problems from its tree, then the lines the model finds unlikely."""

from collections.abc import Callable

from ..engines.base import Engine
from ..text.documents import Snapshot
from .problems import Problem, Severity
from .scoring import ScoreCache, code_scores, score_document
from .syntax import syntax_problems
from .unlikely import unlikely_lines


def syntax_diagnostics(snapshot: Snapshot) -> list[Problem]:
    """The syntax problems of the document's kept tree; none for a document too large to
    parse, which has no tree."""
    return syntax_problems(snapshot.tree, snapshot.text) if snapshot.tree else []


def unlikely_diagnostics(
    engine: Engine,
    snapshot: Snapshot,
    cache: ScoreCache,
    severity: Severity,
    cancelled: Callable[[], bool],
) -> list[Problem] | None:
    """The lines the model finds unlikely, at `severity`; None if cancelled part way.

    Raises the engine's TideError where it cannot score (an HTTP server): the caller keeps the
    syntax diagnostics then.
    """
    scores = score_document(engine, snapshot, cache, cancelled)
    if scores is None:
        return None
    return unlikely_lines(snapshot.text, code_scores(snapshot, scores), severity=severity)
