"""Where workspace adapters live, what each one is, and whether it fits a base model.

Adapters sit next to the models, in `<model cache>/adapters/<key>/`, one folder per workspace
keyed by a hash of its resolved path. A folder holds the training checkpoints, the peft adapter,
usually the GGUF file, and `manifest.json`, which is written last and atomically: it is what
says a finished adapter exists, and which peft folder and GGUF file are its current version.

Validation reads the GGUF header only (milliseconds): an adapter for another base (its recorded
sha256, its architecture or its tensor shapes differ) or a damaged or truncated file raises
AdapterError saying which and what to do, and is never loaded silently.
"""

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gguf

from lsp_server.models import GgufHeader, read_gguf_header

from . import atomic
from .errors import AdapterError
from .export import (
    COMPLETION,
    KEY_BASE_FILE,
    KEY_BASE_SHA256,
    KEY_CREATED,
    KEY_PURPOSE,
    KEY_RANK,
    KEY_STEPS,
    KEY_WORKSPACE,
    NEXT_EDIT,
    PURPOSES,
    check_pair_shapes,
)

MANIFEST = "manifest.json"
ADAPTER_FILE = "adapter.gguf"
MANIFEST_FORMAT = 1


def adapters_root(model_cache: Path) -> Path:
    return model_cache / "adapters"


def workspace_key(workspace: Path) -> str:
    """A short, stable name for a workspace: the hash of its resolved path."""
    return hashlib.sha256(str(workspace.resolve()).encode("utf-8")).hexdigest()[:16]


def adapter_dir(workspace: Path, model_cache: Path, purpose: str = COMPLETION) -> Path:
    """The folder of the workspace's adapter for `purpose`: a next-edit adapter has its own
    beside the completion adapter's, so tuning one never touches the other."""
    key = workspace_key(workspace)
    return adapters_root(model_cache) / (key if purpose == COMPLETION else f"{key}-{purpose}")


