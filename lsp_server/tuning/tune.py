"""`tide-lsp tune`: a workspace's files, examples cut from them, a LoRA trained on them, the
adapter exported for llama.cpp, checked against its base and recorded in the adapter store.

Cheap checks come first (the workspace has files to learn from, the base model can be
exported for) so that a run that cannot succeed says so before the minute-long model load.
"""

import contextlib
import dataclasses
import fcntl
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from lsp_server import models
from lsp_server.models.progress import ProgressFn

from .adapters import (
    ADAPTER_FILE,
    AdapterManifest,
    adapter_dir,
    validate_adapter,
    write_manifest,
)
from .base import LoadedBase, identify_base, load_base
from .encoding import encode_examples
from .errors import AdapterError, TuningError
from .examples import ExampleSettings, workspace_examples
from .export import SUPPORTED_ARCHITECTURES, AdapterMetadata, export_gguf
from .files import TrainingFiles, skip_summary, training_files
from .train import TrainResult, TrainSettings, train_adapter


@dataclass(frozen=True)
class TuneRequest:
    workspace: Path
    model: str | None = None  # registry name or GGUF path; None is the default model
    model_dir: str | None = None  # the model cache, which also holds the adapters
    train: TrainSettings = field(default_factory=TrainSettings)
    examples: ExampleSettings = field(default_factory=ExampleSettings)
    held_out_share: float = 0.1
    max_held_out_examples: int = 16  # evaluation runs before and after training; keep it short
    out: Path | None = None  # where the GGUF goes; by default into the adapter's folder
    progress: bool = True  # a progress bar on stderr while training


@dataclass(frozen=True)
class TuneOutcome:
    directory: Path
    manifest: AdapterManifest
    result: TrainResult


def tune(
    request: TuneRequest,
    say: Callable[[str], None] = print,
    *,
    progress: ProgressFn | None = None,
    base: LoadedBase | None = None,
) -> TuneOutcome:
    """Train (or resume training) the workspace's adapter and export it; `base`, when given,
    is a base already loaded (and left loaded) instead of the one `request.model` names."""
    request.train.check()
    request.examples.check()
    if request.out is not None and request.out.expanduser().is_dir():
        raise TuningError(f"the adapter file to write, {request.out}, is a folder; name a file")
    workspace = request.workspace.expanduser().resolve()
    cache = models.cache_dir(request.model_dir)
    files = training_files(workspace, request.held_out_share)
    say(_describe(files))
    base_file = base.file if base is not None else identify_base(request.model, cache, progress)
    if base_file.architecture not in SUPPORTED_ARCHITECTURES:
        raise TuningError(
            f"{base_file.path.name} is a {base_file.architecture or 'unknown'} model; Tide "
            f"exports adapters for {', '.join(sorted(SUPPORTED_ARCHITECTURES))} models only"
        )
    directory = adapter_dir(workspace, cache)
    with _locked(directory, workspace):
        say(f"Adapter folder: {directory}")
        if base is None:
            say(f"Loading {base_file.path.name} with transformers (dequantized; about a minute).")
        loaded = base or load_base(base_file)
        try:
            return _tune(request, workspace, directory, files, loaded, say)
        finally:
            if base is None:
                loaded.close()


def _tune(
    request: TuneRequest,
    workspace: Path,
    directory: Path,
    files: TrainingFiles,
    loaded: LoadedBase,
    say: Callable[[str], None],
) -> TuneOutcome:
    engine = loaded.engine
    base_file = loaded.file
    examples = workspace_examples(files, engine.template, engine.count_tokens, request.examples)
    train = encode_examples(examples.train, engine, engine.n_ctx)
    held = encode_examples(examples.held_out[: request.max_held_out_examples], engine, engine.n_ctx)
    tokens = sum(len(e.input_ids) for e in train)
    say(
        f"{len(train)} training examples ({tokens // max(len(train), 1)} tokens each on average), "
        f"{len(held)} held-out examples; training on {loaded.device}."
    )
    key = {
        "base_sha256": base_file.sha256,
        "workspace": str(workspace),
        "held_out_share": request.held_out_share,
        "examples": dataclasses.asdict(request.examples),
    }
    settings = request.train
    result = train_adapter(
        loaded.model,
        train,
        settings,
        directory,
        held_out=held,
        key=key,
        say=say,
        progress=request.progress,
    )
    per_step = result.seconds_per_step
    timing = f", {per_step:.1f} s a step" if per_step else ""
    stop = (
        " (stopped by the time budget; run again to go on)" if result.stopped_by == "time" else ""
    )
    say(f"Trained to step {result.step} of {settings.steps}{timing}{stop}.")
    created = datetime.now(UTC).isoformat(timespec="seconds")
    gguf_path = (request.out or directory / ADAPTER_FILE).expanduser().resolve()
    metadata = AdapterMetadata(
        base_file.sha256, base_file.path.name, str(workspace), result.step, created
    )
    try:
        export_gguf(result.peft_dir, base_file.header, metadata, gguf_path)
    except OSError as exc:
        raise TuningError(f"cannot write the adapter to {gguf_path}: {exc}") from exc
    try:
        validate_adapter(gguf_path, base_file.path, base_file.sha256)
    except AdapterError as exc:
        raise TuningError(f"the exported adapter does not check out: {exc}") from exc
    manifest = AdapterManifest(
        workspace=str(workspace),
        base_name=base_file.name,
        base_file=base_file.path.name,
        base_sha256=base_file.sha256,
        architecture=base_file.architecture,
        rank=settings.lora.rank,
        alpha=float(settings.lora.alpha),
        target_modules=settings.lora.target_modules,
        steps=result.step,
        files_trained=len(files.train),
        files_held_out=len(files.held_out),
        examples=len(train),
        peft_dir=str(result.peft_dir),
        gguf_path=str(gguf_path),
        created=created,
        seconds=round(result.seconds, 1),
        held_out_loss_before=result.held_out_loss_before,
        held_out_loss_after=result.held_out_loss_after,
    )
    write_manifest(directory, manifest)
    # Only now is the new version the adapter; older peft folders are no longer named anywhere.
    for old in directory.glob("peft-*"):
        if old != result.peft_dir:
            shutil.rmtree(old, ignore_errors=True)
    if result.held_out_loss_after is not None:
        say(
            f"Held-out loss {result.held_out_loss_before:.3f} before training, "
            f"{result.held_out_loss_after:.3f} after."
        )
    size = gguf_path.stat().st_size
    say(f"Adapter written to {gguf_path} ({size / 1e6:.1f} MB).")
    return TuneOutcome(directory, manifest, result)


def _describe(files: TrainingFiles) -> str:
    text = f"{files.root}: {len(files.train)} files to train on, {len(files.held_out)} held out"
    if files.skipped:
        text += f", {len(files.skipped)} left out ({skip_summary(files.skipped)})"
    return text + (" (stopped at the file limit)" if files.capped else "")


@contextlib.contextmanager
def _locked(directory: Path, workspace: Path) -> Iterator[None]:
    """Hold the adapter folder for this run: a second run on the same workspace would delete
    this one's temporary files as leftovers."""
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / ".lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise TuningError(
                f"another `tide-lsp tune` is already working on {workspace}; wait for it"
            ) from None
        yield
