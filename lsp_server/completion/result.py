"""What a completion produces: ranked candidates and the result the editor is answered with."""

from dataclasses import dataclass, field

from ..engines.base import GenerationStats
from .edit import Edit


@dataclass(frozen=True)
class Candidate:
    edit: Edit
    text: str  # what the suggestion inserts at the cursor
    logprob: float  # mean per generated token


@dataclass(frozen=True)
class CompletionResult:
    edit: Edit | None
    model: str
    engine_ms: float
    stats: GenerationStats = field(default_factory=GenerationStats)
    text: str = ""  # what the suggestion inserts at the cursor
    alternatives: tuple[Candidate, ...] = ()  # further ranked candidates, for cycling
    discarded: int = 0  # characters generated and thrown away by the cut
    reason: str = ""  # why there is no suggestion, when there is none
    window_start: int = 0  # the window's first offset, which the live loop holds
    # Computed on a short arrival window: the whole prompt is evaluated next, in the
    # background, and a fuller answer follows (`tide/inlineCompletionReady`).
    short: bool = False


def rank(candidates: list[Candidate]) -> list[Candidate]:
    """The candidates in the order the editor cycles through them.

    The greedy answer (the first) stays first: it is what as-you-type shows and what
    type-through remembers. The samples follow, the most likely per token first.
    """
    return candidates[:1] + sorted(candidates[1:], key=lambda c: -c.logprob)
