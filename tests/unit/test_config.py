"""Tests for lsp_server.config: LSP settings objects merged into Settings, key by key."""

import dataclasses
import logging
import math

import pytest

from lsp_server.config import (
    ENGINE_KEYS,
    Settings,
    apply_settings,
    engine_changed,
    log_level_number,
)

DEFAULT = Settings()


def test_defaults():
    assert DEFAULT.model is None
    assert DEFAULT.enable is True
    assert DEFAULT.context_budget == 512
    assert DEFAULT.suffix_share == 0.2
    assert DEFAULT.log_level == "info"


@pytest.mark.parametrize(
    ("key", "value", "attr", "expected"),
    [
        ("model", "qwen2.5-coder-1.5b", "model", "qwen2.5-coder-1.5b"),
        ("model", "/models/x.gguf", "model", "/models/x.gguf"),
        ("modelDir", "/cache/models", "model_dir", "/cache/models"),
        ("enable", False, "enable", False),
        (
            "disabledLanguages",
            ["markdown", "plaintext"],
            "disabled_languages",
            ("markdown", "plaintext"),
        ),
        ("disabledLanguages", [], "disabled_languages", ()),
        ("contextBudget", 1024, "context_budget", 1024),
        ("suffixShare", 0.5, "suffix_share", 0.5),
        ("maxTokens", 128, "max_tokens", 128),
        ("maxLines", 3, "max_lines", 3),
        ("threads", 4, "threads", 4),
        ("contextLength", 8192, "context_length", 8192),
        ("logLevel", "debug", "log_level", "debug"),
        ("precompute", False, "precompute", False),
        ("moveKv", True, "move_kv", True),
        ("diagnostics", False, "diagnostics", False),
        ("unlikelySeverity", "Warning", "unlikely_severity", "warning"),
        ("unlikelySeverity", "off", "unlikely_severity", "off"),
        ("verifyFixes", False, "verify_fixes", False),
        ("runTests", True, "run_tests", True),
        ("testTimeout", 30, "test_timeout", 30),
    ],
)
def test_each_camel_case_key_sets_its_field(key, value, attr, expected):
    settings, errors = apply_settings(DEFAULT, {key: value})
    assert errors == []
    assert getattr(settings, attr) == expected
    # Nothing else changed.
    assert dataclasses.replace(settings, **{attr: getattr(DEFAULT, attr)}) == DEFAULT


def test_several_keys_at_once():
    settings, errors = apply_settings(
        DEFAULT, {"contextBudget": 256, "maxLines": 2, "enable": False}
    )
    assert errors == []
    assert (settings.context_budget, settings.max_lines, settings.enable) == (256, 2, False)


def test_nested_tide_section_is_unwrapped():
    settings, errors = apply_settings(DEFAULT, {"tide": {"contextBudget": 256}})
    assert errors == []
    assert settings.context_budget == 256


def test_nested_tide_section_with_bad_values_reports_them():
    settings, errors = apply_settings(DEFAULT, {"tide": {"contextBudget": "big", "maxLines": 4}})
    assert len(errors) == 1 and "contextBudget" in errors[0]
    assert settings.max_lines == 4
    assert settings.context_budget == DEFAULT.context_budget


def test_tide_beside_other_keys_is_not_unwrapped():
    settings, errors = apply_settings(DEFAULT, {"tide": {"maxLines": 4}, "maxTokens": 10})
    assert settings.max_tokens == 10
    assert settings.max_lines == DEFAULT.max_lines
    assert len(errors) == 1 and "'tide'" in errors[0]


@pytest.mark.parametrize("raw", [None, {"tide": None}, {}, {"tide": {}}])
def test_nothing_to_apply_changes_nothing(raw):
    assert apply_settings(DEFAULT, raw) == (DEFAULT, [])


def test_applies_on_top_of_current_settings():
    current = Settings(context_budget=300, max_lines=5)
    settings, errors = apply_settings(current, {"maxTokens": 10})
    assert errors == []
    assert (settings.context_budget, settings.max_lines, settings.max_tokens) == (300, 5, 10)


@pytest.mark.parametrize(
    "raw", ["contextBudget=5", 42, 1.5, True, ["contextBudget"], {"tide": "x"}]
)
def test_non_object_input_is_reported(raw):
    settings, errors = apply_settings(DEFAULT, raw)
    assert settings == DEFAULT
    assert len(errors) == 1
    assert "must be an object" in errors[0]


