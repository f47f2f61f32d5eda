"""The smallest edit from an original span to a fixed one, its title, and re-indentation."""

import textwrap

from .problems import excerpt


def minimal_edit(original: str, fixed: str, base: int = 0) -> tuple[int, int, str] | None:
    """The single replacement (start, end, new_text) turning original into fixed, or None.

    start and end are code-point offsets into the document, where original starts at base.
    The common prefix and suffix are left alone, except that a boundary never falls inside a
    "\\r\\n" pair or a surrogate pair, which an editor would have to split.
    """
    if original == fixed:
        return None
    shortest = min(len(original), len(fixed))
    prefix = 0
    while prefix < shortest and original[prefix] == fixed[prefix]:
        prefix += 1
    suffix = 0
    while suffix < shortest - prefix and original[-1 - suffix] == fixed[-1 - suffix]:
        suffix += 1
    while prefix > 0 and (_splits(original, prefix) or _splits(fixed, prefix)):
        prefix -= 1
    while suffix > 0 and (
        _splits(original, len(original) - suffix) or _splits(fixed, len(fixed) - suffix)
    ):
        suffix -= 1
    return base + prefix, base + len(original) - suffix, fixed[prefix : len(fixed) - suffix]


def _splits(text: str, at: int) -> bool:
    """Whether a boundary at offset at falls inside "\\r\\n" or a UTF-16 surrogate pair."""
    if not 0 < at < len(text):
        return False
    before, after = text[at - 1], text[at]
    return (before == "\r" and after == "\n") or (
        "\ud800" <= before <= "\udbff" and "\udc00" <= after <= "\udfff"
    )


def describe_change(original_span: str, new_span: str, limit: int = 60) -> str:
    """A short title for replacing original_span with new_span, quoting at most limit chars.

    Whitespace runs are collapsed; a change of whitespace alone is called one.
    """
    if not original_span and not new_span:
        return "No change"
    if not original_span:
        return f"Insert {_quoted(new_span, limit)}"
    if not new_span:
        return f"Delete {_quoted(original_span, limit)}"
    if excerpt(original_span, len(original_span)) == excerpt(new_span, len(new_span)):
        return "Change whitespace"
    return f"Replace {_quoted(original_span, limit // 2)} with {_quoted(new_span, limit // 2)}"


def _quoted(span: str, limit: int) -> str:
    shown = excerpt(span, limit)
    return f'"{shown}"' if shown else "whitespace"


def reindent(code: str, indent: str) -> str:
    """code with its common indentation replaced by indent on every non-blank line.

    For an answer that lost (or changed) the indentation the replaced code had.
    """
    return textwrap.indent(textwrap.dedent(code), indent)
