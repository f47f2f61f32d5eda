"""Tests for `tide-lsp tune` and the adapters in `tide-lsp models list`, on plain data."""

from pathlib import Path

import pytest

from lsp_server.cli import build_parser, main
from lsp_server.tuning.adapters import AdapterManifest, adapter_dir, write_manifest


def test_tune_options_are_parsed() -> None:
    args = build_parser().parse_args(
        ["tune", "ws", "--steps", "3", "--rank", "2", "--time-budget", "60", "--seed", "5"]
    )
    assert (args.command, args.workspace, args.steps, args.rank) == ("tune", "ws", 3, 2)
    assert (args.time_budget, args.seed, args.checkpoint_every, args.out) == (60.0, 5, 25, None)


def test_tune_on_a_workspace_without_code_fails_before_loading_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "README.md").write_text("# nothing to learn\n")
    code = main(["tune", str(tmp_path / "ws"), "--model-dir", str(tmp_path / "models")])
    assert code == 1
    assert "no usable files to tune on in" in capsys.readouterr().err
    assert not (tmp_path / "models").exists()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--rank", "0"], "rank must be 1 or more"),
        (["--steps", "-2"], "steps must be 0 or more"),
        (["--time-budget", "0"], "time budget must be positive"),
        (["--holdout", "1.5"], "held-out share must be at least 0 and below 1"),
        (["--out", "."], "is a folder; name a file"),
        (["--context-budget", "8"], "'contextBudget' must be between 32 and 32768, got 8"),
        (["--cross-file-budget", "-1"], "'crossFileBudget' must be between 0 and 16384, got -1"),
    ],
)
def test_bad_tune_settings_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], options: list[str], message: str
) -> None:
    (tmp_path / "a.py").write_text("def f(x):\n    y = x\n    return y\n")
    code = main(["tune", str(tmp_path), *options, "--model-dir", str(tmp_path / "models")])
    assert code == 1
    assert message in capsys.readouterr().err
    assert not (tmp_path / "models").exists()


def test_models_list_shows_adapters(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cache = tmp_path / "models"
    workspace = tmp_path / "project"
    workspace.mkdir()
    manifest = AdapterManifest(
        workspace=str(workspace),
        base_name="qwen2.5-coder-0.5b-instruct-q4_k_m",
        base_file="qwen.gguf",
        base_sha256="ab" * 32,
        architecture="qwen2",
        rank=8,
        alpha=16.0,
        target_modules=("q_proj",),
        steps=120,
        files_trained=3,
        files_held_out=0,
        examples=9,
        peft_dir=str(cache / "peft"),
        gguf_path=str(cache / "adapter.gguf"),
        created="2026-01-01T00:00:00+00:00",
        seconds=10.0,
    )
    write_manifest(adapter_dir(workspace, cache), manifest)
    assert main(["models", "--model-dir", str(cache), "list"]) == 0
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if str(workspace) in line)
    assert "qwen2.5-coder-0.5b-instruct-q4_k_m (sha256 abababababab)" in line
    assert "rank 8, 120 steps" in line and str(cache / "adapter.gguf") in line
