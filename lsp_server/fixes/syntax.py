"""Syntax problems from a tree-sitter tree: its ERROR and MISSING nodes, with precise ranges.

tree-sitter recovers from every error, so the tree marks where parsing failed: an ERROR node
wraps tokens it could not fit, a zero-width MISSING node stands for a token it had to assume.
Only the outermost of nested ERROR nodes is reported (its inner ones are the same mistake), and
MISSING nodes inside an ERROR are left to that ERROR's report.
"""

from collections.abc import Iterator

import tree_sitter

from ..text.brackets import CLOSER_OF, CLOSERS, OPENER_OF, OPENERS
from ..text.line_index import utf8
from .problems import Problem, excerpt

# An ERROR whose text fits in this many characters is quoted whole as "unexpected".
_QUOTE_LIMIT = 30


class _Offsets:
    """Converts tree-sitter (row, byte column) points to code-point offsets of the text.

    tree-sitter starts a row only after "\\n", so the rows here are split the same way.
    """

    def __init__(self, text: str) -> None:
        self._text = text
        self._ascii = text.isascii()
        self._rows = text.split("\n")
        self._row_starts = [0]
        for row in self._rows[:-1]:
            self._row_starts.append(self._row_starts[-1] + len(row) + 1)

    def offset(self, point: tree_sitter.Point) -> int:
        row = min(point.row, len(self._rows) - 1)
        line = self._rows[row]
        if self._ascii:
            return self._row_starts[row] + min(point.column, len(line))
        data = utf8(line)
        cut = min(point.column, len(data))
        # A column inside a multi-byte character means that character's start.
        while 0 < cut < len(data) and data[cut] & 0xC0 == 0x80:
            cut -= 1
        return self._row_starts[row] + len(data[:cut].decode("utf-8", "surrogatepass"))

    def row_content_end(self, point: tree_sitter.Point) -> int:
        """The offset just after the last non-whitespace character of the point's row."""
        row = min(point.row, len(self._rows) - 1)
        return self._row_starts[row] + len(self._rows[row].rstrip())


def syntax_error_nodes(tree: tree_sitter.Tree) -> Iterator[tree_sitter.Node]:
    """The outermost ERROR nodes and the MISSING nodes outside them, in document order.

    An ERROR that only wraps one node holding errors (tree-sitter does this to a class whose
    method header is broken) says nothing of its own, so the errors inside it stand for it.
    """
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.is_missing or (node.is_error and not _is_wrapper(node)):
            yield node
        elif node.has_error:
            stack.extend(reversed(node.children))


def _is_wrapper(error: tree_sitter.Node) -> bool:
    return error.child_count == 1 and error.children[0].has_error


def syntax_problems(tree: tree_sitter.Tree, text: str, limit: int = 50) -> list[Problem]:
    """At most limit syntax problems of text (the text tree was parsed from), in order.

    A MISSING token gets a one-character range next to where it belongs, since editors hide
    empty ranges. A multi-line ERROR is narrowed to its first line, where the parse went wrong,
    unless it holds an unbalanced bracket: then the bracket is the range.
    """
    problems: list[Problem] = []
    if limit <= 0 or not tree.root_node.has_error:
        return problems
    offsets = _Offsets(text)
    for node in syntax_error_nodes(tree):
        if node.is_missing:
            problems.append(_missing_problem(node, text, offsets))
        else:
            problems.append(_error_problem(node, text, offsets))
        if len(problems) >= limit:
            break
    return problems


def _missing_problem(node: tree_sitter.Node, text: str, offsets: _Offsets) -> Problem:
    at = offsets.offset(node.start_point)
    start, end = _visible_range(text, at, at)
    if node.is_named:
        return _problem(start, end, f"missing {_kind(node.type)}")
    # An anonymous token is literal text, so a quick fix can insert it at offset.
    return _problem(start, end, f'missing "{node.type}"', {"missing": node.type, "offset": at})


def _error_problem(node: tree_sitter.Node, text: str, offsets: _Offsets) -> Problem:
    bracket = _unbalanced_bracket(node)
    if bracket is not None:
        token, unclosed = bracket
        start, end = offsets.offset(token.start_point), offsets.offset(token.end_point)
        if unclosed:
            message = f'"{token.type}" was never closed'
            return _problem(start, end, message, {"missing": CLOSER_OF[token.type]})
        return _problem(start, end, f'unexpected "{token.type}"')
    first = _first_unfinished(node)
    start, end = offsets.offset(first.start_point), offsets.offset(node.end_point)
    if first.start_point.row != node.end_point.row:
        end = max(start, min(end, offsets.row_content_end(first.start_point)))
    start, end = _visible_range(text, start, end)
    quoted = excerpt(text[start:end], end - start)
    if quoted and len(quoted) <= _QUOTE_LIMIT:
        return _problem(start, end, f'unexpected "{quoted}"')
    parent = node.parent
    if parent is not None and parent.parent is not None:
        return _problem(start, end, f"syntax error in {_kind(parent.type)}")
    if quoted:
        return _problem(start, end, f'syntax error near "{excerpt(quoted, _QUOTE_LIMIT)}"')
    return _problem(start, end, "syntax error")


def _unbalanced_bracket(error: tree_sitter.Node) -> tuple[tree_sitter.Node, bool] | None:
    """The first closing bracket in error without its opener, else its last unclosed opener.

    The bool says whether the bracket is an unclosed opener. Brackets inside strings and
    comments are parts of those tokens, so only real bracket tokens count.
    """
    stack: list[tree_sitter.Node] = []
    for leaf in _leaves(error):
        if leaf.type in OPENERS:
            stack.append(leaf)
        elif leaf.type in CLOSERS:
            if not stack or stack[-1].type != OPENER_OF[leaf.type]:
                return leaf, False
            stack.pop()
    return (stack[-1], True) if stack else None


def _first_unfinished(error: tree_sitter.Node) -> tree_sitter.Node:
    """The first child of error after the whole, error-free lines it starts with.

    Such lines parsed fine (tree-sitter swept them into the ERROR while recovering), so the
    mistake comes after them.
    """
    children = error.children
    index = 0
    while (
        index + 1 < len(children)
        and children[index].is_named
        and not children[index].has_error
        and children[index].end_point.row < children[index + 1].start_point.row
    ):
        index += 1
    return children[index] if children else error


def _leaves(node: tree_sitter.Node) -> Iterator[tree_sitter.Node]:
    stack = [node]
    while stack:
        current = stack.pop()
        if current.child_count == 0:
            if not current.is_missing:
                yield current
        else:
            stack.extend(reversed(current.children))


def _visible_range(text: str, start: int, end: int) -> tuple[int, int]:
    """A non-empty range for an empty one: the character before, else the one after."""
    if start < end:
        return start, end
    if start > 0 and text[start - 1] not in "\r\n":
        return start - 1, start
    if start < len(text) and text[start] not in "\r\n":
        return start, start + 1
    return start, end


def _kind(node_type: str) -> str:
    return node_type.replace("_", " ")


def _problem(start: int, end: int, message: str, data: dict | None = None) -> Problem:
    return Problem(start, end, message, "error", "syntax", data)
