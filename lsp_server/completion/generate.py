"""One model run for a completion, on the engine's worker: window -> heal -> prompt -> engine
-> cut -> edit -> rank.

Takes an immutable snapshot and the context chosen for it; knows nothing of LSP, documents
changing or the scheduler's queue.
"""

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..config import Settings
from ..engines.base import Engine, GenerationParams, GenerationStats
from ..runtime.scheduler import Superseded, Ticket
from ..text.documents import Snapshot
from ..text.languages import parser_for
from ..text.parsed_text import ParsedText
from .cut import SyntaxCut, without_new_errors
from .edit import Edit, line_around, make_edit, stop_at_suffix_opener
from .healing import Healed, heal_word
from .prompts import ContextFile, Prompt, build_prompt
from .result import Candidate, CompletionResult, rank
from .trigger import decide
from .window import LineTokenCounter, Window, cursor_window, held_window

log = logging.getLogger(__name__)

SAMPLE_TEMPERATURE = 0.8  # alternatives for cycling should differ from the greedy answer
# The mean log-probability per token a next-best line needs to be shown: on the replay's empty
# line starts the right ones scored -0.25, the junk ("0" where a call closed) below -6.
NEXT_BEST_LOGPROB = -1.0
# How far past its budget a held window's prefix may grow before its start moves: half the
# budget is a dozen lines typed in one place, and a prompt still far inside the context.
HELD_SLACK = 0.5
# A word the model may still be in the middle of: a partial answer ends before its last
# sub-word.
_OPEN_WORD = re.compile(r"\w+$")


@dataclass(frozen=True)
class Early:
    """A request that takes what is ready at `at` (time.perf_counter()) rather than wait for
    the whole suggestion, when generating it is what takes the time; `give` hands it over,
    once, from the worker. An arrival on a short window takes whole lines until `words_at`,
    then whole words: by then its user has paused as long as users pause on arriving."""

    at: float
    give: Callable[["CompletionResult"], None]
    words_at: float = 0.0


@dataclass(frozen=True)
class Plan:
    """What the prompt shows besides the window around the cursor."""

    files: tuple[ContextFile, ...] = ()  # other files' snippets, shown ahead of the window
    path: str | None = None  # the document's workspace-relative path
    repo: str = ""


@dataclass(frozen=True)
class GenerationRequest:
    snapshot: Snapshot
    cursor: int  # code-point offset into snapshot.text
    settings: Settings
    multiline: bool  # the trigger allows several lines
    invoked: bool = False  # the user asked explicitly: rank alternatives too
    plan: Plan = Plan()
    label: str = "complete"  # for the log: a request, or a suggestion computed ahead
    # The window's first offset, held from an earlier request while the user types in one
    # place; None, or a start the window has outgrown, chooses a fresh one.
    start: int | None = None
    # The window's tokens, where not the settings' contextBudget (a short arrival's).
    budget: int | None = None


@dataclass(frozen=True)
class Layout:
    """The prompt for a request and the window it shows."""

    window: Window
    prompt: Prompt
    heal: str
    files_tokens: int
    line_prefix: str
    line_suffix: str


