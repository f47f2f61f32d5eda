"""Tiny GGUF base models, peft adapters and manifests for the adapter tests.

The bases are written with the gguf package: a "qwen2" of one block whose attention weights are
8 wide (keys and values 4), enough for the shapes to be checked.
"""

import json
from pathlib import Path

import gguf
import numpy as np
import pytest

from lsp_server.tuning.adapters import AdapterManifest
from lsp_server.tuning.export import AdapterMetadata
from lsp_server.tuning.train import MLP_MODULES

safetensors_numpy = pytest.importorskip("safetensors.numpy", reason="needs the tune extra")

SHA = "ab" * 32
OTHER_SHA = "cd" * 32
RANK = 2
PEFT = "base_model.model.model.layers.0.self_attn"
PEFT_MLP = "base_model.model.model.layers.0.mlp"


def write_base(
    path: Path, hidden: int = 8, kv: int = 4, arch: str = "qwen2", ffn: int | None = None
) -> Path:
    """With `ffn`, the block has MLP weights of that intermediate width too."""
    writer = gguf.GGUFWriter(path, arch)
    writer.add_uint32(f"{arch}.block_count", 1)
    # numpy shapes are PyTorch's [out, in]; GGUF stores them reversed.
    writer.add_tensor("blk.0.attn_q.weight", np.zeros((hidden, hidden), np.float32))
    writer.add_tensor("blk.0.attn_k.weight", np.zeros((kv, hidden), np.float32))
    if ffn:
        writer.add_tensor("blk.0.ffn_gate.weight", np.zeros((ffn, hidden), np.float32))
        writer.add_tensor("blk.0.ffn_up.weight", np.zeros((ffn, hidden), np.float32))
        writer.add_tensor("blk.0.ffn_down.weight", np.zeros((hidden, ffn), np.float32))
    writer.add_tensor("blk.0.attn_norm.weight", np.ones(hidden, np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def write_peft(
    folder: Path, hidden: int = 8, kv: int = 4, ffn: int | None = None, **config
) -> Path:
    """With `ffn`, the MLP projections (as `tide-lsp tune --mlp` adapts them) too."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    shapes = {"q_proj": (hidden, hidden), "k_proj": (hidden, kv)}  # (in, out)
    if ffn:
        shapes |= {"gate_proj": (hidden, ffn), "up_proj": (hidden, ffn), "down_proj": (ffn, hidden)}
    tensors = {}
    for module, (width_in, width_out) in shapes.items():
        a = rng.normal(size=(RANK, width_in)).astype(np.float32)
        tensors[f"{_peft_prefix(module)}.{module}.lora_A.weight"] = a
        b = rng.normal(size=(width_out, RANK)).astype(np.float32)
        tensors[f"{_peft_prefix(module)}.{module}.lora_B.weight"] = b
    safetensors_numpy.save_file(tensors, folder / "adapter_model.safetensors")
    settings = {"r": RANK, "lora_alpha": 4, "target_modules": list(shapes), **config}
    (folder / "adapter_config.json").write_text(json.dumps(settings))
    return folder


def _peft_prefix(module: str) -> str:
    return PEFT_MLP if module in MLP_MODULES else PEFT


def metadata(sha: str = SHA) -> AdapterMetadata:
    return AdapterMetadata(sha, "base.gguf", "/work/project", 7, "2026-01-01T00:00:00+00:00")


def manifest(workspace: str = "/work/project", **changes) -> AdapterManifest:
    fields = dict(
        workspace=workspace,
        base_name="qwen2.5-coder-0.5b-instruct-q4_k_m",
        base_file="qwen.gguf",
        base_sha256=SHA,
        architecture="qwen2",
        rank=8,
        alpha=16.0,
        target_modules=("q_proj", "k_proj", "v_proj", "o_proj"),
        steps=200,
        files_trained=40,
        files_held_out=4,
        examples=310,
        peft_dir="/cache/adapters/x/peft-0000200-1",
        gguf_path="/cache/adapters/x/adapter.gguf",
        created="2026-01-01T00:00:00+00:00",
        seconds=812.5,
        held_out_loss_before=1.25,
        held_out_loss_after=0.98,
    )
    return AdapterManifest(**{**fields, **changes})
