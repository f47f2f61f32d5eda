"""Which engine runs a model reference, and opening it.

The reference says it: an `http(s)://` URL is a server (HTTP engine); a directory, or a hub id
like `Qwen/Qwen2.5-Coder-0.5B`, is a Hugging Face model (transformers); a `.gguf` file or a
registry name is a GGUF (llama.cpp). An explicit engine setting overrides the guess where the
model can run on it (transformers and ctransformers also load GGUF files).
"""

import re
from pathlib import Path

from ..errors import ModelError

ENGINES = ("auto", "llama.cpp", "transformers", "ctransformers", "http")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def engine_for(reference: str | None, requested: str = "auto") -> str:
    """The engine that runs `reference` (None: the registry's default model)."""
    if requested not in ENGINES:
        raise ModelError(f"unknown engine {requested!r}; choose one of {', '.join(ENGINES)}")
    ref = reference or ""
    is_url = ref.startswith(("http://", "https://"))
    if requested == "http" and not is_url:
        raise ModelError(f"the HTTP engine needs an http(s):// URL as the model, got {ref!r}")
    if is_url:
        if requested not in ("auto", "http"):
            raise ModelError(f"{ref} is a server; only the http engine can use it")
        return "http"
    if requested != "auto":
        return requested
    if is_gguf_reference(ref):
        return "llama.cpp"
    return "transformers"


def is_gguf_reference(reference: str) -> bool:
    """A registry name, a .gguf path, or nothing (the default model): llama.cpp's kind."""
    if not reference or reference.lower().endswith(".gguf"):
        return True
    path = Path(reference).expanduser()
    if path.is_dir():
        return False
    if path.exists():
        return True
    # Anything shaped like owner/name that is not a file on disk is a hub id.
    return not _HUB_ID.match(reference)
