"""The record for one problem found in a document, and the excerpts messages quote."""

import re
from dataclasses import dataclass
from typing import Any, Literal

Severity = Literal["error", "warning", "information", "hint"]
ProblemCode = Literal["syntax", "unlikely"]

_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Problem:
    """A problem over text[start:end], in code points (end exclusive).

    data carries JSON-ready facts a quick fix can use later (what is missing, where the worst
    token is); LSP sends it back with the code action request.
    """

    start: int
    end: int
    message: str
    severity: Severity
    code: ProblemCode
    data: dict[str, Any] | None = None


def excerpt(text: str, limit: int) -> str:
    """text with whitespace runs collapsed to one space, cut to limit characters with "…"."""
    collapsed = _WHITESPACE.sub(" ", text).strip()
    if len(collapsed) <= limit:
        return collapsed
    return collapsed[: max(limit - 1, 0)].rstrip() + "…"
