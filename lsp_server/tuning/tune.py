"""`tide-lsp tune`: a workspace's files, examples cut from them, a LoRA trained on them, the
adapter exported for llama.cpp, checked against its base and recorded in the adapter store.
With `--next-edit`, the same for next edits: examples mined from the workspace's commits
(`git_history`, `next_edit_examples`), an adapter recorded apart from the completion one.

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
from typing import Any

from lsp_server import models
from lsp_server.models.progress import ProgressFn
from lsp_server.next_edit.prompts import layout_for

from .adapters import (
    ADAPTER_FILE,
    COMPLETION,
    NEXT_EDIT,
    AdapterManifest,
    adapter_dir,
    validate_adapter,
    write_manifest,
)
from .base import LoadedBase, identify_base, load_base
from .commits import FileCommit, read_commits_file
from .encoding import EncodedExample, encode_examples
from .errors import AdapterError, NoUsableFilesError, TuningError
from .examples import ExampleSettings, workspace_examples
from .export import SUPPORTED_ARCHITECTURES, AdapterMetadata, export_gguf
from .files import TrainingFiles, check_share, is_held_out, skip_summary, training_files
from .git_history import HistorySettings, read_history
from .next_edit_examples import MinedExamples, NextEditSettings, mine_examples
from .train import TrainResult, TrainSettings, train_adapter


@dataclass(frozen=True)
class NextEditTuning:
    """What a next-edit adapter learns from: the workspace's git history, or the file commits
    of a .jsonl(.gz) in the next-edit benchmark's format (`commits_file`)."""

    history: HistorySettings = field(default_factory=HistorySettings)
    examples: NextEditSettings = field(default_factory=NextEditSettings)
    commits_file: Path | None = None

    def run_key(self) -> dict[str, Any]:
        return {
            "history": dataclasses.asdict(self.history),
            "examples": dataclasses.asdict(self.examples),
            "commits_file": str(self.commits_file) if self.commits_file else None,
        }


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
    # Set: a next-edit adapter (from commits), recorded apart from the completion adapter.
    next_edit: NextEditTuning | None = None


@dataclass(frozen=True)
class TuneOutcome:
    directory: Path
    manifest: AdapterManifest
    result: TrainResult


@dataclass(frozen=True)
class _Prepared:
    """The encoded examples of one run and what the manifest says they came from."""

    train: list[EncodedExample]
    held_out: list[EncodedExample]
    key: dict[str, Any]  # how they were made: a checkpoint made otherwise is not resumed
    files_trained: int
    files_held_out: int
    commits: int = 0


def tune(
    request: TuneRequest,
    say: Callable[[str], None] = print,
    *,
    progress: ProgressFn | None = None,
    base: LoadedBase | None = None,
) -> TuneOutcome:
    """Train (or resume training) the workspace's adapter, or with `request.next_edit` its
    next-edit adapter, and export it; `base`, when given, is a base already loaded (and left
    loaded) instead of the one `request.model` names."""
    request.train.check()
    if request.out is not None and request.out.expanduser().is_dir():
        raise TuningError(f"the adapter file to write, {request.out}, is a folder; name a file")
    workspace = request.workspace.expanduser().resolve()
    cache = models.cache_dir(request.model_dir)
    prepare: Callable[[LoadedBase], _Prepared]
    if request.next_edit is None:
        request.examples.check()
        files = training_files(workspace, request.held_out_share)
        say(_describe(files))
        purpose = COMPLETION

        def prepare(loaded: LoadedBase) -> _Prepared:
            return _completion_examples(request, files, loaded)
    else:
        tuning = request.next_edit
        tuning.examples.check()
        check_share(request.held_out_share)
        commits = _commits(tuning, workspace, say)
        purpose = NEXT_EDIT

        def prepare(loaded: LoadedBase) -> _Prepared:
            return _next_edit_examples(request, tuning, commits, loaded, say)

    base_file = base.file if base is not None else identify_base(request.model, cache, progress)
    if base_file.architecture not in SUPPORTED_ARCHITECTURES:
        raise TuningError(
            f"{base_file.path.name} is a {base_file.architecture or 'unknown'} model; Tide "
            f"exports adapters for {', '.join(sorted(SUPPORTED_ARCHITECTURES))} models only"
        )
    directory = adapter_dir(workspace, cache, purpose)
    with _locked(directory, workspace):
        say(f"Adapter folder: {directory}")
        if base is None:
            say(f"Loading {base_file.path.name} with transformers (dequantized; about a minute).")
        loaded = base or load_base(base_file)
        try:
            prepared = prepare(loaded)
            return _tune(request, workspace, directory, purpose, prepared, loaded, say)
        finally:
            if base is None:
                loaded.close()


