"""A peft LoRA adapter written as a llama.cpp GGUF LoRA file, as convert_lora_to_gguf.py does.

The layout llama.cpp's `llama_adapter_lora_init` reads: `general.type` = "adapter",
`adapter.type` = "lora", `adapter.lora.alpha`, `general.architecture` the base's, and for each
adapted weight `<base tensor>.lora_a` and `.lora_b` in float32. Both keep PyTorch's orientation:
peft's lora_A is [rank, in] and lora_B [out, rank]; GGUF stores dimensions reversed, so llama.cpp
reads ne = [in, rank] and [rank, out] against the base weight's [in, out], which is what it
checks (a.ne[0] == w.ne[0], b.ne[1] == w.ne[1], a.ne[1] == b.ne[0]). llama.cpp scales by
alpha / rank, as peft does without rsLoRA.

Tide adds its own keys (`tide.*`: the base file's sha256 and name, the workspace, steps, rank,
creation time, and what it is for: completions or next edits), so an adapter made for another
base model, or for the other purpose, is refused before it is loaded.
"""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gguf
import numpy as np

from lsp_server.models import GgufHeader

from . import atomic
from .errors import AdapterError, TuningError

KEY_FORMAT = "tide.format"
KEY_BASE_SHA256 = "tide.base.sha256"
KEY_BASE_FILE = "tide.base.file_name"
KEY_WORKSPACE = "tide.workspace"
KEY_STEPS = "tide.steps"
KEY_RANK = "tide.rank"
KEY_CREATED = "tide.created"
KEY_PURPOSE = "tide.purpose"
FORMAT = 1

# What an adapter was trained for: completions (fill in the middle) or next-edit rewrites. The
# two are kept apart everywhere, since each would only spoil the other's prompts.
COMPLETION = "completion"
NEXT_EDIT = "next-edit"
PURPOSES = (COMPLETION, NEXT_EDIT)

# Architectures whose attention weights transformers loads from GGUF in the layout llama.cpp
# uses. For llama-style files it un-permutes q and k, and an adapter trained on that layout
# would need the permutation applied to lora_B first; those are refused rather than guessed.
SUPPORTED_ARCHITECTURES = frozenset({"qwen2"})

_PEFT_PREFIX = "base_model.model."
_WEIGHTS = "adapter_model.safetensors"
_CONFIG = "adapter_config.json"


@dataclass(frozen=True)
class AdapterMetadata:
    """What Tide records in the file about where the adapter comes from."""

    base_sha256: str
    base_file: str
    workspace: str
    steps: int
    created: str  # ISO 8601, UTC
    purpose: str = COMPLETION


@dataclass(frozen=True)
class LoraPair:
    gguf_name: str  # the base tensor's name in the GGUF file, e.g. blk.0.attn_q.weight
    a: np.ndarray  # [rank, in]
    b: np.ndarray  # [out, rank]


