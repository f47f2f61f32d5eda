"""Tests for lsp_server.tuning.export and .adapters: GGUF LoRA files, manifests, validation.

The base models here are tiny GGUF files written with the gguf package: a "qwen2" of one block
whose attention weights are 8 wide (keys and values 4), enough for the shapes to be checked.
"""

import dataclasses
import json
from pathlib import Path

import gguf
import numpy as np
import pytest

from lsp_server.models import read_gguf_header
from lsp_server.tuning.adapters import (
    adapter_dir,
    find_adapter,
    list_adapters,
    read_adapter,
    read_manifest,
    validate_adapter,
    workspace_key,
    write_manifest,
)
from lsp_server.tuning.errors import AdapterError
from lsp_server.tuning.export import export_gguf

from .adapter_files import (
    OTHER_SHA,
    PEFT,
    PEFT_MLP,
    RANK,
    SHA,
    manifest,
    metadata,
    safetensors_numpy,
    write_base,
    write_peft,
)


@pytest.fixture
def base(tmp_path: Path) -> Path:
    return write_base(tmp_path / "base.gguf")


@pytest.fixture
def exported(tmp_path: Path, base: Path) -> Path:
    peft_dir = write_peft(tmp_path / "peft")
    return export_gguf(peft_dir, read_gguf_header(base), metadata(), tmp_path / "adapter.gguf")


def test_export_writes_what_llama_cpp_reads(exported: Path, tmp_path: Path) -> None:
    reader = gguf.GGUFReader(exported)
    fields = {name: field.contents() for name, field in reader.fields.items()}
    assert fields["general.type"] == "adapter"
    assert fields["general.architecture"] == "qwen2"
    assert fields["adapter.type"] == "lora"
    assert fields["adapter.lora.alpha"] == pytest.approx(4.0)
    assert fields["tide.base.sha256"] == SHA
    assert fields["tide.base.file_name"] == "base.gguf"
    assert fields["tide.workspace"] == "/work/project"
    assert fields["tide.steps"] == 7 and fields["tide.rank"] == RANK
    tensors = {t.name: t for t in reader.tensors}
    # ggml order: lora_a is [in, rank], lora_b [rank, out] against the weight's [in, out].
    assert list(tensors["blk.0.attn_k.weight.lora_a"].shape) == [8, RANK]
    assert list(tensors["blk.0.attn_k.weight.lora_b"].shape) == [RANK, 4]
    assert list(tensors["blk.0.attn_q.weight.lora_b"].shape) == [RANK, 8]
    assert all(t.tensor_type == gguf.GGMLQuantizationType.F32 for t in reader.tensors)
    # The values are peft's, unchanged: lora_B of k as PyTorch holds it, [out, rank].
    peft = safetensors_numpy.load_file(tmp_path / "peft" / "adapter_model.safetensors")
    stored = tensors["blk.0.attn_k.weight.lora_b"].data
    np.testing.assert_array_equal(stored, peft[f"{PEFT}.k_proj.lora_B.weight"])
    assert not list(tmp_path.glob(".tmp-*")), "the temporary file was renamed into place"


def test_an_mlp_adapter_is_written_onto_the_ffn_weights(tmp_path: Path) -> None:
    header = read_gguf_header(write_base(tmp_path / "base.gguf", ffn=24))
    peft_dir = write_peft(tmp_path / "peft", ffn=24)
    exported = export_gguf(peft_dir, header, metadata(), tmp_path / "adapter.gguf")
    tensors = {t.name: t for t in gguf.GGUFReader(exported).tensors}
    assert list(tensors["blk.0.ffn_gate.weight.lora_a"].shape) == [8, RANK]
    assert list(tensors["blk.0.ffn_up.weight.lora_b"].shape) == [RANK, 24]
    assert list(tensors["blk.0.ffn_down.weight.lora_a"].shape) == [24, RANK]
    assert list(tensors["blk.0.ffn_down.weight.lora_b"].shape) == [RANK, 8]
    peft = safetensors_numpy.load_file(peft_dir / "adapter_model.safetensors")
    np.testing.assert_array_equal(
        tensors["blk.0.ffn_down.weight.lora_a"].data, peft[f"{PEFT_MLP}.down_proj.lora_A.weight"]
    )
    assert len(tensors) == 10  # q, k and the three MLP weights, two tensors each


def test_an_adapter_validates_against_its_own_base(exported: Path, base: Path) -> None:
    info = validate_adapter(exported, base, SHA)
    assert (info.rank, info.steps, info.alpha, info.architecture) == (RANK, 7, 4.0, "qwen2")
    assert set(info.pairs) == {"blk.0.attn_q.weight", "blk.0.attn_k.weight"}


def test_an_adapter_for_another_base_sha256_is_refused(exported: Path, base: Path) -> None:
    with pytest.raises(AdapterError, match=r"made for another base model \(base.gguf\), sha256"):
        validate_adapter(exported, base, OTHER_SHA)


def test_an_adapter_for_other_shapes_is_refused(exported: Path, tmp_path: Path) -> None:
    wider = write_base(tmp_path / "wider.gguf", hidden=16, kv=8)
    with pytest.raises(AdapterError, match="does not fit wider.gguf.*shapes"):
        validate_adapter(exported, wider, SHA)


def test_an_adapter_for_another_architecture_is_refused(exported: Path, tmp_path: Path) -> None:
    llama = write_base(tmp_path / "llama.gguf", arch="llama")
    with pytest.raises(AdapterError, match="qwen2, the base model llama.gguf is llama"):
        validate_adapter(exported, llama, SHA)


