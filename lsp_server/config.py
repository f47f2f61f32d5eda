"""Tide's settings: one dataclass, parsed at the edge from CLI flags and LSP settings objects.

Settings arrive as camelCase JSON (initializationOptions, workspace/didChangeConfiguration);
each key is validated on its own, so one bad value is reported and keeps its previous value
without throwing away the good ones next to it. Each field carries its rule; its key is the
field's name in camelCase.
"""

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

LOG_LEVELS = ("debug", "info", "warning", "error")


@dataclass(frozen=True)
class _Rule:
    """How a setting's client value is checked and converted."""

    kind: type | tuple[type, ...]
    check: Callable[[Any], str | None] | None = None  # the error text, or None when fine
    convert: Callable[[Any], Any] | None = None
    reloads_engine: bool = False
    secret: bool = False  # never echoed in an error message


def _setting(
    default: Any,
    kind: type | tuple[type, ...],
    check: Callable[[Any], str | None] | None = None,
    convert: Callable[[Any], Any] | None = None,
    *,
    reloads_engine: bool = False,
    secret: bool = False,
) -> Any:
    """A Settings field and the rule its client value goes through; the client spells its key
    in camelCase (`context_budget` is `contextBudget`). A secret is left out of the dataclass's
    repr and of error messages, so that no log line can carry it."""
    rule = _Rule(kind, check, convert, reloads_engine, secret)
    return field(default=default, repr=not secret, metadata={"rule": rule})


def _int_range(lo: int, hi: int) -> Callable[[int], str | None]:
    def check(value: int) -> str | None:
        return None if lo <= value <= hi else f"must be between {lo} and {hi}"

    return check


def _number_range(lo: float, hi: float) -> Callable[[float], str | None]:
    def check(value: float) -> str | None:
        return None if lo <= value <= hi else f"must be between {lo:g} and {hi:g}"

    return check


def _share(value: float) -> str | None:
    return None if 0.0 <= value <= 0.9 else "must be between 0.0 and 0.9"


def _level(value: str) -> str | None:
    return None if value.lower() in LOG_LEVELS else f"must be one of {', '.join(LOG_LEVELS)}"


def _engine(value: str) -> str | None:
    from .engines.choice import ENGINES

    return None if value.lower() in ENGINES else f"must be one of {', '.join(ENGINES)}"


SEVERITIES = ("error", "warning", "information", "hint", "off")


def _severity(value: str) -> str | None:
    return None if value.lower() in SEVERITIES else f"must be one of {', '.join(SEVERITIES)}"


def _nonempty(value: str) -> str | None:
    return None if value.strip() else "must not be empty"


def _strings(value: list) -> str | None:
    return None if all(isinstance(v, str) for v in value) else "must be a list of strings"