def test_unknown_keys_are_reported_and_ignored():
    settings, errors = apply_settings(
        DEFAULT, {"contextBudgett": 100, "context_budget": 100, "maxLines": 2}
    )
    assert settings == dataclasses.replace(DEFAULT, max_lines=2)
    assert len(errors) == 2
    assert "unknown setting 'contextBudgett'" in errors[0]
    assert "unknown setting 'context_budget'" in errors[1]
    assert "contextBudget" in errors[0]  # the known keys are listed


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("contextBudget", "512"),
        ("contextBudget", 512.0),
        ("contextBudget", True),
        ("maxTokens", False),
        ("maxLines", True),
        ("threads", True),
        ("contextLength", True),
        ("suffixShare", True),
        ("suffixShare", "0.2"),
        ("enable", 1),
        ("enable", "true"),
        ("model", 7),
        ("model", ["a"]),
        ("modelDir", 0),
        ("logLevel", 3),
        ("disabledLanguages", "python"),
        ("disabledLanguages", {"python": True}),
    ],
)
def test_wrong_type_is_reported_and_keeps_the_previous_value(key, value):
    current = Settings(
        model="m",
        model_dir="/d",
        enable=True,
        disabled_languages=("go",),
        context_budget=300,
        suffix_share=0.3,
        max_tokens=20,
        max_lines=2,
        threads=3,
        context_length=2048,
        log_level="warning",
    )
    beside = "maxLines" if key == "maxTokens" else "maxTokens"
    settings, errors = apply_settings(current, {key: value, beside: 7})
    assert len(errors) == 1
    assert f"'{key}'" in errors[0]
    assert "must be" in errors[0]
    assert repr(value) in errors[0]
    # The bad key kept its value; the good key beside it still applied.
    kept = {f.name: getattr(current, f.name) for f in dataclasses.fields(Settings)}
    if key == "maxTokens":
        kept["max_lines"] = 7
    else:
        kept["max_tokens"] = 7
    assert settings == Settings(**kept)


def test_bool_where_an_integer_is_expected_names_the_type():
    _, errors = apply_settings(DEFAULT, {"contextBudget": True})
    assert errors == ["setting 'contextBudget' must be an integer, got True"]


def test_bool_where_a_number_is_expected_names_both_types():
    _, errors = apply_settings(DEFAULT, {"suffixShare": False})
    assert errors == ["setting 'suffixShare' must be an integer or a number, got False"]


def test_disabled_languages_must_all_be_strings():
    settings, errors = apply_settings(DEFAULT, {"disabledLanguages": ["python", 3]})
    assert settings.disabled_languages == ()
    assert len(errors) == 1 and "list of strings" in errors[0]


@pytest.mark.parametrize(
    ("key", "low_ok", "low_bad", "high_ok", "high_bad"),
    [
        ("contextBudget", 32, 31, 32768, 32769),
        ("maxTokens", 1, 0, 1024, 1025),
        ("maxLines", 1, 0, 200, 201),
        ("threads", 0, -1, 256, 257),
        ("contextLength", 256, 255, 131072, 131073),
        ("testTimeout", 1, 0, 600, 601),
    ],
)
def test_integer_ranges(key, low_ok, low_bad, high_ok, high_bad):
    for value in (low_ok, high_ok):
        _, errors = apply_settings(DEFAULT, {key: value})
        assert errors == [], value
    for value in (low_bad, high_bad):
        settings, errors = apply_settings(DEFAULT, {key: value})
        assert settings == DEFAULT
        assert len(errors) == 1
        assert "must be between" in errors[0] and repr(value) in errors[0]


@pytest.mark.parametrize("value", [0, 0.0, 0.9, 0.25])
def test_suffix_share_in_range(value):
    settings, errors = apply_settings(DEFAULT, {"suffixShare": value})
    assert errors == []
    assert settings.suffix_share == value
    assert isinstance(settings.suffix_share, float)


@pytest.mark.parametrize("value", [-0.1, 0.91, 1, 5, math.nan, math.inf])
def test_suffix_share_out_of_range(value):
    settings, errors = apply_settings(DEFAULT, {"suffixShare": value})
    assert settings.suffix_share == DEFAULT.suffix_share
    assert len(errors) == 1 and "between 0.0 and 0.9" in errors[0]


@pytest.mark.parametrize("value", ["DEBUG", "Warning", "error", "info"])
def test_log_level_is_case_insensitive_and_stored_lower_case(value):
    settings, errors = apply_settings(DEFAULT, {"logLevel": value})
    assert errors == []
    assert settings.log_level == value.lower()


@pytest.mark.parametrize("value", ["loud", "", "fatal"])
def test_unknown_unlikely_severity_is_reported(value):
    settings, errors = apply_settings(DEFAULT, {"unlikelySeverity": value})
    assert settings == DEFAULT
    assert len(errors) == 1 and "unlikelySeverity" in errors[0] and "hint" in errors[0]


@pytest.mark.parametrize("value", ["verbose", "", "trace"])
def test_unknown_log_level(value):
    settings, errors = apply_settings(DEFAULT, {"logLevel": value})
    assert settings.log_level == DEFAULT.log_level
    assert len(errors) == 1 and "must be one of debug, info, warning, error" in errors[0]


@pytest.mark.parametrize("key", ["model", "modelDir"])
@pytest.mark.parametrize("value", ["", "   "])
def test_empty_model_paths_are_rejected(key, value):
    current = Settings(model="m", model_dir="/d")
    settings, errors = apply_settings(current, {key: value})
    assert settings == current
    assert len(errors) == 1 and "must not be empty" in errors[0]


