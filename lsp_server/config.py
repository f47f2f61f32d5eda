"""Tide's settings: one dataclass, parsed at the edge from CLI flags and LSP settings objects.

Settings arrive as camelCase JSON (initializationOptions, workspace/didChangeConfiguration);
each key is validated on its own, so one bad value is reported and keeps its previous value
without throwing away the good ones next to it.
"""

import dataclasses
import logging
from dataclasses import dataclass
from typing import Any

LOG_LEVELS = ("debug", "info", "warning", "error")


@dataclass(frozen=True)
class Settings:
    model: str | None = None  # registry name or GGUF path; None = the registry's default
    model_dir: str | None = None  # where pulled models are cached
    # Which engine runs the model: "auto" picks from the model reference (a .gguf file or
    # registry name: llama.cpp; a directory or hub id: transformers; a URL: http).
    engine: str = "auto"
    enable: bool = True
    disabled_languages: tuple[str, ...] = ()
    # Tokens of prefix + suffix. 512 keeps a cold prompt near 7 s on two laptop cores while
    # giving the model ~30 lines above the cursor; see BENCHMARKS.md for the figures.
    context_budget: int = 512
    suffix_share: float = 0.2
    # Tokens of other files' definitions and related snippets, ahead of the window; 0 is off.
    cross_file_budget: int = 256
    max_tokens: int = 128
    # Lines a completion may span where the syntax asks for a block (after `def ...:`, `{`);
    # elsewhere a completion is one line.
    max_lines: int = 8
    candidates: int = 3  # suggestions to rank when the user asks explicitly, for cycling
    # While the user pauses on a suggestion, complete as if it were accepted, so that the next
    # one is there at once on accept; costs idle CPU (battery on a laptop).
    precompute: bool = True
    threads: int = 0  # 0 = one per core, at most 8
    # Move cached KV cells when a prompt changes ahead of them (the cursor moves a line) instead
    # of re-evaluating them. Off: with the default model it costs 15-38 points of exact match
    # (benchmarks/shift.py, BENCHMARKS.md), because the moved cells saw the old text.
    move_kv: bool = False
    # The engine's context window (KV cache size): 2048 holds the default budget several times
    # over and keeps the KV cache at 24 MiB; a larger budget is cut to fit it.
    context_length: int = 2048
    # The LoRA adapter on top of the model: "auto" loads the workspace's own (`tide-lsp tune`)
    # when there is one for this model, "off" none; anything else is an adapter's path.
    adapter: str = "auto"
    log_level: str = "info"
    diagnostics: bool = True  # syntax errors and unlikely lines, published with source "tide"
    # Severity of "unlikely code" hints; "off" keeps the syntax diagnostics only.
    unlikely_severity: str = "hint"
    verify_fixes: bool = True  # offer only fixes that parse (and, for Python, compile)
    # Run the workspace's pytest tests for a function on a patched copy before offering a fix.
    # Off by default: nothing of the user's is ever executed unless they turn this on.
    run_tests: bool = False
    test_timeout: int = 20  # seconds per test run
    # Send a `tide/generation` notification with each model run's prompt reuse and timings,
    # for benchmarks and status views; off, so that clients that do not read it get nothing.
    report_generations: bool = False


DEFAULTS = Settings()


@dataclass(frozen=True)
class _Rule:
    attr: str
    kind: type | tuple[type, ...]
    check: Any = None  # callable(value) -> error text or None
    convert: Any = None


def _int_range(lo: int, hi: int):
    def check(value: int) -> str | None:
        return None if lo <= value <= hi else f"must be between {lo} and {hi}"

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


_RULES: dict[str, _Rule] = {
    "model": _Rule("model", str, _nonempty),
    "modelDir": _Rule("model_dir", str, _nonempty),
    "engine": _Rule("engine", str, _engine, str.lower),
    "enable": _Rule("enable", bool),
    "disabledLanguages": _Rule("disabled_languages", list, _strings, tuple),
    "contextBudget": _Rule("context_budget", int, _int_range(32, 32768)),
    "suffixShare": _Rule("suffix_share", (int, float), _share, float),
    "crossFileBudget": _Rule("cross_file_budget", int, _int_range(0, 16384)),
    "maxTokens": _Rule("max_tokens", int, _int_range(1, 1024)),
    "maxLines": _Rule("max_lines", int, _int_range(1, 200)),
    "candidates": _Rule("candidates", int, _int_range(1, 8)),
    "precompute": _Rule("precompute", bool),
    "threads": _Rule("threads", int, _int_range(0, 256)),
    "moveKv": _Rule("move_kv", bool),
    "contextLength": _Rule("context_length", int, _int_range(256, 131072)),
    "adapter": _Rule("adapter", str, _nonempty),
    "logLevel": _Rule("log_level", str, _level, str.lower),
    "diagnostics": _Rule("diagnostics", bool),
    "unlikelySeverity": _Rule("unlikely_severity", str, _severity, str.lower),
    "verifyFixes": _Rule("verify_fixes", bool),
    "runTests": _Rule("run_tests", bool),
    "testTimeout": _Rule("test_timeout", int, _int_range(1, 600)),
    "reportGenerations": _Rule("report_generations", bool),
}

# Settings that need the engine reloaded when they change.
ENGINE_KEYS = (
    "model", "model_dir", "engine", "threads", "context_length", "move_kv", "adapter"
)  # fmt: skip


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
        rule = _RULES.get(key)
        if rule is None:
            errors.append(f"unknown setting '{key}' (known: {', '.join(sorted(_RULES))})")
            continue
        if value is None:
            # A client that removes a setting sends null: back to the default.
            changes[rule.attr] = getattr(DEFAULTS, rule.attr)
            continue
        # bool is an int in Python; a boolean where a number is expected is still a mistake.
        wrong_bool = isinstance(value, bool) and rule.kind is not bool
        if wrong_bool or not isinstance(value, rule.kind):
            errors.append(f"setting '{key}' must be {_type_name(rule.kind)}, got {value!r}")
            continue
        problem = rule.check(value) if rule.check else None
        if problem:
            errors.append(f"setting '{key}' {problem}, got {value!r}")
            continue
        changes[rule.attr] = rule.convert(value) if rule.convert else value
    return dataclasses.replace(current, **changes), errors


def engine_changed(old: Settings, new: Settings) -> bool:
    return any(getattr(old, k) != getattr(new, k) for k in ENGINE_KEYS)


def log_level_number(settings: Settings) -> int:
    return getattr(logging, settings.log_level.upper())