@dataclass(frozen=True)
class Settings:
    # Registry name or GGUF path; None = the registry's default.
    model: str | None = _setting(None, str, _nonempty, reloads_engine=True)
    # Where pulled models are cached.
    model_dir: str | None = _setting(None, str, _nonempty, reloads_engine=True)
    # Which engine runs the model: "auto" picks from the model reference (a .gguf file or
    # registry name: llama.cpp; a directory or hub id: transformers; a URL: http).
    engine: str = _setting("auto", str, _engine, str.lower, reloads_engine=True)
    # The bearer key for a completion server (the http engine). None: the TIDE_API_KEY
    # environment variable. Only ever sent to the configured URL.
    api_key: str | None = _setting(None, str, _nonempty, reloads_engine=True, secret=True)
    # Seconds a completion server may take over one request before it is answered with an
    # error: a busy team server must never leave the editor waiting.
    server_timeout: float = _setting(
        15.0, (int, float), _number_range(0.5, 600), float, reloads_engine=True
    )
    # A PEM file of certificate authorities that an https:// completion server's certificate
    # may chain to (a team's own CA), besides the system's.
    server_ca_file: str | None = _setting(None, str, _nonempty, reloads_engine=True)
    enable: bool = _setting(True, bool)
    disabled_languages: tuple[str, ...] = _setting((), list, _strings, tuple)
    # Tokens of prefix + suffix. 512 keeps a cold prompt near 7 s on two laptop cores while
    # giving the model ~30 lines above the cursor; see BENCHMARKS.md for the figures.
    context_budget: int = _setting(512, int, _int_range(32, 32768))
    suffix_share: float = _setting(0.2, (int, float), _share, float)
    # Tokens of other files' definitions and related snippets, ahead of the window; 0 is off.
    cross_file_budget: int = _setting(256, int, _int_range(0, 16384))
    max_tokens: int = _setting(128, int, _int_range(1, 1024))
    # A suggestion still being generated this long after its request is shown as far as it
    # goes (whole words), and the rest is served on the next key, from the generation that went
    # on meanwhile, or when it ends to a client that takes the ready notice: after Enter the
    # user pauses about half a second, and a suggestion that comes later is never seen. 0 waits
    # for the whole suggestion. An arrival on a short window (below) shows its first line, or
    # at twice this limit as far as it goes: users pause about a second on arriving.
    answer_within_ms: int = _setting(400, int, _int_range(0, 60000))
    # Prompt tokens an automatic request arriving at a new place may evaluate before its
    # first answer; above this many, the arrival is answered on a window of this many tokens
    # without snippets, which then holds and grows as the user types; the whole prompt is
    # evaluated right after in the background and its fuller answer announced as ready. On two
    # laptop cores 128 answers most arrivals within 1 s instead of about 3 s; since the fuller
    # answer follows, a single request loses nothing (BENCHMARKS.md, "Eighth run"). 0: off.
    arrival_tokens: int = _setting(128, int, _int_range(0, 32768))
    # Prompt lookup: greedy completions draft from their own prompt (code repeats its names)
    # and verify the draft in one batch. Off: on a two-core CPU a batch of two tokens costs more
    # than two tokens one at a time, and completions ran at 0.87-0.95 times the plain speed
    # (benchmarks/lookup.py, BENCHMARKS.md); it pays where batches are cheap.
    prompt_lookup: bool = _setting(False, bool)
    # Lines a completion may span where the syntax asks for a block (after `def ...:`, `{`);
    # elsewhere a completion is one line.
    max_lines: int = _setting(8, int, _int_range(1, 200))
    # Suggestions to rank when the user asks explicitly, for cycling.
    candidates: int = _setting(3, int, _int_range(1, 8))
    # While the user pauses on a suggestion, complete as if it were accepted, so that the next
    # one is there at once on accept; costs idle CPU (battery on a laptop).
    precompute: bool = _setting(True, bool)
    # 0 = one per core, at most 8.
    threads: int = _setting(0, int, _int_range(0, 256), reloads_engine=True)
    # Move cached KV cells when a prompt changes ahead of them (the cursor moves a line) instead
    # of re-evaluating them. Off: with the default model it costs 15-38 points of exact match
    # (benchmarks/shift.py, BENCHMARKS.md), because the moved cells saw the old text.
    move_kv: bool = _setting(False, bool, reloads_engine=True)
    # The engine's context window (KV cache size): 2048 holds the default budget several times
    # over and keeps the KV cache at 24 MiB; a larger budget is cut to fit it.
    context_length: int = _setting(2048, int, _int_range(256, 131072), reloads_engine=True)
    # The LoRA adapter on top of the model: "auto" loads the workspace's own (`tide-lsp tune`)
    # when there is one for this model, "off" none; anything else is an adapter's path.
    adapter: str = _setting("auto", str, _nonempty, reloads_engine=True)
    # The same for next-edit suggestions (`tide-lsp tune --next-edit`): llama.cpp runs them on a
    # context of their own with this adapter, never the completion one.
    next_edit_adapter: str = _setting("auto", str, _nonempty, reloads_engine=True)
    log_level: str = _setting("info", str, _level, str.lower)
    # Syntax errors and unlikely lines, published with source "tide".
    diagnostics: bool = _setting(True, bool)
    # Severity of "unlikely code" hints; "off" keeps the syntax diagnostics only.
    unlikely_severity: str = _setting("hint", str, _severity, str.lower)
    # Offer only fixes that parse (and, for Python, compile).
    verify_fixes: bool = _setting(True, bool)
    # Run the workspace's pytest tests for a function on a patched copy before offering a fix.
    # Off by default: nothing of the user's is ever executed unless they turn this on.
    run_tests: bool = _setting(False, bool)
    test_timeout: int = _setting(20, int, _int_range(1, 600))  # seconds per test run
    # Send a `tide/generation` notification with each model run's prompt reuse and timings
    # (runs cut short by a key too), for benchmarks and status views; off, so that clients
    # that do not read it get nothing.
    report_generations: bool = _setting(False, bool)


DEFAULTS = Settings()


def _camel_case(name: str) -> str:
    head, *words = name.split("_")
    return head + "".join(word.capitalize() for word in words)


# The client's key for each field, with the field's name and rule.
_RULES: dict[str, tuple[str, _Rule]] = {
    _camel_case(f.name): (f.name, f.metadata["rule"]) for f in dataclasses.fields(Settings)
}
# Settings that need the engine reloaded when they change.
ENGINE_KEYS = tuple(name for name, rule in _RULES.values() if rule.reloads_engine)


def _type_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def apply_settings(current: Settings, raw: Any) -> tuple[Settings, list[str]]:
    """Merge a settings object into `current`; returns the result and one message per problem.

    Accepts both `{...}` and `{"tide": {...}}`. Unknown keys and bad values are reported and
    change nothing.
    """
    if raw is None:
        return current, []
    if isinstance(raw, dict) and set(raw) == {"tide"}:
        raw = raw["tide"]
    if raw is None:
        return current, []
    if not isinstance(raw, dict):
        return current, [f"Tide settings must be an object, got {type(raw).__name__}"]
    changes: dict[str, Any] = {}
    errors: list[str] = []
    for key, value in raw.items():
        known = _RULES.get(key)
        if known is None:
            errors.append(f"unknown setting '{key}' (known: {', '.join(sorted(_RULES))})")
            continue
        attr, rule = known
        if value is None:
            # A client that removes a setting sends null: back to the default.
            changes[attr] = getattr(DEFAULTS, attr)
            continue
        # bool is an int in Python; a boolean where a number is expected is still a mistake.
        wrong_bool = isinstance(value, bool) and rule.kind is not bool
        shown = "a hidden value" if rule.secret else repr(value)
        if wrong_bool or not isinstance(value, rule.kind):
            errors.append(f"setting '{key}' must be {_type_name(rule.kind)}, got {shown}")
            continue
        problem = rule.check(value) if rule.check else None
        if problem:
            errors.append(f"setting '{key}' {problem}, got {shown}")
            continue
        changes[attr] = rule.convert(value) if rule.convert else value
    return dataclasses.replace(current, **changes), errors


def engine_changed(old: Settings, new: Settings) -> bool:
    return any(getattr(old, k) != getattr(new, k) for k in ENGINE_KEYS)


def log_level_number(settings: Settings) -> int:
    return getattr(logging, settings.log_level.upper())