def read_peft_adapter(peft_dir: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The adapter's config and its tensors by peft name; AdapterError if either is unusable."""
    try:
        config = json.loads((peft_dir / _CONFIG).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AdapterError(f"{peft_dir} is not a peft adapter: it has no {_CONFIG}") from None
    except (OSError, ValueError) as exc:
        raise AdapterError(f"cannot read {peft_dir / _CONFIG}: {exc}") from exc
    # Imported here: reading and validating adapters (lsp_server.tuning.adapters) must work
    # without the tune extra, and only the export reads peft's files.
    try:
        from safetensors import SafetensorError
        from safetensors.numpy import load_file
    except ImportError as exc:
        raise TuningError(
            f"exporting an adapter needs safetensors ({exc}): pip install 'tide-lsp[tune]'"
        ) from exc
    try:
        tensors = load_file(peft_dir / _WEIGHTS)
    except FileNotFoundError:
        raise AdapterError(f"{peft_dir} is not a peft adapter: it has no {_WEIGHTS}") from None
    except (OSError, SafetensorError, ValueError) as exc:
        raise AdapterError(f"cannot read {peft_dir / _WEIGHTS}: {exc}") from exc
    return config, tensors


def lora_pairs(
    tensors: dict[str, np.ndarray], architecture: str, block_count: int
) -> list[LoraPair]:
    """peft's lora_A/lora_B tensors paired per base weight, named as in the base GGUF."""
    arch = next((a for a, n in gguf.MODEL_ARCH_NAMES.items() if n == architecture), None)
    if arch is None:
        raise AdapterError(f"the gguf package does not know architecture {architecture!r}")
    names = gguf.get_tensor_name_map(arch, block_count)
    halves: dict[str, dict[str, np.ndarray]] = {}
    for name, tensor in tensors.items():
        for half in ("A", "B"):
            marker = f".lora_{half}.weight"
            if name.endswith(marker):
                hf_name = name.removeprefix(_PEFT_PREFIX).removesuffix(marker) + ".weight"
                halves.setdefault(hf_name, {})[half] = tensor
                break
        else:
            raise AdapterError(f"adapter tensor {name!r} is neither a lora_A nor a lora_B weight")
    pairs: list[LoraPair] = []
    for hf_name, pair in sorted(halves.items()):
        if set(pair) != {"A", "B"}:
            raise AdapterError(f"adapter has only half of the LoRA pair for {hf_name}")
        gguf_name = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if gguf_name is None:
            raise AdapterError(f"{hf_name} has no counterpart in a {architecture} GGUF file")
        pairs.append(LoraPair(gguf_name, pair["A"], pair["B"]))
    return pairs


def check_pair_shapes(
    name: str, a_shape: tuple[int, ...], b_shape: tuple[int, ...], base: GgufHeader
) -> None:
    """The checks llama.cpp makes, in ggml order (ne), before it loads anything."""
    weight = base.tensors.get(name)
    if weight is None:
        raise AdapterError(f"the base model has no tensor {name}: the adapter is for another one")
    if len(a_shape) != 2 or len(b_shape) != 2 or len(weight.shape) != 2:
        raise AdapterError(f"{name}: LoRA tensors and the weight they adapt must be matrices")
    if a_shape[0] != weight.shape[0] or b_shape[1] != weight.shape[1]:
        raise AdapterError(
            f"{name}: the adapter's shapes (lora_a {list(a_shape)}, lora_b {list(b_shape)}) do "
            f"not fit the base weight {list(weight.shape)}: the adapter is for another base model"
        )
    if a_shape[1] != b_shape[0]:
        raise AdapterError(
            f"{name}: lora_a has rank {a_shape[1]} but lora_b rank {b_shape[0]} (a transposed "
            "or damaged adapter)"
        )


def export_gguf(peft_dir: Path, base: GgufHeader, metadata: AdapterMetadata, out: Path) -> Path:
    """Write the adapter in `peft_dir` for `base` to `out` (atomically); return `out`."""
    architecture = str(base.metadata.get("general.architecture", ""))
    if architecture not in SUPPORTED_ARCHITECTURES:
        raise AdapterError(
            f"exporting a LoRA adapter for architecture {architecture or 'unknown'} is not "
            f"supported (Tide exports {', '.join(sorted(SUPPORTED_ARCHITECTURES))})"
        )
    config, tensors = read_peft_adapter(peft_dir)
    for key in ("use_rslora", "use_dora", "fan_in_fan_out"):
        if config.get(key):
            raise AdapterError(f"{peft_dir}: llama.cpp cannot apply an adapter with {key} set")
    if config.get("rank_pattern") or config.get("alpha_pattern"):
        raise AdapterError(f"{peft_dir}: per-module ranks or alphas cannot be written to GGUF")
    alpha, rank = config.get("lora_alpha"), config.get("r")
    if not isinstance(alpha, int | float) or isinstance(alpha, bool) or not isinstance(rank, int):
        raise AdapterError(f"{peft_dir / _CONFIG} lacks a numeric lora_alpha and r")
    block_count = base.metadata.get(f"{architecture}.block_count")
    if not isinstance(block_count, int):
        raise AdapterError(f"the base model does not say its {architecture}.block_count")
    pairs = lora_pairs(tensors, architecture, block_count)
    if not pairs:
        raise AdapterError(f"{peft_dir} holds no LoRA tensors")
    for pair in pairs:
        # numpy shapes are PyTorch's; ggml's are reversed.
        check_pair_shapes(pair.gguf_name, pair.a.shape[::-1], pair.b.shape[::-1], base)

    def write(path: Path) -> None:
        writer = gguf.GGUFWriter(path, architecture)
        writer.add_type(gguf.GGUFType.ADAPTER)
        writer.add_name(f"Tide LoRA for {Path(metadata.workspace).name}")
        writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
        writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(alpha))
        writer.add_uint32(KEY_FORMAT, FORMAT)
        writer.add_string(KEY_BASE_SHA256, metadata.base_sha256)
        writer.add_string(KEY_BASE_FILE, metadata.base_file)
        writer.add_string(KEY_WORKSPACE, metadata.workspace)
        writer.add_uint32(KEY_STEPS, metadata.steps)
        writer.add_uint32(KEY_RANK, rank)
        writer.add_string(KEY_CREATED, metadata.created)
        writer.add_string(KEY_PURPOSE, metadata.purpose)
        for pair in pairs:
            writer.add_tensor(f"{pair.gguf_name}.lora_a", pair.a.astype(np.float32))
            writer.add_tensor(f"{pair.gguf_name}.lora_b", pair.b.astype(np.float32))
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()

    return atomic.write_file(out, write)
