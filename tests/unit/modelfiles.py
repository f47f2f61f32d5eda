"""Builders for the small GGUF files, part wheels and registries the model tests use."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from gguf import GGUFWriter


def write_tiny_gguf(path: Path, seed: float = 0.0) -> bytes:
    """Write a valid GGUF with two small tensors and some array metadata; return its bytes."""
    writer = GGUFWriter(path, "llama")
    writer.add_context_length(64)
    writer.add_token_list(["<s>", "</s>", "def", "return"])
    writer.add_array("tide.test.ints", [1, 2, 3])
    writer.add_tensor("weight", np.arange(64, dtype=np.float32).reshape(8, 8) + seed)
    writer.add_tensor("bias", np.full(16, seed, dtype=np.float16))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path.read_bytes()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def model_entry(name: str, data: bytes, sources: list[dict[str, Any]], **fields: Any) -> dict:
    """A registry entry for `data` (its size and sha256 recorded) with the given sources."""
    entry = {
        "name": name,
        "display_name": f"Test model {name}",
        "family": "qwen2.5-coder",
        "fim": True,
        "context_length": 64,
        "license": "Apache-2.0",
        "size": len(data),
        "sha256": sha256(data),
        "quantization": "F32",
        "file_name": f"{name}.gguf",
        "sources": sources,
    }
    entry.update(fields)
    return {key: value for key, value in entry.items() if value is not None}


def write_registry(path: Path, entries: list[dict[str, Any]]) -> Path:
    """Write `entries` as a registry TOML file (the subset of TOML the registry uses)."""
    lines: list[str] = []
    for entry in entries:
        lines.append("[[model]]")
        lines += [f"{key} = {_toml(value)}" for key, value in entry.items() if key != "sources"]
        for source in entry["sources"]:
            lines.append("[[model.sources]]")
            lines += [f"{key} = {_toml(value)}" for key, value in source.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    # JSON strings and integers are valid TOML for the plain values used here.
    return json.dumps(value)


def make_part_wheel(directory: Path, package: str, version: str, number: int, data: bytes) -> Path:
    """Write a wheel for `package` holding `data` as `<module>/data/partNN.bin`, as the real
    model part packages do."""
    module = package.replace("-", "_")
    dist_info = f"{module}-{version}.dist-info"
    wheel = directory / f"{module}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(f"{module}/__init__.py", "")
        archive.writestr(f"{module}/data/part{number:02d}.bin", data)
        archive.writestr(
            f"{dist_info}/METADATA", f"Metadata-Version: 2.1\nName: {package}\nVersion: {version}\n"
        )
        archive.writestr(
            f"{dist_info}/WHEEL",
            "Wheel-Version: 1.0\nGenerator: tide-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        )
        archive.writestr(f"{dist_info}/top_level.txt", f"{module}\n")
        archive.writestr(f"{dist_info}/RECORD", "")
    return wheel