class Generator:
    """Turns requests into ranked completions with one loaded engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._count_line = LineTokenCounter(engine.count_tokens)

    def layout(self, request: GenerationRequest) -> Layout:
        """The window and the prompt for `request`: on its held start while that still fits."""
        settings, snapshot, plan = request.settings, request.snapshot, request.plan
        text = snapshot.text
        files_tokens = sum(self.engine.count_tokens(f.path + f.text) + 2 for f in plan.files)
        # The prompt and the completion share the engine's context; a budget beyond it is cut.
        room = self.engine.n_ctx - settings.max_tokens - 16 - files_tokens
        full = max(min(settings.context_budget, room), 32)
        budget = max(min(request.budget or full, full), 32)
        held = None
        if request.start is not None:
            # The slack a held start may grow by, within what the engine's context has room
            # for: a short arrival's window grows as far as a whole one would.
            slack = max(min(full * (1 + HELD_SLACK), room) / budget - 1, 0.0)
            held = held_window(
                text, request.start, request.cursor, budget, self._count_line,
                settings.suffix_share, slack,
            )  # fmt: skip
        window = held or cursor_window(
            text, request.cursor, budget, self._count_line, suffix_share=settings.suffix_share
        )
        line_prefix, line_suffix = line_around(text, request.cursor)
        heal = heal_word(line_prefix, line_suffix)
        language = snapshot.language
        prompt = build_prompt(
            self.engine.template,
            window.prefix[: len(window.prefix) - len(heal)],
            window.suffix,
            files=plan.files,
            path=plan.path,
            repo=plan.repo,
            line_comment=language.line_comment if language else None,
        )
        return Layout(window, prompt, heal, files_tokens, line_prefix, line_suffix)

    def prepare(self, layout: Layout, ticket: Ticket) -> bool:
        """Have the engine evaluate `layout`'s prompt ahead of time; whether it finished."""
        return self.engine.prepare(layout.prompt, ticket.is_cancelled)

    def generate(
        self,
        request: GenerationRequest,
        ticket: Ticket,
        layout: Layout | None = None,
        early: Early | None = None,
    ) -> CompletionResult:
        """The ranked completions for `request`, on `layout` when it was made already; with
        `early`, what is ready by its time is handed over while generation goes on."""
        start = time.perf_counter()
        settings, snapshot = request.settings, request.snapshot
        text = snapshot.text
        layout = layout or self.layout(request)
        window, prompt, heal = layout.window, layout.prompt, layout.heal
        line_prefix, line_suffix = layout.line_prefix, layout.line_suffix
        files_tokens = layout.files_tokens
        language = snapshot.language
        window_ms = (time.perf_counter() - start) * 1000
        # A document too large to keep a tree for is too large to re-parse per generated token:
        # its completions are cut by the plain-text rules (line, indentation, brackets).
        parse = language is not None and snapshot.tree is not None
        parser = parser_for(language) if parse else None
        max_lines = settings.max_lines if request.multiline else 1
        document = ParsedText(text, parser, snapshot.tree) if parser is not None else None

        def edit_for(candidate: str) -> Edit | None:
            return make_edit(request.cursor, line_prefix, line_suffix, window.suffix, candidate)

        def params_for(sample: int, avoid: str = "") -> GenerationParams:
            return GenerationParams(
                max_tokens=settings.max_tokens,
                temperature=0.0 if sample == 0 or avoid else SAMPLE_TEMPERATURE,
                seed=sample,
                heal=heal,
                lookup=settings.prompt_lookup,
                avoid=avoid,
            )

        attempts = [
            params_for(sample) for sample in range(settings.candidates if request.invoked else 1)
        ]
        # At a line start the user waits for a suggestion; one the cuts threw away whole (it
        # repeated the suffix's next line, or closed what the suffix still needs) gets the
        # next-best line instead of nothing.
        next_best = not request.invoked and not line_prefix.strip() and self.engine.avoids
        candidates: list[Candidate] = []
        first_stats = GenerationStats()
        discarded = discarded_tokens = 0
        for sample, params in enumerate(attempts):
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
            healed = Healed(cut, heal)
            pieces = self.engine.stream(prompt, params, ticket.is_cancelled, stats)
            whole_lines = False
            raw = ""
            try:
                for fed, piece in enumerate(pieces):
                    raw += piece if not raw.strip() else ""
                    if healed.feed(piece):
                        break
                    now = time.perf_counter()
                    if early is not None and fed == 0 and sample == 0 and now >= early.at:
                        if request.budget is None:
                            # The prompt alone took the time: whoever still waits now would
                            # rather have the whole than its first word.
                            early = None
                        else:
                            # A short window answers an arrival as soon as it can: its first
                            # line, and the rest from the generation on the next key.
                            whole_lines = True
                    if early is not None and sample == 0 and now >= early.at:
                        lines = whole_lines and now < early.words_at
                        partial = partial_suggestion(healed.text, line_suffix, lines)
                        if partial:
                            engine_ms = (time.perf_counter() - start) * 1000
                            early.give(
                                CompletionResult(
                                    edit_for(partial),
                                    self.engine.model_name,
                                    engine_ms,
                                    stats,
                                    partial,
                                    window_start=window.start,
                                )
                            )
                            early = None
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
            edit = edit_for(completion)
            mean = stats.logprob / max(stats.generated_tokens, 1)
            # A next-best line the model itself doubts is a wrong suggestion, worse than none.
            doubted = bool(params.avoid) and mean < NEXT_BEST_LOGPROB
            if edit is not None and not doubted and all(c.edit != edit for c in candidates):
                candidates.append(Candidate(edit, completion, mean))
            elif next_best and sample == 0 and raw.strip():
                # Whatever begins as it did, up to its first visible character, is shunned.
                shunned = raw[: len(raw) - len(raw.lstrip()) + 1]
                log.debug("%r was thrown away whole; the next-best line", raw)
                attempts.append(params_for(1, avoid=shunned))
        ranked = rank(candidates)
        best = ranked[0] if ranked else None
        engine_ms = (time.perf_counter() - start) * 1000
        log.info(
            "%s %s v%d: window %.0fms (%d+%d tok, %d in files), prompt %d tok "
            "(%d reused, %d run) %.0fms, generate %d tok %.0fms, %d chars cut, "
            "%d tok thrown away, %s%s",
            request.label,
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
            window_start=window.start,
            short=request.budget is not None,
        )


def partial_suggestion(text: str, line_suffix: str, whole_lines: bool = False) -> str:
    """The part of a suggestion still being generated that can be shown now: up to the start
    of the sub-word it is in (a long name shows as far as its last `_` or capital), or with
    `whole_lines` up to its last line break."""
    shown = stop_at_suffix_opener(text, line_suffix)
    if whole_lines:
        shown = shown[: max(shown.rfind("\n"), 0)]
    else:
        word = _OPEN_WORD.search(shown)
        if word is not None:
            shown = shown[: word.start() + _last_subword(word.group())]
    return shown if shown.strip() else ""


def _last_subword(word: str) -> int:
    """Where the last sub-word of `word` begins: after its last `_`, or at a capital after a
    lower-case letter or digit; 0 when it has one."""
    for i in range(len(word) - 1, 0, -1):
        before = word[i - 1]
        if before == "_" or (word[i].isupper() and (before.islower() or before.isdigit())):
            return i
    return 0


def complete_once(
    generator: Generator, snapshot: Snapshot, cursor: int, settings: Settings
) -> CompletionResult:
    """A completion at `cursor` with nothing but the document, as the command line gives one."""
    trigger = decide(snapshot, cursor, invoked=False)
    if not trigger.complete:
        return CompletionResult(None, generator.engine.model_name, 0.0, reason=trigger.reason)
    request = GenerationRequest(snapshot, cursor, settings, trigger.multiline)
    return generator.generate(request, Ticket())
