"""Candidate fixes for a suspect span, from the model, each verified before it is offered.

Two ways to ask: re-infill (cut the suspect lines out and let the model fill the hole, greedy
and with seeded sampling) and instruct (the model's chat template, asked to fix the enclosing
function). A candidate that does not parse, compiles worse, names something undefined, or
changes nothing is dropped; the rest are ranked by the model's own likelihood.
"""

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass

from ..completion.edit import LineCut
from ..completion.prompts import build_prompt
from ..engines.base import Engine, GenerationParams, GenerationStats
from ..errors import TideError
from ..text.documents import Pos, Snapshot
from ..text.languages import parser_for
from .answer import block_closed, extract_code
from .minimal_edit import describe_change, minimal_edit, reindent
from .syntax import syntax_error_nodes
from .verify import verify_fix

log = logging.getLogger(__name__)

MAX_SPAN_LINES = 30  # longer selections are not re-infilled: the hole would be the function
MAX_FUNCTION_LINES = 150
CONTEXT_LINES_BEFORE = 80
CONTEXT_LINES_AFTER = 40
SAMPLES = 3  # seeded samples beside the greedy answer
SYSTEM = "You are a careful senior engineer. You fix bugs with the smallest correct change."


@dataclass(frozen=True)
class FixTarget:
    """What to fix: whole lines [first_line, last_line] of a document, and why."""

    snapshot: Snapshot
    first_line: int
    last_line: int
    message: str = ""


@dataclass(frozen=True)
class Fix:
    """One verified fix: replace document text [start, end) with `text`."""

    title: str
    start: int
    end: int
    text: str
    logprob: float  # mean per token: of the fixed function once ranked, else of the generation
    source: str  # "instruct" or "infill"


def _line_start(snapshot: Snapshot, line: int) -> int:
    return snapshot.offset_at(Pos(line, 0)) if line < snapshot.line_count else len(snapshot.text)


def _line_end(snapshot: Snapshot, line: int) -> int:
    return _line_start(snapshot, line) + len(snapshot.line_text(line))


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def enclosing_lines(snapshot: Snapshot, first: int, last: int) -> tuple[int, int]:
    """The lines of the outermost definition holding the span (the span itself if none)."""
    if snapshot.tree is None:
        return first, last
    for child in snapshot.tree.root_node.children:
        a, b = child.start_point.row, child.end_point.row
        if a <= first and last <= b:
            if b - a + 1 > MAX_FUNCTION_LINES:
                break
            # Decorators and comments directly above belong with the definition.
            return a, b
    return first, last


def holds_syntax_error(snapshot: Snapshot, first: int, last: int) -> bool:
    if snapshot.tree is None:
        return False
    return any(
        node.start_point.row <= last and first <= node.end_point.row
        for node in syntax_error_nodes(snapshot.tree)
    )


def keeps_typed_text(original: str, new: str) -> bool:
    """Whether every non-space character of original appears in new, in order."""
    rest = iter(new)
    return all(char in rest for char in original if not char.isspace())


def function_name(snapshot: Snapshot, line: int) -> str | None:
    """The name of the innermost function or method holding the line, if any."""
    if snapshot.tree is None:
        return None
    text = snapshot.line_text(line)
    point = (line, len(text) - len(text.lstrip()))  # the line's first character
    node = snapshot.tree.root_node.named_descendant_for_point_range(point, point)
    while node is not None:
        if "function" in node.type or "method" in node.type:
            name = node.child_by_field_name("name")
            if name is not None and name.text is not None:
                return name.text.decode("utf-8", "replace")
        node = node.parent
    return None


