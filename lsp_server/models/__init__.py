"""Named models: the registry, fetching each model's GGUF file, and the verified local cache.

`models/registry.toml` names the models Tide knows and where each file comes from. `pull` fetches
a file from its sources in order into a staging directory, checks it (size, GGUF structure,
sha256) and only then renames it into the cache, so a file at `model_path` is always complete and
verified. `resolve` turns what the user typed (nothing, a registry name, or a path) into a file.

The work is split by job: `registry` (entries, reading and checking the registry file), `cache`
(cache locations and the installed-file check), `gguf_header` (reading a GGUF header without
loading the file), `gguf_file` (GGUF validation and checksums), `fetch` (pull and its sources),
`resolution` (resolve, list_models) and `progress` (the callback type). Callers import from this
package only: the submodules are its implementation.
"""

from .cache import cache_dir, model_path
from .fetch import pull
from .gguf_file import sha256_of, validate_gguf, verify_checksum
from .gguf_header import GgufHeader, GgufTensor, read_gguf_header
from .progress import ProgressFn
from .registry import (
    FAMILIES,
    HuggingFaceSource,
    ModelSpec,
    PypiPartsSource,
    Source,
    default_model,
    load_registry,
    registry_path,
)
from .resolution import list_models, resolve

__all__ = [
    "FAMILIES",
    "GgufHeader",
    "GgufTensor",
    "HuggingFaceSource",
    "ModelSpec",
    "ProgressFn",
    "PypiPartsSource",
    "Source",
    "cache_dir",
    "default_model",
    "list_models",
    "load_registry",
    "model_path",
    "pull",
    "read_gguf_header",
    "registry_path",
    "resolve",
    "sha256_of",
    "validate_gguf",
    "verify_checksum",
]
