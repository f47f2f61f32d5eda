"""Whether to offer a completion at the cursor, and whether it may span several lines.

The facts come from the document's tree-sitter tree where there is one: the token the cursor
splits, the string or comment around it, the block it sits in, the token that ends the code
before it. Without a tree (plain text, an unknown language, a file too large to parse) only the
text around the cursor counts, and a completion never spans lines.
"""

import re
from dataclasses import dataclass

import tree_sitter

from ..config import Settings
from ..text.documents import Snapshot
from ..text.languages import LanguageInfo
from .edit import line_around

_WORD = re.compile(r"\w")


@dataclass(frozen=True)
class Trigger:
    """Whether to complete, whether the answer may span lines, and why, for the log."""

    complete: bool
    multiline: bool
    reason: str


def skip_reason(snapshot: Snapshot, settings: Settings) -> str | None:
    """Why no completion should be offered in this document at all, if any."""
    if not settings.enable:
        return "completions are disabled"
    if snapshot.language_id in settings.disabled_languages:
        return f"completions are disabled for {snapshot.language_id}"
    if "\x00" in snapshot.text:
        return "the document holds binary content"
    return None


def decide(snapshot: Snapshot, cursor: int, invoked: bool) -> Trigger:
    """When to complete and how much, at `cursor` (a code-point offset into snapshot.text).

    `invoked` means the user asked explicitly, which overrides the quiet inside strings and
    comments but not inside a word: a suggestion there would have to rewrite the word's tail.
    """
    info, tree = snapshot.language, snapshot.tree
    if info is None or tree is None:
        if _splits_word(snapshot.text, cursor):
            return Trigger(False, False, "mid-identifier")
        return Trigger(True, False, "plain text")
    literal = _literal_at(snapshot, info, cursor)
    if literal:
        if invoked:
            return Trigger(True, False, f"invoked in a {literal}")
        return Trigger(False, False, f"in a {literal}")
    if _splits_token(snapshot, tree, cursor):
        return Trigger(False, False, "mid-identifier")
    if _in_empty_body(snapshot, info, cursor):
        return Trigger(True, True, "empty body")
    if _after_opener(snapshot, info, tree, cursor):
        return Trigger(True, True, "after a block opener")
    return Trigger(True, False, "single line")


def _splits_word(text: str, cursor: int) -> bool:
    return 0 < cursor < len(text) and bool(
        _WORD.match(text[cursor - 1]) and _WORD.match(text[cursor])
    )


def _splits_token(snapshot: Snapshot, tree: tree_sitter.Tree, cursor: int) -> bool:
    """A word character on each side of the cursor, both in one token (`pri|nt`, `de|f`)."""
    if not _splits_word(snapshot.text, cursor):
        return False
    byte = snapshot.byte_offset(cursor)
    spanning = tree.root_node.descendant_for_byte_range(byte - 1, byte + 1)
    return spanning is not None and spanning.child_count == 0


def _literal_at(snapshot: Snapshot, info: LanguageInfo, cursor: int) -> str:
    """ "string" or "comment" when the cursor is inside one, else ""."""
    byte = snapshot.byte_offset(cursor)
    node = snapshot.node_at(cursor)
    while node is not None:
        if node.type in info.interpolation_types:
            return ""
        if node.type in info.string_types:
            return "string" if _encloses(node, byte, info) else ""
        if node.type in info.comment_types:
            return "comment" if _encloses(node, byte, info) else ""
        node = node.parent
    return ""


def _encloses(node: tree_sitter.Node, byte: int, info: LanguageInfo) -> bool:
    """Whether text typed at `byte` lands inside `node`, a string or a comment."""
    if not node.start_byte < byte <= node.end_byte:
        return False
    if byte < node.end_byte:
        return True
    # At the very end, only a literal that nothing closed goes on: a line comment (it ends at
    # the line break), an unterminated block comment, a string whose closing quote is missing.
    if node.type in info.comment_types:
        return not _is_closed_block_comment(node, info)
    return node.child_count > 0 and node.children[-1].is_missing


def _is_closed_block_comment(node: tree_sitter.Node, info: LanguageInfo) -> bool:
    if info.block_comment is None or node.text is None:
        return False
    opener, closer = info.block_comment
    text = node.text.decode("utf-8", "replace")
    return text.startswith(opener) and text.endswith(closer) and len(text) >= len(opener + closer)


def _in_empty_body(snapshot: Snapshot, info: LanguageInfo, cursor: int) -> bool:
    """The cursor is between the delimiters of a block holding nothing but comments (`{|}`)."""
    byte = snapshot.byte_offset(cursor)
    node = snapshot.node_at(cursor)
    while node is not None and node.type not in info.block_openers:
        node = node.parent
    if node is None or not node.start_byte < byte:
        return False
    unclosed = node.child_count > 0 and node.children[-1].is_missing
    if byte >= node.end_byte and not unclosed:
        return False
    return all(child.type in info.comment_types for child in node.named_children)


def _after_opener(
    snapshot: Snapshot, info: LanguageInfo, tree: tree_sitter.Tree, cursor: int
) -> bool:
    """The cursor line is blank and the code before it ends with a token that opens a body."""
    line_prefix, line_suffix = line_around(snapshot.text, cursor)
    if line_prefix.strip() or line_suffix.strip():
        return False
    token = _token_before(snapshot, info, tree, cursor - len(line_prefix))
    if token is None:
        return False
    if token.type in info.opener_tokens:
        return True
    # A node type among the openers (Lua's `parameters`) counts when this token ends it.
    parent = token.parent
    return (
        parent is not None
        and parent.type in info.opener_tokens
        and parent.end_byte == token.end_byte
    )


def _token_before(
    snapshot: Snapshot, info: LanguageInfo, tree: tree_sitter.Tree, end: int
) -> tree_sitter.Node | None:
    """The last token before code-point offset `end`, passing over whitespace, comments and
    docstrings (a body that holds only its docstring is still empty)."""
    text = snapshot.text
    while True:
        while end > 0 and text[end - 1].isspace():
            end -= 1
        if end == 0:
            return None
        byte = snapshot.byte_offset(end)
        token = tree.root_node.descendant_for_byte_range(byte - 1, byte)
        comment = _ancestor_of_type(token, info.comment_types) or _docstring(token, info)
        if comment is None:
            return token
        if comment.text is None:
            return None
        covered = comment.text[: byte - comment.start_byte]
        end -= len(covered.decode("utf-8", "surrogatepass"))


def _docstring(node: tree_sitter.Node | None, info: LanguageInfo) -> tree_sitter.Node | None:
    """The string statement holding node, when it stands alone as a body's first statement."""
    string = _ancestor_of_type(node, info.string_types)
    statement = string.parent if string is not None else None
    if statement is None or statement.type != "expression_statement":
        return None
    if statement.named_child_count != 1 or statement.prev_named_sibling is not None:
        return None
    return statement


def _ancestor_of_type(
    node: tree_sitter.Node | None, types: tuple[str, ...]
) -> tree_sitter.Node | None:
    while node is not None and node.type not in types:
        node = node.parent
    return node
