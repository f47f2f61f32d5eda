"""The code in a chat model's answer: its fenced block in the right language, or the bare code.

Chat models wrap code in Markdown fences, often with prose around it, sometimes with a second
block (a usage example, shell commands, the buggy original). A block tagged with the wanted
language is preferred, then an untagged block that looks like code; a block tagged with another
language is never taken. An answer without fences is taken whole only if it looks like code.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass

from ..text.languages import language_for, parser_for
from ..text.line_index import utf8

_LINE_BREAK = re.compile(r"\r\n?|\n")
_FENCE = re.compile(r"(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>.*)")
# The first word of a fence's info string: "python", "{.py}", "python:src/app.py", "c++".
_TAG = re.compile(r"\{?\.?([\w+#-]+)")
_BARE_WORD = re.compile(r"\w+[.!?]?")
# Languages whose code the other's grammar mostly parses, so a tag of one serves the other.
_FAMILIES = {"typescript": "javascript", "typescriptreact": "javascript", "cpp": "c"}


@dataclass(frozen=True)
class _Block:
    tag: str | None
    code: str


def extract_code(
    answer: str, language_id: str, looks_like: Callable[[str], bool] | None = None
) -> str | None:
    """The code the answer gives for a language_id document, or None if it gives none.

    looks_like says whether text without a language tag is code; by default, for a language
    Tide parses, it must parse without errors and be more than a bare word. Among several
    fitting blocks the longest wins, and of equally long ones the last, since an answer that
    shows code twice shows the corrected version second. Leading blank lines and trailing
    whitespace are dropped; the first line keeps its indentation.
    """
    check = looks_like or _default_check(language_id)
    blocks = _blocks(answer)
    if not blocks:
        code = _trim(answer)
        return code if code and check is not None and check(code) else None
    blocks = [block for block in blocks if block.code]
    wanted = _family(language_id)
    tagged = [block for block in blocks if block.tag and _family(block.tag) == wanted]
    untagged = [
        block for block in blocks if block.tag is None and (check is None or check(block.code))
    ]
    for group in (tagged, untagged):
        if group:
            return max(reversed(group), key=lambda block: len(block.code)).code
    return None


def _blocks(answer: str) -> list[_Block]:
    """The fenced blocks, in order; a fence left open runs to the end of the answer, as when
    generation stopped at the closing fence."""
    lines = _LINE_BREAK.split(answer)
    blocks = []
    index = 0
    while index < len(lines):
        opening = _FENCE.fullmatch(lines[index])
        index += 1
        # A backtick fence's info string cannot hold a backtick: that is inline code.
        if opening is None or (opening["fence"][0] == "`" and "`" in opening["info"]):
            continue
        indent, fence = opening["indent"], opening["fence"]
        closing = re.compile(rf"[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*")
        body = []
        while index < len(lines) and not closing.fullmatch(lines[index]):
            line = lines[index]
            body.append(line[len(indent) :] if line.startswith(indent) else line.lstrip())
            index += 1
        index += 1
        tag = _TAG.match(opening["info"].strip())
        blocks.append(_Block(tag[1].lower() if tag else None, _trim("\n".join(body))))
    return blocks


def _trim(code: str) -> str:
    lines = _LINE_BREAK.split(code.rstrip())
    while lines and not lines[0].strip():
        lines.pop(0)
    return "\n".join(lines)


def _family(name: str) -> str:
    """The language a tag or languageId names, by id, alias or file extension."""
    info = language_for(name) or language_for(path=f"file.{name}")
    key = info.id if info else name.lower()
    return _FAMILIES.get(key, key)


def _default_check(language_id: str) -> Callable[[str], bool] | None:
    """A parse check for a language Tide parses; None where it cannot tell code from prose."""
    info = language_for(language_id)
    if info is None:
        return None

    def parses_cleanly(code: str) -> bool:
        if _BARE_WORD.fullmatch(code.strip()):
            return False
        tree = parser_for(info).parse(utf8(code))
        return not tree.root_node.has_error

    return parses_cleanly


def block_closed(answer: str) -> bool:
    """True once the answer holds a complete fenced block: generation can stop there."""
    fences = [line for line in answer.splitlines() if _FENCE.fullmatch(line.strip())]
    return len(fences) >= 2