@pytest.mark.parametrize(("key", "attr"), [("model", "model"), ("modelDir", "model_dir")])
def test_none_resets_model_and_model_dir_to_default(key, attr):
    current = Settings(model="custom.gguf", model_dir="/somewhere")
    settings, errors = apply_settings(current, {key: None})
    assert errors == []
    assert getattr(settings, attr) is None
    other = "model_dir" if attr == "model" else "model"
    assert getattr(settings, other) == getattr(current, other)


def test_every_problem_is_reported_and_every_good_key_applied():
    settings, errors = apply_settings(
        DEFAULT,
        {
            "contextBudget": 10,
            "maxLines": 3,
            "bogus": 1,
            "enable": "no",
            "logLevel": "DEBUG",
            "threads": True,
        },
    )
    assert settings == dataclasses.replace(DEFAULT, max_lines=3, log_level="debug")
    assert len(errors) == 4
    for key in ("contextBudget", "bogus", "enable", "threads"):
        assert sum(f"'{key}'" in e for e in errors) == 1


def test_input_is_not_mutated():
    raw = {"tide": {"disabledLanguages": ["go"], "logLevel": "DEBUG"}}
    apply_settings(DEFAULT, raw)
    assert raw == {"tide": {"disabledLanguages": ["go"], "logLevel": "DEBUG"}}


def test_settings_stay_immutable_and_hashable():
    settings, _ = apply_settings(DEFAULT, {"disabledLanguages": ["go"]})
    hash(settings)
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.max_lines = 3  # type: ignore[misc]


# --- engine_changed ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        {"model": "other"},
        {"model_dir": "/elsewhere"},
        {"threads": 2},
        {"context_length": 8192},
    ],
)
def test_engine_changes_when_an_engine_setting_changes(change):
    assert engine_changed(DEFAULT, dataclasses.replace(DEFAULT, **change))


@pytest.mark.parametrize(
    "change",
    [
        {"enable": False},
        {"disabled_languages": ("go",)},
        {"context_budget": 100},
        {"suffix_share": 0.5},
        {"max_tokens": 5},
        {"max_lines": 5},
        {"log_level": "debug"},
    ],
)
def test_engine_stays_when_other_settings_change(change):
    assert not engine_changed(DEFAULT, dataclasses.replace(DEFAULT, **change))


def test_engine_unchanged_for_equal_settings():
    assert not engine_changed(DEFAULT, Settings())


def test_model_reset_to_default_is_an_engine_change():
    current = Settings(model="custom.gguf")
    settings, _ = apply_settings(current, {"model": None})
    assert engine_changed(current, settings)


def test_engine_keys_are_settings_fields():
    names = {f.name for f in dataclasses.fields(Settings)}
    assert set(ENGINE_KEYS) <= names


@pytest.mark.parametrize(
    ("level", "number"),
    [("debug", logging.DEBUG), ("info", logging.INFO), ("warning", logging.WARNING)],
)
def test_log_level_number(level, number):
    assert log_level_number(Settings(log_level=level)) == number


@pytest.mark.parametrize("key", ["contextBudget", "enable", "logLevel", "disabledLanguages"])
def test_null_resets_a_setting_to_its_default(key):
    """Clients send null for a setting the user removed."""
    current, _ = apply_settings(
        Settings(),
        {"contextBudget": 300, "enable": False, "logLevel": "debug", "disabledLanguages": ["go"]},
    )
    settings, errors = apply_settings(current, {key: None})
    assert errors == []
    attr = {
        "contextBudget": "context_budget",
        "enable": "enable",
        "logLevel": "log_level",
        "disabledLanguages": "disabled_languages",
    }[key]
    assert getattr(settings, attr) == getattr(Settings(), attr)
    assert getattr(current, attr) != getattr(Settings(), attr)


def test_api_key_is_kept_out_of_repr_and_error_messages():
    settings, errors = apply_settings(Settings(), {"apiKey": "sk-team-123", "serverTimeout": 4})
    assert errors == []
    assert settings.api_key == "sk-team-123" and settings.server_timeout == 4.0
    assert "sk-team-123" not in repr(settings)
    _, errors = apply_settings(settings, {"apiKey": "   "})
    assert errors and all("   " not in e and "hidden" in e for e in errors)
    _, errors = apply_settings(settings, {"apiKey": ["sk-list"]})
    assert errors and "sk-list" not in errors[0]
    assert {"api_key", "server_timeout", "server_ca_file"} <= set(ENGINE_KEYS)


def test_api_key_falls_back_to_the_environment(monkeypatch):
    from lsp_server.engines.loading import api_key

    monkeypatch.delenv("TIDE_API_KEY", raising=False)
    assert api_key(Settings()) is None
    monkeypatch.setenv("TIDE_API_KEY", "from-env")
    assert api_key(Settings()) == "from-env"
    assert api_key(Settings(api_key="from-setting")) == "from-setting"
