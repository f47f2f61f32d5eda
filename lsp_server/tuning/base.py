"""The base model an adapter is trained on: which file it is, and that file loaded for training.

The model is loaded through `TransformersEngine`, so the weights (the GGUF dequantized by
transformers, from local files only), the detected template and the tokenization of prompts are
exactly those of the engine that serves it through transformers; its prompt tokens are checked
against llama.cpp's in tests/engines/test_transformers_real.py.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lsp_server import models
from lsp_server.engines.transformers_engine import TransformersEngine
from lsp_server.models import GgufHeader, read_gguf_header
from lsp_server.models.progress import ProgressFn, no_progress

from .errors import TuningError
from .examples import end_marker


@dataclass(frozen=True)
class BaseFile:
    """A base model's GGUF file and what identifies it."""

    path: Path
    name: str  # the registry name, or the file's stem
    sha256: str
    header: GgufHeader

    @property
    def architecture(self) -> str:
        return self.header.architecture


def identify_base(
    model_ref: str | None, model_cache: Path, progress: ProgressFn | None = None
) -> BaseFile:
    """The GGUF file a model reference names (the default model when None), pulled if it is a
    registry model not yet downloaded; a registry model's sha256 was checked when it was pulled,
    any other file is hashed."""
    path, spec = models.resolve(model_ref, model_cache, pull_missing=True, progress=progress)
    models.validate_gguf(path, spec.size if spec else None)
    known = spec.sha256 if spec else None
    digest = known or models.sha256_of(path, progress or no_progress)
    try:
        header = read_gguf_header(path)
    except ValueError as exc:
        raise TuningError(f"cannot read the base model {path}: {exc}") from exc
    return BaseFile(path, spec.name if spec else path.stem, digest, header)


@dataclass
class LoadedBase:
    file: BaseFile
    engine: TransformersEngine

    @property
    def model(self) -> Any:
        return self.engine.model

    @property
    def device(self) -> str:
        return self.engine.device

    def close(self) -> None:
        self.engine.close()


def load_base(base: BaseFile, device: str | None = None) -> LoadedBase:
    """Load the base for training (about a minute on CPU: the GGUF is dequantized); the
    engine says which extra to install when torch or transformers is missing."""
    engine = TransformersEngine(
        base.path, model_name=base.name, local_files_only=True, device=device
    )
    try:
        end_marker(engine.template)
    except TuningError:
        engine.close()
        raise
    return LoadedBase(base, engine)