def test_export_refuses_what_it_cannot_write(tmp_path: Path, base: Path) -> None:
    header = read_gguf_header(base)
    out = tmp_path / "out.gguf"
    with pytest.raises(AdapterError, match="do not fit the base weight"):
        export_gguf(write_peft(tmp_path / "wide", hidden=16), header, metadata(), out)
    with pytest.raises(AdapterError, match="use_rslora"):
        export_gguf(write_peft(tmp_path / "rs", use_rslora=True), header, metadata(), out)
    with pytest.raises(AdapterError, match="no adapter_config.json"):
        export_gguf(tmp_path, header, metadata(), out)
    llama = read_gguf_header(write_base(tmp_path / "llama.gguf", arch="llama"))
    with pytest.raises(AdapterError, match="architecture llama is not supported"):
        export_gguf(write_peft(tmp_path / "ok"), llama, metadata(), out)
    half = write_peft(tmp_path / "half")
    tensors = safetensors_numpy.load_file(half / "adapter_model.safetensors")
    del tensors[f"{PEFT}.k_proj.lora_B.weight"]
    safetensors_numpy.save_file(tensors, half / "adapter_model.safetensors")
    with pytest.raises(AdapterError, match="only half of the LoRA pair"):
        export_gguf(half, header, metadata(), out)
    assert not out.exists()


def test_damaged_adapter_files_are_refused_with_the_reason(
    exported: Path, base: Path, tmp_path: Path
) -> None:
    data = exported.read_bytes()
    truncated = tmp_path / "truncated.gguf"
    truncated.write_bytes(data[: len(data) - 100])
    with pytest.raises(AdapterError, match="damaged or truncated.*tensors need"):
        validate_adapter(truncated, base, SHA)
    header_cut = tmp_path / "header.gguf"
    header_cut.write_bytes(data[:200])
    with pytest.raises(AdapterError, match="damaged or truncated"):
        read_adapter(header_cut)
    garbage = tmp_path / "garbage.gguf"
    garbage.write_bytes(b"not a gguf file at all, just text")
    with pytest.raises(AdapterError, match="does not start with the GGUF magic"):
        read_adapter(garbage)
    with pytest.raises(AdapterError, match="does not exist"):
        read_adapter(tmp_path / "missing.gguf")
    with pytest.raises(AdapterError, match="is not an adapter"):
        read_adapter(base)


def test_an_adapter_not_made_by_tide_cannot_be_checked(tmp_path: Path) -> None:
    path = tmp_path / "foreign.gguf"
    writer = gguf.GGUFWriter(path, "qwen2")
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_tensor("blk.0.attn_q.weight.lora_a", np.zeros((RANK, 8), np.float32))
    writer.add_tensor("blk.0.attn_q.weight.lora_b", np.zeros((8, RANK), np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with pytest.raises(AdapterError, match="not made by Tide"):
        read_adapter(path)


def test_manifest_round_trip(tmp_path: Path) -> None:
    written = manifest()
    write_manifest(tmp_path, written)
    assert read_manifest(tmp_path) == written
    without_losses = manifest(held_out_loss_before=None, held_out_loss_after=None)
    write_manifest(tmp_path, without_losses)
    assert read_manifest(tmp_path) == without_losses


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: "{not json", "not valid JSON"),
        (lambda d: json.dumps([1, 2]), "not a JSON object"),
        (lambda d: json.dumps({**d, "format": 99}), "has format 99"),
        (lambda d: json.dumps({k: v for k, v in d.items() if k != "rank"}), "lacks rank"),
        (lambda d: json.dumps({**d, "colour": "red"}), "unknown keys colour"),
        (lambda d: json.dumps({**d, "steps": "many"}), "steps must be a int"),
        (lambda d: json.dumps({**d, "alpha": True}), "alpha must be a number"),
        (lambda d: json.dumps({**d, "target_modules": [1]}), "target_modules must be names"),
    ],
)
def test_damaged_manifests_are_reported(tmp_path: Path, change, message: str) -> None:
    data = json.loads(manifest().to_json())
    (tmp_path / "manifest.json").write_text(change(data))
    with pytest.raises(AdapterError, match=message):
        read_manifest(tmp_path)


def test_adapters_are_kept_per_workspace_and_listed(tmp_path: Path) -> None:
    cache = tmp_path / "models"
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    assert adapter_dir(one, cache) == cache / "adapters" / workspace_key(one)
    assert workspace_key(one) != workspace_key(two)
    # The key is of the resolved path: another spelling of the same folder finds the same one.
    assert workspace_key(tmp_path / "two" / ".." / "one") == workspace_key(one)
    assert list_adapters(cache) == [] and find_adapter(one, cache) is None
    write_manifest(adapter_dir(one, cache), manifest(str(one)))
    write_manifest(adapter_dir(two, cache), manifest(str(two), rank=4))
    broken = cache / "adapters" / "0000broken"
    broken.mkdir()
    (broken / "manifest.json").write_text("{")
    unfinished = cache / "adapters" / "0000unfinished"
    unfinished.mkdir()
    listing = list_adapters(cache)
    assert [a.manifest.workspace for a in listing if a.manifest] == [str(one), str(two)]
    errors = {a.directory.name: a.error for a in listing if a.manifest is None}
    assert "not valid JSON" in errors["0000broken"]
    assert "no finished adapter" in errors["0000unfinished"]
    found = find_adapter(two, cache)
    assert found is not None and found.rank == 4
    assert dataclasses.replace(found, rank=8) == manifest(str(two))
