"""Tests for lsp_server.tuning.atomic and .checkpoints: nothing half-written is ever taken."""

import json
from pathlib import Path

import pytest

from lsp_server.tuning import atomic, checkpoints
from lsp_server.tuning.errors import TuningError
from lsp_server.tuning.train import LoraSettings, TrainSettings


class Interrupted(Exception):
    pass


def test_a_failed_file_write_keeps_the_old_content(tmp_path: Path) -> None:
    target = tmp_path / "adapter.gguf"
    target.write_text("old")

    def fail(path: Path) -> None:
        path.write_text("half of the new")
        raise Interrupted

    with pytest.raises(Interrupted):
        atomic.write_file(target, fail)
    assert target.read_text() == "old"
    assert list(tmp_path.iterdir()) == [target]
    atomic.write_text(target, "new")
    assert target.read_text() == "new" and list(tmp_path.iterdir()) == [target]


def test_a_failed_folder_write_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "step-0000010"

    def fail(folder: Path) -> None:
        (folder / "adapter_model.safetensors").write_text("half")
        raise Interrupted

    with pytest.raises(Interrupted):
        atomic.write_dir(target, fail)
    assert list(tmp_path.iterdir()) == []
    atomic.write_dir(target, lambda folder: (folder / "state.json").write_text("{}"))
    assert (target / "state.json").read_text() == "{}"
    with pytest.raises(FileExistsError):
        atomic.write_dir(target, lambda folder: None)


def test_leftovers_of_a_killed_run_are_removed(tmp_path: Path) -> None:
    (tmp_path / ".tmp-step-0000020.abc").mkdir()
    (tmp_path / ".tmp-step-0000020.abc" / "optimizer.pt").write_text("half")
    (tmp_path / ".tmp-adapter.gguf.xyz").write_text("half")
    (tmp_path / "step-0000010").mkdir()
    atomic.remove_leftovers(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["step-0000010"]


def write_checkpoint(directory: Path, step: int, state: object | None = None) -> None:
    folder = directory / f"step-{step:07d}"
    folder.mkdir(parents=True)
    record = state if state is not None else {"step": step, "key": {"seed": 0}}
    (folder / "state.json").write_text(json.dumps(record) if record != "broken" else "{")


def test_the_latest_readable_checkpoint_is_resumed(tmp_path: Path) -> None:
    assert checkpoints.latest(tmp_path / "none") is None
    write_checkpoint(tmp_path, 10)
    write_checkpoint(tmp_path, 30)
    write_checkpoint(tmp_path, 40, "broken")
    (tmp_path / ".tmp-step-0000050.abc").mkdir()
    found = checkpoints.latest(tmp_path)
    assert found is not None
    assert found.state.step == 30 and found.state.key == {"seed": 0}
    assert found.path == tmp_path / "step-0000030"


def test_resuming_needs_the_same_settings_but_not_the_same_budgets() -> None:
    base = TrainSettings(lora=LoraSettings(rank=4), steps=10, time_budget_s=60)
    longer = TrainSettings(lora=LoraSettings(rank=4), steps=500, checkpoint_every=5)
    assert base.run_key() == longer.run_key()
    assert base.run_key() != TrainSettings(lora=LoraSettings(rank=8)).run_key()
    assert base.run_key() != TrainSettings(lora=LoraSettings(rank=4), seed=1).run_key()
    weighted = TrainSettings(lora=LoraSettings(rank=4), context_weight=0.5)
    assert base.run_key() != weighted.run_key()
    assert json.loads(json.dumps(base.run_key())) == base.run_key()


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (TrainSettings(steps=-1), "steps must be 0 or more"),
        (TrainSettings(lora=LoraSettings(rank=0)), "rank must be 1 or more"),
        (TrainSettings(lora=LoraSettings(alpha=0)), "alpha must be positive"),
        (TrainSettings(lora=LoraSettings(target_modules=())), "target module"),
        (TrainSettings(batch_size=0), "batch size"),
        (TrainSettings(learning_rate=0), "learning rate"),
        (TrainSettings(warmup_steps=-1), "warm-up steps"),
        (TrainSettings(checkpoint_every=0), "checkpoints must come every"),
        (TrainSettings(time_budget_s=0), "time budget must be positive"),
        (TrainSettings(context_weight=-0.5), "context weight must be in"),
    ],
)
def test_bad_training_settings_are_named(settings: TrainSettings, message: str) -> None:
    with pytest.raises(TuningError, match=message):
        settings.check()
    TrainSettings().check()
