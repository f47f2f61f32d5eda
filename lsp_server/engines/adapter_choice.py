"""Which LoRA adapter the served model loads: the workspace's own, one the user names, or none.

An adapter made for another base model would not fail to load: llama.cpp checks only the
architecture and tensor shapes, so an adapter of a same-sized model loads and completes garbage.
So an adapter is used only after its header says it was made for this very base file (sha256,
architecture, shapes); otherwise the reason is reported and the base model serves alone.

Completions and next edits each have their own adapter (`tide-lsp tune` and `tide-lsp tune
--next-edit`), chosen the same way; an adapter trained for one is refused for the other.
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import TideError
from ..tuning.adapters import COMPLETION, NEXT_EDIT, find_adapter, validate_adapter

# Engines that can put a LoRA adapter on their model: llama.cpp reads the adapter's GGUF file,
# transformers its peft folder. Only llama.cpp keeps a next-edit adapter apart from the
# completion adapter (on a context of its own); transformers merges its adapter into the weights.
ADAPTER_ENGINES = {COMPLETION: ("llama.cpp", "transformers"), NEXT_EDIT: ("llama.cpp",)}
# What serves instead of an adapter that is not used.
_FALLBACK = {
    COMPLETION: "completing with the base model",
    NEXT_EDIT: "next edits use the base model",
}


@dataclass(frozen=True)
class AdapterChoice:
    # A GGUF LoRA file for llama.cpp, a peft folder for transformers; None: the base alone.
    path: Path | None = None
    label: str | None = None  # what the log and the editor's status call it
    problem: str | None = None  # why an adapter that exists or was asked for is not used

    def describe(self) -> str:
        return f"adapter {self.label}" if self.path else "no adapter"


NO_ADAPTER = AdapterChoice()


def choose_adapter(
    setting: str,
    engine: str,
    workspace: Path | None,
    model_cache: Path,
    base: Path | str,
    base_sha256: Callable[[], str],
    purpose: str = COMPLETION,
) -> AdapterChoice:
    """The adapter for `purpose` to load for `setting` ("auto", "off" or a path) on `engine`
    serving `base`.

    `base_sha256` is called only when there is an adapter to check (hashing a model file takes
    seconds). Never raises for a bad adapter: the problem is returned, with no adapter.
    """
    if setting == "off":
        return NO_ADAPTER
    if setting == "auto":
        if workspace is None:
            return NO_ADAPTER
        try:
            manifest = find_adapter(workspace, model_cache, purpose)
        except TideError as exc:
            return AdapterChoice(problem=f"the workspace's {purpose} adapter is not used: {exc}")
        if manifest is None:
            return NO_ADAPTER
        if engine not in ADAPTER_ENGINES[purpose]:
            return NO_ADAPTER  # the user asked for no adapter in particular: nothing to report
        path = Path(manifest.gguf_path if engine == "llama.cpp" else manifest.peft_dir)
        label = f"{Path(manifest.workspace).name} ({manifest.steps} steps, rank {manifest.rank})"
        recorded = manifest.base_sha256
    else:
        path = Path(setting).expanduser()
        if engine not in ADAPTER_ENGINES[purpose]:
            able = " and ".join(ADAPTER_ENGINES[purpose])
            kind = "" if purpose == COMPLETION else f"{purpose} "
            return AdapterChoice(
                problem=f"adapter {path} is not used: the {engine} engine cannot load {kind}"
                f"LoRA adapters ({able} can)"
            )
        label, recorded = path.name, None
    return _checked(path, label, recorded, engine, base, base_sha256, purpose)


def _checked(
    path: Path,
    label: str,
    recorded_sha256: str | None,
    engine: str,
    base: Path | str,
    base_sha256: Callable[[], str],
    purpose: str,
) -> AdapterChoice:
    fallback = _FALLBACK[purpose]
    if not path.exists():
        return AdapterChoice(problem=f"adapter {path} does not exist; {fallback}")
    base_path = Path(base)
    is_gguf_base = base_path.suffix == ".gguf" and base_path.is_file()
    try:
        if engine == "llama.cpp":
            validate_adapter(path, base_path, base_sha256(), purpose)
        elif not (path / "adapter_config.json").is_file():
            return AdapterChoice(
                problem=f"adapter {path} is not used: the transformers engine loads a peft "
                "adapter folder (with adapter_config.json)"
            )
        elif recorded_sha256 is not None and (not is_gguf_base or recorded_sha256 != base_sha256()):
            return AdapterChoice(
                problem=f"adapter {path} is not used: it was made for another base model "
                f"(sha256 {recorded_sha256[:12]}…), not {base_path.name}"
            )
    except TideError as exc:
        return AdapterChoice(problem=f"{exc}; {fallback}")
    return AdapterChoice(path, label)
