"""Training checkpoints: the adapter, the optimizer, the step and the RNG state, saved atomically.

Each checkpoint is its own folder, `step-0000050`, filled under a temporary name and renamed into
place, so one killed mid-write is never mistaken for a checkpoint. The previous one is deleted
only after the next is in place. A checkpoint also records the settings it was made with
(`key`); a run resumes from it only when its own settings are the same.
"""

import json
import random
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import atomic

_PREFIX = "step-"
_STATE = "state.json"
_OPTIMIZER = "optimizer.pt"
_RNG = "rng.pt"
ADAPTER = "adapter"


@dataclass(frozen=True)
class CheckpointState:
    step: int
    key: dict[str, Any]  # the settings the run was made with; must match to resume
    held_out_loss_before: float | None
    created: str


@dataclass(frozen=True)
class Checkpoint:
    path: Path
    state: CheckpointState


def latest(directory: Path) -> Checkpoint | None:
    """The checkpoint with the highest step whose state can be read, if any."""
    if not directory.is_dir():
        return None
    found: list[Checkpoint] = []
    for entry in directory.iterdir():
        if not entry.name.startswith(_PREFIX) or not entry.is_dir():
            continue
        try:
            data = json.loads((entry / _STATE).read_text(encoding="utf-8"))
            state = CheckpointState(
                int(data["step"]),
                dict(data["key"]),
                data.get("held_out_loss_before"),
                str(data.get("created", "")),
            )
        except (OSError, ValueError, KeyError, TypeError):
            continue  # not one of ours, or from a format this version does not read
        found.append(Checkpoint(entry, state))
    return max(found, key=lambda c: c.state.step, default=None)


def save(
    directory: Path, state: CheckpointState, model: Any, optimizer: Any, torch: Any
) -> Checkpoint:
    """Write a checkpoint for `state.step`, then drop the older ones."""
    target = directory / f"{_PREFIX}{state.step:07d}"

    def fill(folder: Path) -> None:
        model.save_pretrained(folder / ADAPTER, save_embedding_layers=False)
        torch.save(optimizer.state_dict(), folder / _OPTIMIZER)
        rng: dict[str, Any] = {"torch": torch.get_rng_state(), "python": random.getstate()}
        if torch.cuda.is_available():
            rng["cuda"] = torch.cuda.get_rng_state_all()
        torch.save(rng, folder / _RNG)
        record = {
            "step": state.step,
            "key": state.key,
            "held_out_loss_before": state.held_out_loss_before,
            "created": state.created,
        }
        (folder / _STATE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")

    atomic.write_dir(target, fill)
    for entry in directory.iterdir():
        if entry.name.startswith(_PREFIX) and entry != target:
            shutil.rmtree(entry, ignore_errors=True)
    return Checkpoint(target, state)


def restore(checkpoint: Checkpoint, model: Any, optimizer: Any, torch: Any) -> None:
    """Load the adapter weights, optimizer state and RNG state of a checkpoint into the run."""
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    weights = load_file(checkpoint.path / ADAPTER / "adapter_model.safetensors")
    device = next(model.parameters()).device
    set_peft_model_state_dict(model, {k: v.to(device) for k, v in weights.items()})
    optimizer.load_state_dict(torch.load(checkpoint.path / _OPTIMIZER, weights_only=True))
    rng = torch.load(checkpoint.path / _RNG, weights_only=True)
    torch.set_rng_state(rng["torch"])
    random.setstate(_as_random_state(rng["python"]))
    if "cuda" in rng and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])


def _as_random_state(saved: Any) -> tuple:
    # torch.load gives back lists where random.getstate() had tuples.
    version, internal, gauss = saved
    return (version, tuple(internal), gauss)


def remove_all(directory: Path) -> None:
    if directory.is_dir():
        shutil.rmtree(directory)
