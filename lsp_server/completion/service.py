"""One completion, top to bottom: trigger -> window -> prompt -> engine -> cut -> edit.

Runs on the scheduler's worker with an immutable document snapshot; knows nothing of LSP.
"""

import logging
import re
import time
from dataclasses import dataclass, field, replace

from ..config import Settings
from ..engines.base import Engine, GenerationParams, GenerationStats
from ..runtime.scheduler import Superseded, Ticket
from ..text.documents import Snapshot, snapshot_with_text
from ..text.languages import parser_for
from ..text.parsed_text import ParsedText
from .cut import SyntaxCut, without_new_errors
from .edit import Edit, line_around, make_edit, stop_at_suffix_opener
from .prompts import ContextFile, build_prompt
from .trigger import decide
from .type_through import AFTER_CHARS, TypeThroughCache
from .window import LineTokenCounter, cursor_window

log = logging.getLogger(__name__)

# What token healing backs the prompt off by: the partial word before the cursor with the
# space before it (BPE vocabularies glue a space to the word after it: " a", " print"),
# trailing spaces and indentation, which the model would otherwise repeat, or trailing
# punctuation, which BPE glues to what follows ("()", "(self", ".js"): left in the prompt, it
# ends the text where no tokenizer would, and the model answers `foo(` with "0)" or " x ):".
_HEALABLE = re.compile(r"(?: ?[A-Za-z_]\w{0,31}|[ \t]+|[^\w\s]{1,3})$")
SAMPLE_TEMPERATURE = 0.8  # alternatives for cycling should differ from the greedy answer


@dataclass(frozen=True)
class CompletionRequest:
    snapshot: Snapshot
    cursor: int  # code-point offset into snapshot.text
    settings: Settings
    invoked: bool = False  # the user asked explicitly (not as-you-type)
    files: tuple[ContextFile, ...] = ()  # other files' snippets, shown ahead of the window
    path: str | None = None  # the document's workspace-relative path, for the prompt
    repo: str = ""


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


def rank(candidates: list[Candidate]) -> list[Candidate]:
    """The candidates in the order the editor cycles through them.

    The greedy answer (the first) stays first: it is what as-you-type shows and what
    type-through remembers. The samples follow, the most likely per token first.
    """
    return candidates[:1] + sorted(candidates[1:], key=lambda c: -c.logprob)


def skip_reason(snapshot: Snapshot, settings: Settings) -> str | None:
    """Why no completion should be offered in this document at all, if any."""
    if not settings.enable:
        return "completions are disabled"
    if snapshot.language_id in settings.disabled_languages:
        return f"completions are disabled for {snapshot.language_id}"
    if "\x00" in snapshot.text:
        return "the document holds binary content"
    return None


class _Healed:
    """Feeds a cut the generated text past the word the prompt was backed off by."""

    def __init__(self, cut: SyntaxCut, heal: str) -> None:
        self.cut = cut
        self.heal = heal
        self.head = ""
        self.broken = False  # the model did not re-type the word (it ended first)

    def feed(self, piece: str) -> bool:
        if len(self.head) < len(self.heal):
            self.head += piece
            if len(self.head) < len(self.heal):
                return False
            if not self.head.startswith(self.heal):
                self.broken = True
                return True
            piece = self.head[len(self.heal) :]
        return self.cut.feed(piece) if piece else False

    @property
    def text(self) -> str:
        if self.broken or len(self.head) < len(self.heal):
            return ""
        return self.cut.text


