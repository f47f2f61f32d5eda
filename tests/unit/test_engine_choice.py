"""Tests for lsp_server.engines.choice: the engine a model reference needs."""

import pytest

from lsp_server.engines.choice import engine_for
from lsp_server.errors import ModelError


@pytest.mark.parametrize(
    ("reference", "engine"),
    [
        (None, "llama.cpp"),
        ("qwen2.5-coder-0.5b-instruct", "llama.cpp"),
        ("/models/coder.Q4_K_M.gguf", "llama.cpp"),
        ("Qwen/Qwen2.5-Coder-0.5B", "transformers"),
        ("http://127.0.0.1:8080", "http"),
        ("https://gpu-box.example:8443/v1", "http"),
    ],
)
def test_the_reference_picks_the_engine(reference, engine):
    assert engine_for(reference) == engine


def test_a_directory_is_a_transformers_model(tmp_path):
    assert engine_for(str(tmp_path)) == "transformers"


def test_an_existing_file_that_looks_like_a_hub_id_is_a_gguf(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "coder").write_bytes(b"GGUF")
    assert engine_for("models/coder") == "llama.cpp"


def test_an_explicit_engine_wins_where_it_can_run_the_model():
    assert engine_for("/m/coder.gguf", "transformers") == "transformers"
    assert engine_for("/m/coder.gguf", "ctransformers") == "ctransformers"


@pytest.mark.parametrize(
    ("reference", "requested", "message"),
    [
        ("/m/coder.gguf", "http", "needs an http"),
        ("http://127.0.0.1:8080", "llama.cpp", "only the http engine"),
        ("/m/coder.gguf", "vllm", "unknown engine"),
    ],
)
def test_impossible_combinations_are_clear_errors(reference, requested, message):
    with pytest.raises(ModelError, match=message):
        engine_for(reference, requested)
