"""Whether a candidate fix may be offered: it must change something and break nothing.

Pass whole documents, the original and the original with the fix applied: the checks compare
the two, so a problem the document already had does not count against the fix, and names are
only judged undefined against everything the document defines.
"""

import ast
import re
import warnings
from dataclasses import dataclass

import pyflakes.checker
import pyflakes.messages
import tree_sitter

from ..text.languages import LanguageInfo, parser_for
from ..text.line_index import utf8
from .minimal_edit import minimal_edit
from .syntax import syntax_error_nodes, syntax_problems

_LINE_BREAK = re.compile(r"\r\n?|\n")
_IDENTIFIER = re.compile(r"[^\W\d]\w*")
_UNDEFINED = (pyflakes.messages.UndefinedName, pyflakes.messages.UndefinedLocal)


@dataclass(frozen=True)
class Verdict:
    """ok says whether the fix passed; reason says why, in words fit for a log or the user."""

    ok: bool
    reason: str


@dataclass(frozen=True)
class _CompileError:
    offset: int
    message: str


def verify_fix(
    original: str,
    fixed: str,
    language: LanguageInfo | None,
    parser: tree_sitter.Parser | None = None,
) -> Verdict:
    """Whether fixed, the whole document with a fix applied, may replace original.

    Checks, in order: the fix changes more than trailing whitespace and line endings; it adds
    no syntax error tree-sitter sees; for Python, it compiles unless the original did not (then
    its first error must be the original's or come later), and it uses no name pyflakes finds
    undefined that the original did not. Plain text (language None) only needs to change.
    parser defaults to the language's parser for this thread.
    """
    if _normalized(original) == _normalized(fixed):
        return Verdict(False, "the fix changes nothing but trailing whitespace or line endings")
    if language is None:
        return Verdict(True, "the fix changes the text (plain text is not checked)")
    verdict = _check_syntax(original, fixed, parser or parser_for(language))
    if verdict is not None:
        return verdict
    if language.id == "python":
        return _check_python(original, fixed) or Verdict(
            True, "the fix adds no syntax error or undefined name"
        )
    return Verdict(True, "the fix adds no syntax error")


def _normalized(text: str) -> str:
    return "\n".join(line.rstrip() for line in _LINE_BREAK.split(text)).rstrip("\n")


def _check_syntax(original: str, fixed: str, parser: tree_sitter.Parser) -> Verdict | None:
    fixed_tree = parser.parse(utf8(fixed))
    after = sum(1 for _ in syntax_error_nodes(fixed_tree))
    if after == 0:
        return None
    errors = list(syntax_error_nodes(parser.parse(utf8(original))))
    # A fix that edits the lines of a syntax error must remove it; elsewhere it only must not
    # add one (the document may have other errors it does not touch).
    first_row, last_row = _edited_rows(original, fixed)
    touched = any(e.start_point.row <= last_row and first_row <= e.end_point.row for e in errors)
    if after < len(errors) or (after == len(errors) and not touched):
        return None
    if touched and after == len(errors):
        return Verdict(False, "the fix leaves the syntax error on the lines it changes")
    first = syntax_problems(fixed_tree, fixed, limit=1)[0]
    line = fixed.count("\n", 0, first.start) + 1
    return Verdict(False, f"the fix adds a syntax error: {first.message} on line {line}")


def _edited_rows(original: str, fixed: str) -> tuple[int, int]:
    """The rows of original, counted as tree-sitter does (after "\\n"), that the fix edits."""
    edit = minimal_edit(original, fixed)
    start, end = (edit[0], edit[1]) if edit else (0, 0)
    return original.count("\n", 0, start), original.count("\n", 0, end)


def _check_python(original: str, fixed: str) -> Verdict | None:
    fixed_error = _compile_error(fixed)
    original_error = _compile_error(original)
    if fixed_error is not None:
        if original_error is None or _is_worse(original, fixed, original_error, fixed_error):
            line = fixed.count("\n", 0, fixed_error.offset) + 1
            return Verdict(False, f"the fix does not compile: {fixed_error.message} (line {line})")
        return None
    new_names = _undefined_names(fixed) - _known_names(original, original_error is None)
    if new_names:
        listed = ", ".join(sorted(new_names))
        return Verdict(False, f"the fix uses undefined names: {listed}")
    return None


def _compile_error(code: str) -> _CompileError | None:
    try:
        with warnings.catch_warnings():
            # Warnings (an invalid escape, "is" with a literal) are not the fix's failure.
            warnings.simplefilter("ignore")
            compile(code, "<fix>", "exec", dont_inherit=True)
    except SyntaxError as error:
        return _CompileError(_offset_of(code, error.lineno, error.offset), error.msg)
    except (ValueError, RecursionError, MemoryError) as error:
        return _CompileError(len(code), str(error) or type(error).__name__)
    return None


def _offset_of(code: str, line: int | None, column: int | None) -> int:
    """The code-point offset of a SyntaxError's 1-based line and column."""
    if line is None:
        return len(code)
    # Python ends lines only at these breaks, unlike str.splitlines.
    starts = [0, *(match.end() for match in _LINE_BREAK.finditer(code))]
    start = starts[min(max(line - 1, 0), len(starts) - 1)]
    return min(start + max((column or 1) - 1, 0), len(code))


def _is_worse(original: str, fixed: str, before: _CompileError, after: _CompileError) -> bool:
    """Whether the fix's first compile error comes before the original's first one.

    Its offset is mapped back through the edit into the original: the same error left where
    it was is no worse, and an error after the original's means the fix got further; but a fix
    that edits the place of the original error must leave no error up to the end of its edit.
    """
    edit = minimal_edit(original, fixed)
    if edit is None:
        return False
    start, end, new_text = edit
    mapped = after.offset
    if mapped >= start + len(new_text):
        mapped += (end - start) - len(new_text)
    elif mapped > start:
        mapped = start
    if start <= before.offset <= end:
        # The fix rewrote where the original went wrong: it must get past its own text.
        return mapped <= end
    if mapped == before.offset:
        return after.message != before.message
    return mapped < before.offset


def _undefined_names(code: str) -> set[str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tree = ast.parse(code)
    checker = pyflakes.checker.Checker(tree, "<fix>")
    return {m.message_args[0] for m in checker.messages if isinstance(m, _UNDEFINED)}


def _known_names(original: str, compiles: bool) -> set[str]:
    """Names the fix may leave undefined: the original's own undefined names, or, when the
    original does not compile, every identifier it spells (the fix did not invent those)."""
    if compiles:
        return _undefined_names(original)
    return set(_IDENTIFIER.findall(original))
