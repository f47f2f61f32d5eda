"""The bracket pairs Tide balances, in completions and in syntax errors, and a scan of a text's
bracket depth that skips quoted strings."""

from collections.abc import Iterator

CLOSER_OF = {"(": ")", "[": "]", "{": "}"}
OPENER_OF = {closer: opener for opener, closer in CLOSER_OF.items()}
# Sets, not strings: "" is in every string.
OPENERS = frozenset(CLOSER_OF)
CLOSERS = frozenset(OPENER_OF)


def bracket_trace(text: str) -> Iterator[tuple[int, int]]:
    """Each bracket outside quoted strings: its index in `text` and the depth just after it.

    A quote left open ends at the line break: few languages let a string span lines, and an
    apostrophe in a comment must not hide every bracket after it.
    """
    depth = 0
    quote = ""
    escaped = False
    for index, ch in enumerate(text):
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote or ch in "\r\n":
                quote = ""
        elif ch in "\"'`":
            quote = ch
        elif ch in OPENERS:
            depth += 1
            yield index, depth
        elif ch in CLOSERS:
            depth -= 1
            yield index, depth


def bracket_depth(text: str) -> int:
    """Net unclosed brackets in `text`, skipping quoted strings; negative when it over-closes."""
    depths = [depth for _, depth in bracket_trace(text)]
    return depths[-1] if depths else 0
