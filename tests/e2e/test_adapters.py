"""The server loads the workspace's LoRA adapter on the real default model, says so in its
status, and serves the base model alone, saying why, when the adapter is off, damaged or made
for another model.

The adapters are written as `tide-lsp tune` writes them (a peft folder exported to GGUF), with
rank 2 weights whose B halves are zero, so they load through every check and change nothing.
"""

import json
from pathlib import Path

import numpy as np
import pytest

from lsp_server import models
from lsp_server.tuning.adapters import adapter_dir, write_manifest
from lsp_server.tuning.export import AdapterMetadata, export_gguf
from tests.conftest import inline, lsp_session, open_doc
from tests.unit.adapter_files import manifest, safetensors_numpy

pytestmark = pytest.mark.model

RANK = 2
SOURCE = "def add(a, b):\n    return a + b\n\n\ndef area(radius):\n    return \n"
_PROJECTIONS = {"q": "q_proj", "k": "k_proj", "v": "v_proj", "output": "o_proj"}


def write_peft(folder: Path, header: models.GgufHeader) -> Path:
    """A peft adapter on every attention projection of the model whose header is given."""
    tensors = {}
    for name, tensor in header.tensors.items():
        parts = name.split(".")  # blk.N.attn_q.weight
        if parts[-1] != "weight" or len(parts) != 4:
            continue
        if parts[2].removeprefix("attn_") not in _PROJECTIONS:
            continue
        n_in, n_out = tensor.shape  # ggml order
        peft = f"base_model.model.model.layers.{parts[1]}.self_attn."
        peft += _PROJECTIONS[parts[2].removeprefix("attn_")]
        tensors[f"{peft}.lora_A.weight"] = np.full((RANK, n_in), 0.01, np.float32)
        tensors[f"{peft}.lora_B.weight"] = np.zeros((n_out, RANK), np.float32)
    folder.mkdir(parents=True)
    safetensors_numpy.save_file(tensors, folder / "adapter_model.safetensors")
    config = {"r": RANK, "lora_alpha": 4, "target_modules": sorted(set(_PROJECTIONS.values()))}
    (folder / "adapter_config.json").write_text(json.dumps(config))
    return folder


def store_adapter(workspace: Path, cache: Path, model_path: Path, sha256: str) -> Path:
    """An adapter for `workspace` in the adapter store under `cache`, recorded for `sha256`."""
    folder = adapter_dir(workspace, cache)
    header = models.read_gguf_header(model_path)
    peft = write_peft(folder / "peft", header)
    metadata = AdapterMetadata(sha256, model_path.name, str(workspace), 0, "2026-12-01")
    gguf_path = export_gguf(peft, header, metadata, folder / "adapter.gguf")
    record = manifest(
        str(workspace), base_sha256=sha256, rank=RANK, steps=0, peft_dir=str(peft),
        gguf_path=str(gguf_path),
    )  # fmt: skip
    write_manifest(folder, record)
    return gguf_path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "shapes.py").write_text(SOURCE)
    return root


async def ready_status(workspace: Path, init: dict) -> tuple[object, list]:
    """The last `ready` status of a session on `workspace`, and one completion's items."""
    async with lsp_session(root=workspace, init=init) as client:
        uri = (workspace / "shapes.py").as_uri()
        open_doc(client, uri, SOURCE)
        result = await inline(client, uri, 5, len("    return "))
        ready = [s for s in client.tide_statuses if s.state == "ready"]
        return ready[-1], result.items


async def test_the_workspace_adapter_is_loaded_and_shown(
    model_path: Path, project: Path, tmp_path: Path
) -> None:
    sha = models.default_model().sha256
    store_adapter(project, tmp_path / "cache", model_path, sha)
    init = {"model": str(model_path), "modelDir": str(tmp_path / "cache")}
    status, items = await ready_status(project, init)
    assert status.adapter == "project (0 steps, rank 2)"
    assert status.message is None
    assert items, "the model with its adapter completes"
    off, _ = await ready_status(project, {**init, "adapter": "off"})
    assert off.adapter is None and off.message is None


async def test_an_adapter_for_another_model_is_not_loaded_and_the_status_says_why(
    model_path: Path, project: Path, tmp_path: Path
) -> None:
    store_adapter(project, tmp_path / "cache", model_path, "0" * 64)
    init = {"model": str(model_path), "modelDir": str(tmp_path / "cache")}
    status, items = await ready_status(project, init)
    assert status.adapter is None
    assert "made for another base model" in status.message
    assert items, "the base model still completes"


async def test_a_damaged_adapter_file_is_not_loaded_and_the_base_model_serves(
    model_path: Path, project: Path, tmp_path: Path
) -> None:
    gguf_path = store_adapter(
        project, tmp_path / "cache", model_path, models.default_model().sha256
    )
    gguf_path.write_bytes(gguf_path.read_bytes()[:-1000])
    init = {"model": str(model_path), "modelDir": str(tmp_path / "cache")}
    status, items = await ready_status(project, init)
    assert status.adapter is None
    assert "truncated" in status.message
    assert items