class Completer:
    """Turns a request into a completion with one loaded engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._count_line = LineTokenCounter(engine.count_tokens)
        self.type_through = TypeThroughCache()

    def typed_through(
        self, snapshot: Snapshot, cursor: int, invoked: bool
    ) -> CompletionResult | None:
        """The rest of the suggestion the user is typing through, if any; needs no model, so
        the server answers it at once, without the cross-file context or the model's thread."""
        if invoked:
            return None
        start = time.perf_counter()
        rest = self.type_through.lookup(snapshot.uri, snapshot.text, cursor)
        if rest is None:
            return None
        line_prefix, line_suffix = line_around(snapshot.text, cursor)
        after = snapshot.text[cursor : cursor + AFTER_CHARS]
        edit = make_edit(cursor, line_prefix, line_suffix, after, rest)
        engine_ms = (time.perf_counter() - start) * 1000
        log.info("complete %s v%d: typed through, %r", snapshot.uri, snapshot.version, rest)
        stats = GenerationStats(stop_reason="typed-through")
        return CompletionResult(edit, self.engine.model_name, engine_ms, stats, rest)

    def complete(self, request: CompletionRequest, ticket: Ticket) -> CompletionResult:
        start = time.perf_counter()
        snapshot, cursor = request.snapshot, request.cursor
        through = self.typed_through(snapshot, cursor, request.invoked)
        if through is not None:
            return through
        trigger = decide(snapshot, cursor, request.invoked)
        if not trigger.complete:
            log.info("complete %s v%d: skipped, %s", snapshot.uri, snapshot.version, trigger.reason)
            return CompletionResult(None, self.engine.model_name, 0.0, reason=trigger.reason)
        result = self._generate(request, ticket, start, trigger.multiline)
        shown = result.edit is not None
        self.type_through.remember(
            snapshot.uri, snapshot.text, cursor, result.text if shown else ""
        )
        return result

    def needs_ahead(self, before: Snapshot, shown: CompletionResult) -> bool:
        """Whether the suggestion that follows accepting `shown` is still to be computed."""
        if shown.edit is None:
            return False
        text, cursor = _accepted(before, shown.edit)
        return not self.type_through.has_ahead(before.uri, text, cursor)

    def complete_ahead(
        self, request: CompletionRequest, shown: CompletionResult, ticket: Ticket
    ) -> bool:
        """Compute the suggestion that follows `shown` once it is accepted, and remember it so
        that the request after the accept is answered from memory; whether one was made."""
        if not self.needs_ahead(request.snapshot, shown):
            return False
        before = request.snapshot
        text, cursor = _accepted(before, shown.edit)
        snapshot = snapshot_with_text(before, text)
        trigger = decide(snapshot, cursor, False)
        if not trigger.complete:
            return False
        ahead = replace(request, snapshot=snapshot, cursor=cursor, invoked=False)
        result = self._generate(
            ahead, ticket, time.perf_counter(), trigger.multiline, label="ahead of accept,"
        )
        if result.edit is None:
            return False
        self.type_through.remember_ahead(before.uri, text, cursor, result.text)
        return True

    def _generate(
        self,
        request: CompletionRequest,
        ticket: Ticket,
        start: float,
        multiline: bool,
        label: str = "complete",
    ) -> CompletionResult:
        settings = request.settings
        snapshot = request.snapshot
        text = snapshot.text
        files_tokens = sum(self.engine.count_tokens(f.path + f.text) + 2 for f in request.files)
        # The prompt and the completion share the engine's context; a budget beyond it is cut.
        room = self.engine.n_ctx - settings.max_tokens - 16 - files_tokens
        budget = max(min(settings.context_budget, room), 32)
        window = cursor_window(
            text,
            request.cursor,
            budget,
            self._count_line,
            suffix_share=settings.suffix_share,
        )
        line_prefix, line_suffix = line_around(text, request.cursor)
        heal = heal_word(line_prefix, line_suffix)
        language = snapshot.language
        prompt = build_prompt(
            self.engine.template,
            window.prefix[: len(window.prefix) - len(heal)],
            window.suffix,
            files=request.files,
            path=request.path,
            repo=request.repo,
            line_comment=language.line_comment if language else None,
        )
        window_ms = (time.perf_counter() - start) * 1000
        # A document too large to keep a tree for is too large to re-parse per generated token:
        # its completions are cut by the plain-text rules (line, indentation, brackets).
        parse = language is not None and snapshot.tree is not None
        parser = parser_for(language) if parse else None
        max_lines = settings.max_lines if multiline else 1

        document = ParsedText(text, parser, snapshot.tree) if parser is not None else None

        def edit_for(candidate: str) -> Edit | None:
            return make_edit(request.cursor, line_prefix, line_suffix, window.suffix, candidate)

        samples = settings.candidates if request.invoked else 1
        candidates: list[Candidate] = []
        first_stats = GenerationStats()
        discarded = discarded_tokens = 0
        for sample in range(samples):
            stats = first_stats if sample == 0 else GenerationStats()
            cut = SyntaxCut(
                text[: request.cursor],
                window.suffix,
                language,
                parser,
                prompt.stops,
                max_lines,
                document,
            )
            healed = _Healed(cut, heal)
            params = GenerationParams(
                max_tokens=settings.max_tokens,
                temperature=0.0 if sample == 0 else SAMPLE_TEMPERATURE,
                seed=sample,
                heal=heal,
            )
            pieces = self.engine.stream(prompt, params, ticket.is_cancelled, stats)
            try:
                for piece in pieces:
                    if healed.feed(piece):
                        break
            finally:
                pieces.close()
            if stats.stop_reason == "cancelled":
                raise Superseded(ticket.reason)
            generated = stop_at_suffix_opener(healed.text, line_suffix)
            completion = generated
            if document is not None:
                completion = without_new_errors(document, generated, edit_for)
            if sample == 0:
                discarded = cut.discarded + len(generated) - len(completion)
                # Generated tokens past what is kept: the stream stops at the cut, so this is
                # what deciding while streaming still costs (approximate: the kept text is
                # re-tokenized, which may merge differently than it was generated).
                kept = self.engine.count_tokens(heal + completion) if completion else 0
                discarded_tokens = max(stats.generated_tokens - kept, 0)
            edit = make_edit(request.cursor, line_prefix, line_suffix, window.suffix, completion)
            if edit is not None and all(c.edit != edit for c in candidates):
                mean = stats.logprob / max(stats.generated_tokens, 1)
                candidates.append(Candidate(edit, completion, mean))
        ranked = rank(candidates)
        best = ranked[0] if ranked else None
        engine_ms = (time.perf_counter() - start) * 1000
        log.info(
            "%s %s v%d: window %.0fms (%d+%d tok, %d in files), prompt %d tok "
            "(%d reused, %d run) %.0fms, generate %d tok %.0fms, %d chars cut, "
            "%d tok thrown away, %s%s",
            label,
            snapshot.uri,
            snapshot.version,
            window_ms,
            window.prefix_tokens,
            window.suffix_tokens,
            files_tokens,
            first_stats.prompt_tokens,
            first_stats.reused_tokens,
            first_stats.evaluated_tokens,
            first_stats.prompt_ms,
            first_stats.generated_tokens,
            first_stats.generate_ms,
            discarded,
            discarded_tokens,
            "no suggestion" if best is None else repr(best.edit.text),
            f" (+{len(ranked) - 1} alternatives)" if len(ranked) > 1 else "",
        )
        return CompletionResult(
            best.edit if best else None,
            self.engine.model_name,
            engine_ms,
            first_stats,
            best.text if best else "",
            tuple(ranked[1:]),
            discarded,
        )


def _accepted(before: Snapshot, edit: Edit) -> tuple[str, int]:
    """The document text and cursor once `edit` is accepted."""
    text = before.text[: edit.start] + edit.text + before.text[edit.end :]
    return text, edit.start + len(edit.text)


def heal_word(line_prefix: str, line_suffix: str) -> str:
    """The text before the cursor to back the prompt off by, if any.

    Only a word, whitespace or punctuation at its end (nothing word-like after the cursor):
    the model then re-types it from a token boundary, so `pri|` becomes `print(` instead of a
    token that never follows "pri" in training data, an indented blank line does not get one
    space too many, and `f(|` may go on as "()" or "(x".
    """
    if line_suffix[:1].isalnum() or line_suffix[:1] == "_":
        return ""
    match = _HEALABLE.search(line_prefix)
    return match.group() if match else ""