def _completion_examples(
    request: TuneRequest, files: TrainingFiles, loaded: LoadedBase
) -> _Prepared:
    engine = loaded.engine
    examples = workspace_examples(files, engine.template, engine.count_tokens, request.examples)
    train = encode_examples(examples.train, engine, engine.n_ctx)
    held = encode_examples(examples.held_out[: request.max_held_out_examples], engine, engine.n_ctx)
    key = {
        "held_out_share": request.held_out_share,
        "examples": dataclasses.asdict(request.examples),
    }
    return _Prepared(train, held, key, len(files.train), len(files.held_out))


def _commits(
    tuning: NextEditTuning, workspace: Path, say: Callable[[str], None]
) -> list[FileCommit]:
    if tuning.commits_file is not None:
        commits = read_commits_file(tuning.commits_file)
        say(f"{tuning.commits_file}: {len(commits)} file commits")
    else:
        history = read_history(workspace, tuning.history)
        say(history.describe())
        commits = list(history.commits)
    if not commits:
        raise NoUsableFilesError(f"no commits to learn next edits from for {workspace}")
    return commits


def _next_edit_examples(
    request: TuneRequest,
    tuning: NextEditTuning,
    commits: list[FileCommit],
    loaded: LoadedBase,
    say: Callable[[str], None],
) -> _Prepared:
    engine = loaded.engine
    share = request.held_out_share
    held_commits = [c for c in commits if is_held_out(f"{c.commit}:{c.path}", share)]
    train_commits = [c for c in commits if not is_held_out(f"{c.commit}:{c.path}", share)]
    layout = layout_for(engine.template.family)

    def mined(chosen: list[FileCommit]) -> MinedExamples:
        return mine_examples(
            chosen, layout, engine.chat_prompt, engine.count_tokens, tuning.examples
        )

    train, held = mined(train_commits), mined(held_commits)
    say(f"Training: {train.summary.describe()}.")
    if held_commits:
        say(f"Held out: {held.summary.describe()}.")
    if not train.examples:
        raise NoUsableFilesError(
            f"no next-edit example to learn in the {len(train_commits)} file commits trained on"
        )
    limit = tuning.examples.n_ctx
    held_examples = held.examples[: request.max_held_out_examples]
    key = {"held_out_share": share, "next_edit": tuning.run_key()}
    return _Prepared(
        encode_examples(train.examples, engine, limit),
        encode_examples(held_examples, engine, limit),
        key,
        len({c.path for c in train_commits}),
        len({c.path for c in held_commits}),
        len(train_commits),
    )


def _tune(
    request: TuneRequest,
    workspace: Path,
    directory: Path,
    purpose: str,
    prepared: _Prepared,
    loaded: LoadedBase,
    say: Callable[[str], None],
) -> TuneOutcome:
    base_file = loaded.file
    train, held = prepared.train, prepared.held_out
    tokens = sum(len(e.input_ids) for e in train)
    say(
        f"{len(train)} training examples ({tokens // max(len(train), 1)} tokens each on average), "
        f"{len(held)} held-out examples; training on {loaded.device}."
    )
    key = {"base_sha256": base_file.sha256, "workspace": str(workspace), **prepared.key}
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
        base_file.sha256, base_file.path.name, str(workspace), result.step, created, purpose
    )
    try:
        export_gguf(result.peft_dir, base_file.header, metadata, gguf_path)
    except OSError as exc:
        raise TuningError(f"cannot write the adapter to {gguf_path}: {exc}") from exc
    try:
        validate_adapter(gguf_path, base_file.path, base_file.sha256, purpose)
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
        files_trained=prepared.files_trained,
        files_held_out=prepared.files_held_out,
        examples=len(train),
        peft_dir=str(result.peft_dir),
        gguf_path=str(gguf_path),
        created=created,
        seconds=round(result.seconds, 1),
        held_out_loss_before=result.held_out_loss_before,
        held_out_loss_after=result.held_out_loss_after,
        purpose=purpose,
        commits=prepared.commits,
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