@dataclass(frozen=True)
class AdapterManifest:
    """One finished adapter: what it was trained on and from, and where its files are."""

    workspace: str
    base_name: str
    base_file: str
    base_sha256: str
    architecture: str
    rank: int
    alpha: float
    target_modules: tuple[str, ...]
    steps: int
    files_trained: int
    files_held_out: int
    examples: int
    peft_dir: str
    gguf_path: str
    created: str
    seconds: float
    held_out_loss_before: float | None = None
    held_out_loss_after: float | None = None
    purpose: str = COMPLETION
    commits: int = 0  # a next-edit adapter's: the file commits its examples came from
    format: int = MANIFEST_FORMAT

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str, where: Path) -> "AdapterManifest":
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise AdapterError(f"adapter manifest {where} is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise AdapterError(f"adapter manifest {where} is not a JSON object")
        if data.get("format") != MANIFEST_FORMAT:
            raise AdapterError(
                f"adapter manifest {where} has format {data.get('format')!r}, this Tide reads "
                f"{MANIFEST_FORMAT}; run `tide-lsp tune` again to rebuild the adapter"
            )
        fields = {f.name: f for f in dataclasses.fields(cls)}
        missing = sorted(
            name
            for name, f in fields.items()
            if name not in data and f.default is dataclasses.MISSING
        )
        if missing:
            raise AdapterError(f"adapter manifest {where} lacks {', '.join(missing)}")
        unknown = sorted(set(data) - set(fields))
        if unknown:
            raise AdapterError(f"adapter manifest {where} has unknown keys {', '.join(unknown)}")
        values: dict[str, Any] = dict(data)
        values["target_modules"] = tuple(values["target_modules"])
        manifest = cls(**values)
        _check_types(manifest, where)
        return manifest


def _check_types(manifest: AdapterManifest, where: Path) -> None:
    expected = {
        str: (
            "workspace",
            "base_name",
            "base_file",
            "base_sha256",
            "architecture",
            "peft_dir",
            "gguf_path",
            "created",
            "purpose",
        ),
        int: ("rank", "steps", "files_trained", "files_held_out", "examples", "commits"),
    }
    for kind, names in expected.items():
        for name in names:
            value = getattr(manifest, name)
            if not isinstance(value, kind) or isinstance(value, bool):
                raise AdapterError(f"adapter manifest {where}: {name} must be a {kind.__name__}")
    numbers = ("alpha", "seconds", "held_out_loss_before", "held_out_loss_after")
    for name in numbers:
        value = getattr(manifest, name)
        if value is not None and (not isinstance(value, int | float) or isinstance(value, bool)):
            raise AdapterError(f"adapter manifest {where}: {name} must be a number")
    if not all(isinstance(m, str) for m in manifest.target_modules):
        raise AdapterError(f"adapter manifest {where}: target_modules must be names")
    if manifest.purpose not in PURPOSES:
        raise AdapterError(
            f"adapter manifest {where}: purpose {manifest.purpose!r} is none of {PURPOSES}"
        )


def write_manifest(directory: Path, manifest: AdapterManifest) -> Path:
    return atomic.write_text(directory / MANIFEST, manifest.to_json())


def read_manifest(directory: Path) -> AdapterManifest:
    path = directory / MANIFEST
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise AdapterError(f"{directory} holds no finished adapter (no {MANIFEST})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise AdapterError(f"cannot read adapter manifest {path}: {exc}") from exc
    return AdapterManifest.from_json(text, path)


@dataclass(frozen=True)
class AdapterListing:
    """One folder of the adapter store: its manifest, or why it cannot be read."""

    directory: Path
    manifest: AdapterManifest | None
    error: str | None = None


def list_adapters(model_cache: Path) -> list[AdapterListing]:
    """Every adapter folder, finished or not, by workspace (unreadable ones last)."""
    root = adapters_root(model_cache)
    if not root.is_dir():
        return []
    listings: list[AdapterListing] = []
    for directory in sorted(p for p in root.iterdir() if p.is_dir()):
        try:
            listings.append(AdapterListing(directory, read_manifest(directory)))
        except AdapterError as exc:
            listings.append(AdapterListing(directory, None, str(exc)))
    return sorted(listings, key=_listing_order)


def _listing_order(listing: "AdapterListing") -> tuple[bool, str]:
    manifest = listing.manifest
    return manifest is None, manifest.workspace if manifest else listing.directory.name


def find_adapter(
    workspace: Path, model_cache: Path, purpose: str = COMPLETION
) -> AdapterManifest | None:
    """The workspace's finished adapter for `purpose`, None when there is none; AdapterError
    if its manifest is damaged or says it is for something else."""
    directory = adapter_dir(workspace, model_cache, purpose)
    if not (directory / MANIFEST).exists():
        return None
    manifest = read_manifest(directory)
    if manifest.purpose != purpose:
        raise AdapterError(
            f"{directory / MANIFEST} records a {manifest.purpose} adapter where a {purpose} "
            "one belongs; run `tide-lsp tune` again"
        )
    return manifest


@dataclass(frozen=True)
class AdapterInfo:
    """What an adapter GGUF file says about itself."""

    path: Path
    architecture: str
    alpha: float
    rank: int
    steps: int
    base_sha256: str
    base_file: str
    workspace: str
    created: str
    pairs: dict[str, tuple[tuple[int, ...], tuple[int, ...]]]  # base tensor -> (a, b) ggml shapes
    purpose: str = COMPLETION  # adapters made before purposes were recorded are completions


def read_adapter(path: Path) -> AdapterInfo:
    """Read an adapter file's header; AdapterError if it is missing, damaged, truncated, not a
    LoRA adapter, or not one Tide made."""
    try:
        header = read_gguf_header(path)
    except FileNotFoundError:
        raise AdapterError(f"adapter {path} does not exist") from None
    except OSError as exc:
        raise AdapterError(f"cannot read adapter {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise AdapterError(
            f"adapter {path} is damaged or truncated ({exc}); run `tide-lsp tune` again"
        ) from exc
    meta = header.metadata
    if meta.get(gguf.Keys.General.TYPE) != gguf.GGUFType.ADAPTER:
        raise AdapterError(f"{path} is not an adapter (general.type is {meta.get('general.type')})")
    if meta.get(gguf.Keys.Adapter.TYPE) != "lora":
        raise AdapterError(f"{path} is not a LoRA adapter ({gguf.Keys.Adapter.TYPE} is not lora)")
    missing = [k for k in (KEY_BASE_SHA256, KEY_STEPS, KEY_RANK) if k not in meta]
    if missing:
        raise AdapterError(
            f"{path} was not made by Tide (it lacks {', '.join(missing)}), so its base model "
            "cannot be checked"
        )
    return AdapterInfo(
        path=path,
        architecture=str(meta.get(gguf.Keys.General.ARCHITECTURE, "")),
        alpha=float(meta.get(gguf.Keys.Adapter.LORA_ALPHA, 0.0)),
        rank=int(meta[KEY_RANK]),
        steps=int(meta[KEY_STEPS]),
        base_sha256=str(meta[KEY_BASE_SHA256]),
        base_file=str(meta.get(KEY_BASE_FILE, "")),
        workspace=str(meta.get(KEY_WORKSPACE, "")),
        created=str(meta.get(KEY_CREATED, "")),
        pairs=_pairs(header, path),
        purpose=str(meta.get(KEY_PURPOSE, COMPLETION)),
    )


def _pairs(header: GgufHeader, path: Path) -> dict[str, tuple[tuple[int, ...], tuple[int, ...]]]:
    halves: dict[str, dict[str, tuple[int, ...]]] = {}
    for name, tensor in header.tensors.items():
        base, _, half = name.rpartition(".")
        if half not in ("lora_a", "lora_b"):
            raise AdapterError(f"adapter {path} has a tensor {name} that is not a LoRA half")
        halves.setdefault(base, {})[half] = tensor.shape
    pairs: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {}
    for base, found in halves.items():
        if set(found) != {"lora_a", "lora_b"}:
            raise AdapterError(f"adapter {path} has only half of the LoRA pair for {base}")
        pairs[base] = (found["lora_a"], found["lora_b"])
    if not pairs:
        raise AdapterError(f"adapter {path} holds no LoRA tensors")
    return pairs


def validate_adapter(
    path: Path, base_path: Path, base_sha256: str, purpose: str | None = None
) -> AdapterInfo:
    """Check that the adapter at `path` was made for the base model file at `base_path`, whose
    digest the caller knows (registry models are verified when pulled), and for `purpose` when
    one is given; AdapterError if not."""
    info = read_adapter(path)
    if purpose is not None and info.purpose != purpose:
        raise AdapterError(
            f"adapter {path} is a {info.purpose} adapter, not a {purpose} one (`tide-lsp tune"
            f"{' --next-edit' if purpose == NEXT_EDIT else ''}` makes one)"
        )
    if info.base_sha256 != base_sha256:
        made_for = f" ({info.base_file})" if info.base_file else ""
        raise AdapterError(
            f"adapter {path} was made for another base model{made_for}, sha256 "
            f"{info.base_sha256[:12]}…, not {base_path.name} (sha256 {base_sha256[:12]}…); "
            f"tune the workspace again on this model"
        )
    try:
        base = read_gguf_header(base_path)
    except (OSError, ValueError) as exc:
        raise AdapterError(f"cannot read the base model {base_path}: {exc}") from exc
    architecture = base.metadata.get(gguf.Keys.General.ARCHITECTURE)
    if info.architecture != architecture:
        raise AdapterError(
            f"adapter {path} is for architecture {info.architecture}, the base model "
            f"{base_path.name} is {architecture}"
        )
    for name, (a_shape, b_shape) in info.pairs.items():
        try:
            check_pair_shapes(name, a_shape, b_shape, base)
        except AdapterError as exc:
            raise AdapterError(f"adapter {path} does not fit {base_path.name}: {exc}") from exc
    return info