class FixFinder:
    """Runs the model for one target; meant for the engine's worker, as background work."""

    def __init__(self, engine: Engine, verify: bool = True) -> None:
        self.engine = engine
        self.verify = verify
        # Why a way of asking failed in the last search: its answer is then not worth keeping.
        self.failures: list[str] = []

    def find(self, target: FixTarget, cancelled: Callable[[], bool]) -> list[Fix]:
        fixes: list[Fix] = []
        self.failures = []
        for propose in (self._instruct, self._infill):
            try:
                fixes.extend(propose(target, cancelled))
            except TideError as exc:
                route = propose.__name__.strip("_")
                log.warning("%s fix failed: %s", route, exc)
                self.failures.append(f"{route}: {exc}")
        unique: dict[tuple[int, int, str], Fix] = {}
        for fix in fixes:
            unique.setdefault((fix.start, fix.end, fix.text), fix)
        try:
            return self._rank(target, list(unique.values()), cancelled)
        except TideError as exc:
            log.info("fixes left unranked: %s", exc)
            return list(unique.values())

    def _rank(self, target: FixTarget, fixes: list[Fix], cancelled) -> list[Fix]:
        """Best first by how natural the model finds the whole function once fixed.

        Candidates from re-infill and from the chat answer are scored the same way, by the mean
        log-probability of the fixed function's tokens: a fix that removes the anomaly the
        diagnostics flagged makes the function read as ordinary code.
        """
        if len(fixes) < 2:
            return fixes
        snapshot = target.snapshot
        syntax = holds_syntax_error(snapshot, target.first_line, target.last_line)
        first, last = enclosing_lines(snapshot, target.first_line, target.last_line)
        start, end = _line_start(snapshot, first), _line_end(snapshot, last)
        ranked: list[Fix] = []
        for fix in fixes:
            a, b = min(start, fix.start), max(end, fix.end)
            region = snapshot.text[a : fix.start] + fix.text + snapshot.text[fix.end : b]
            scores = self.engine.score(region, cancelled)
            if scores is None:
                raise Cancelled
            mean = sum(s.logprob for s in scores) / max(len(scores), 1)
            ranked.append(dataclasses.replace(fix, logprob=mean))
        if syntax:
            # For a syntax error, fixes that keep every character the user typed (inserting a
            # missing bracket, say) come before rewrites of the line, however likely.
            text = snapshot.text

            def typed_text_first(f: Fix) -> tuple[bool, float]:
                return not keeps_typed_text(text[f.start : f.end], f.text), -f.logprob

            return sorted(ranked, key=typed_text_first)
        return sorted(ranked, key=lambda f: -f.logprob)

    def _accept(self, snapshot: Snapshot, start: int, end: int, new: str) -> str | None:
        """Why the document with text [start, end) replaced by `new` is refused, if it is."""
        original = snapshot.text
        fixed = original[:start] + new + original[end:]
        if fixed == original:
            return "changes nothing"
        if not self.verify:
            return None
        language = snapshot.language
        parser = parser_for(language) if language is not None else None
        verdict = verify_fix(original, fixed, language, parser)
        return None if verdict.ok else verdict.reason

    def _generate(
        self, prompt, params: GenerationParams, cut: LineCut | None, cancelled
    ) -> tuple[str, float] | None:
        stats = GenerationStats()
        pieces = self.engine.stream(prompt, params, cancelled, stats)
        text = ""
        try:
            for piece in pieces:
                text += piece
                if cut.feed(piece) if cut is not None else block_closed(text):
                    break
        finally:
            pieces.close()
        if stats.stop_reason == "cancelled":
            raise Cancelled
        mean = stats.logprob / max(stats.generated_tokens, 1)
        return (cut.text if cut is not None else text), mean

    def _infill(self, target: FixTarget, cancelled: Callable[[], bool]) -> list[Fix]:
        snapshot = target.snapshot
        first, last = target.first_line, target.last_line
        if last - first + 1 > MAX_SPAN_LINES:
            return []
        # The hole is whole lines, indentation included: a prompt that ends in the middle of
        # the indentation makes the model emit one space too many.
        start = _line_start(snapshot, first)
        end = _line_end(snapshot, last)
        before = _line_start(snapshot, max(0, first - CONTEXT_LINES_BEFORE))
        after = _line_end(snapshot, min(snapshot.line_count - 1, last + CONTEXT_LINES_AFTER))
        prefix, suffix = snapshot.text[before:start], snapshot.text[end:after]
        prompt = build_prompt(self.engine.template, prefix, suffix)
        lines = last - first + 1
        fixes: list[Fix] = []
        seen: set[str] = set()
        for sample in range(SAMPLES + 1):
            params = GenerationParams(
                max_tokens=32 * lines + 16,
                temperature=0.0 if sample == 0 else 0.7,
                seed=sample,
                background=True,
            )
            cut = LineCut(prompt.stops, lines)
            text, mean = self._generate(prompt, params, cut, cancelled)
            if text in seen:
                continue
            seen.add(text)
            reason = self._accept(snapshot, start, end, text)
            if reason:
                log.info("infill candidate %r dropped: %s", text, reason)
                continue
            fixes.append(self._fix(snapshot, start, end, text, mean, "infill"))
        return sorted(fixes, key=lambda f: -f.logprob)

    def _instruct(self, target: FixTarget, cancelled: Callable[[], bool]) -> list[Fix]:
        snapshot = target.snapshot
        language = snapshot.language_id or "text"
        first, last = enclosing_lines(snapshot, target.first_line, target.last_line)
        start, end = _line_start(snapshot, first), _line_end(snapshot, last)
        code = snapshot.text[start:end]
        suspect = "\n".join(
            snapshot.line_text(n) for n in range(target.first_line, target.last_line + 1)
        ).strip()
        problem = f" The problem: {target.message}." if target.message else ""
        user = (
            f"This {language} code has a bug, probably in the line `{suspect}`.{problem}\n"
            f"```{language}\n{code}\n```\n"
            f"Reply with the whole corrected code in one ```{language} block and nothing else."
        )
        prompt = self.engine.chat_prompt(SYSTEM, user)
        if prompt is None:
            return []
        budget = min(2 * self.engine.count_tokens(code) + 64, 1024)
        params = GenerationParams(max_tokens=budget, background=True)
        answer, mean = self._generate(prompt, params, None, cancelled)
        parser = parser_for(snapshot.language) if snapshot.language is not None else None

        def parses(candidate: str) -> bool:
            if parser is None:
                return False
            tree = parser.parse(candidate.encode("utf-8"))
            return not tree.root_node.has_error

        fixed = extract_code(answer, snapshot.language_id, parses)
        if fixed is None:
            log.info("instruct answer had no %s code: %r", language, answer[:200])
            return []
        indent = _indent(snapshot.line_text(first))
        if indent and not fixed.startswith(indent):
            fixed = reindent(fixed, indent)
        edit = minimal_edit(code, fixed.rstrip("\n"), base=start)
        if edit is None:
            return []
        a, b, new = edit
        reason = self._accept(snapshot, a, b, new)
        if reason:
            log.info("instruct fix dropped: %s", reason)
            return []
        return [self._fix(snapshot, a, b, new, mean, "instruct")]

    def _fix(self, snapshot: Snapshot, start: int, end: int, text: str, mean: float, source: str):
        title = describe_change(snapshot.text[start:end], text)
        return Fix(f"Tide: {title}", start, end, text, mean, source)


class Cancelled(Exception):
    """The fix search was interrupted; the caller may try again."""
