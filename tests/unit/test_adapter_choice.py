"""Tests for lsp_server.adapter_choice: which adapter the server loads, and why not."""

from pathlib import Path

import pytest

from lsp_server.engines.adapter_choice import NO_ADAPTER, choose_adapter
from lsp_server.models import read_gguf_header
from lsp_server.tuning.adapters import adapter_dir, write_manifest
from lsp_server.tuning.export import export_gguf

from .adapter_files import OTHER_SHA, SHA, manifest, metadata, write_base, write_peft


def never() -> str:
    raise AssertionError("the base model was hashed with no adapter to check")


@pytest.fixture
def setup(tmp_path: Path) -> dict[str, Path]:
    base = write_base(tmp_path / "base.gguf")
    workspace = tmp_path / "project"
    workspace.mkdir()
    cache = tmp_path / "cache"
    folder = adapter_dir(workspace, cache)
    folder.mkdir(parents=True)
    peft = write_peft(folder / "peft")
    gguf_path = export_gguf(peft, read_gguf_header(base), metadata(), folder / "adapter.gguf")
    write_manifest(
        folder,
        manifest(str(workspace), steps=7, rank=2, peft_dir=str(peft), gguf_path=str(gguf_path)),
    )
    return {"base": base, "workspace": workspace, "cache": cache, "gguf": gguf_path, "peft": peft}


def test_auto_picks_the_workspace_adapter_made_for_this_base(setup: dict[str, Path]) -> None:
    choice = choose_adapter(
        "auto", "llama.cpp", setup["workspace"], setup["cache"], setup["base"], lambda: SHA
    )
    assert choice.path == setup["gguf"]
    assert choice.label == "project (7 steps, rank 2)"
    assert choice.problem is None
    assert choice.describe() == "adapter project (7 steps, rank 2)"


def test_the_transformers_engine_gets_the_peft_folder(setup: dict[str, Path]) -> None:
    choice = choose_adapter(
        "auto", "transformers", setup["workspace"], setup["cache"], setup["base"], lambda: SHA
    )
    assert (choice.path, choice.problem) == (setup["peft"], None)


@pytest.mark.parametrize("engine", ["llama.cpp", "transformers"])
def test_an_adapter_for_another_base_is_not_used_and_says_why(
    setup: dict[str, Path], engine: str
) -> None:
    choice = choose_adapter(
        "auto", engine, setup["workspace"], setup["cache"], setup["base"], lambda: OTHER_SHA
    )
    assert choice.path is None
    assert "made for another base model" in choice.problem


def test_off_and_workspaces_without_an_adapter_load_none(
    setup: dict[str, Path], tmp_path: Path
) -> None:
    base, cache = setup["base"], setup["cache"]
    assert choose_adapter("off", "llama.cpp", setup["workspace"], cache, base, never) == NO_ADAPTER
    assert choose_adapter("auto", "llama.cpp", None, cache, base, never) == NO_ADAPTER
    assert choose_adapter("auto", "llama.cpp", tmp_path, cache, base, never) == NO_ADAPTER
    # An engine without adapters, with none asked for by name: nothing to report.
    assert choose_adapter("auto", "http", setup["workspace"], cache, base, never) == NO_ADAPTER


def test_a_damaged_manifest_or_adapter_file_is_reported(setup: dict[str, Path]) -> None:
    setup["gguf"].write_bytes(setup["gguf"].read_bytes()[:-9])
    choice = choose_adapter(
        "auto", "llama.cpp", setup["workspace"], setup["cache"], setup["base"], lambda: SHA
    )
    assert choice.path is None and "truncated" in choice.problem
    (adapter_dir(setup["workspace"], setup["cache"]) / "manifest.json").write_text("{oops")
    choice = choose_adapter(
        "auto", "llama.cpp", setup["workspace"], setup["cache"], setup["base"], lambda: SHA
    )
    assert choice.path is None and "not valid JSON" in choice.problem


def test_an_adapter_named_by_path(setup: dict[str, Path], tmp_path: Path) -> None:
    base, cache = setup["base"], setup["cache"]
    named = choose_adapter(str(setup["gguf"]), "llama.cpp", None, cache, base, lambda: SHA)
    assert (named.path, named.label) == (setup["gguf"], "adapter.gguf")
    missing = choose_adapter(str(tmp_path / "no.gguf"), "llama.cpp", None, cache, base, never)
    assert missing.path is None and "does not exist" in missing.problem
    http = choose_adapter(str(setup["gguf"]), "http", None, cache, base, never)
    assert http.path is None and "the http engine cannot load LoRA adapters" in http.problem
    a_file = choose_adapter(str(setup["gguf"]), "transformers", None, cache, base, never)
    assert a_file.path is None and "peft adapter folder" in a_file.problem
