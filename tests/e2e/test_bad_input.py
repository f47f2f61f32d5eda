"""Bad input gets a clear error, the server stays up, and every request gets one answer."""

import shutil

import pytest

from lsp_server import models
from tests.conftest import failing_server, server_env
from tests.rawlsp import RawServer
from tests.unit.hubstub import HubStub
from tests.unit.modelfiles import model_entry, write_registry, write_tiny_gguf

pytestmark = pytest.mark.model

URI = "file:///tmp/tide-bad/a.py"
SOURCE = "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a\n"
INLINE = "textDocument/inlineCompletion"


def _inline_params(uri: str = URI, line: int = 5, character: int = 12) -> dict:
    return {
        "textDocument": {"uri": uri},
        "position": {"line": line, "character": character},
        "context": {"triggerKind": 1},
    }


def _open(server: RawServer, text: str = SOURCE, uri: str = URI) -> None:
    server.send(
        {
            "method": "textDocument/didOpen",
            "params": {
                "textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}
            },
        }
    )


def _shows(server: RawServer, *words: str) -> dict:
    """The window/showMessage that mentions all `words`."""
    return server.wait_for(
        lambda m: (
            m.get("method") == "window/showMessage"
            and all(w in m["params"]["message"] for w in words)
        ),
        timeout=60,
    )


def _still_completes(server: RawServer, id_: str) -> None:
    reply = server.request(id_, INLINE, _inline_params())
    assert "result" in reply, reply
    assert len(reply["result"]["items"]) == 1


@pytest.fixture
def server(model_path):
    s = RawServer()
    s.initialize()
    _open(s)
    yield s
    assert s.close() == 0


def test_malformed_json_gets_a_parse_error_and_the_server_goes_on(server):
    server.send_bytes(b'{"jsonrpc": "2.0", "id": 7, "method": ')
    reply = server.wait_for(lambda m: m.get("error", {}).get("code") == -32700)
    assert reply["id"] is None
    _still_completes(server, "after-malformed")


def test_unknown_method_is_method_not_found(server):
    reply = server.request("u1", "tide/noSuchThing", {})
    assert reply["error"]["code"] == -32601
    server.send({"method": "tide/noSuchNotification", "params": {}})
    _still_completes(server, "after-unknown")


def test_document_never_opened(server):
    reply = server.request("n1", INLINE, _inline_params(uri="file:///never/opened.py"))
    assert reply["error"]["code"] == -32602
    assert "not open" in reply["error"]["message"]
    assert "file:///never/opened.py" in reply["error"]["message"]


def test_position_out_of_range(server):
    reply = server.request("r1", INLINE, _inline_params(line=999, character=0))
    assert reply["error"]["code"] == -32602
    assert "999" in reply["error"]["message"]
    # A column past the end of a line means the end of that line (LSP), not an error.
    reply = server.request("r2", INLINE, _inline_params(line=5, character=500))
    assert "result" in reply


def test_position_of_the_wrong_type_is_invalid_params(server):
    params = _inline_params()
    params["position"] = {"line": "five", "character": None}
    reply = server.request("t1", INLINE, params)
    assert reply["error"]["code"] == -32602
    assert INLINE in reply["error"]["message"]
    assert len(server.responses_to("t1")) == 1
    _still_completes(server, "after-wrong-type")


def test_binary_content_gets_no_completion(server):
    binary = "".join(chr(c) for c in range(0, 256)) * 8
    _open(server, binary, "file:///tmp/tide-bad/blob.bin")
    reply = server.request("b1", INLINE, _inline_params("file:///tmp/tide-bad/blob.bin", 0, 10))
    assert reply["result"]["items"] == []
    _still_completes(server, "after-binary")


def test_ten_megabyte_file_completes(server):
    line = "value_{0} = compute(value_{1}, {0})\n"
    body = "".join(line.format(i, i - 1) for i in range(1, 300_000))
    text = "def compute(a, b):\n    return a + b\n\n" + body
    assert len(text) > 10_000_000
    big = "file:///tmp/tide-bad/big.py"
    _open(server, text + "value_300000 = ", big)
    last = text.count("\n")
    reply = server.request("big", INLINE, _inline_params(big, last, len("value_300000 = ")))
    assert "result" in reply, reply
    _still_completes(server, "after-big")


def test_request_after_shutdown_is_answered(model_path):
    s = RawServer()
    s.initialize()
    s.request("sd", "shutdown", None)
    reply = s.request("late", INLINE, _inline_params())
    assert reply["error"]["code"] == -32600
    s.send({"method": "exit", "params": None})
    assert s.proc.wait(timeout=30) == 0


@pytest.mark.parametrize("kind", ["missing", "truncated", "not-gguf"])
def test_bad_model_file_at_startup(kind, tmp_path, model_path):
    path = tmp_path / f"{kind}.gguf"
    if kind == "truncated":
        with model_path.open("rb") as src:
            path.write_bytes(src.read(4_000_000))
    elif kind == "not-gguf":
        path.write_text("this is a README, not a model\n" * 100)
    s = RawServer(args=("--model", str(path)))
    s.initialize()
    _shows(s, str(path))
    _open(s)
    reply = s.request("m1", INLINE, _inline_params())
    assert reply["error"]["code"] == -32603
    assert str(path) in reply["error"]["message"]
    assert s.close() == 0


def test_bad_model_on_reconfiguration_keeps_the_previous_one(server, tmp_path, model_path):
    _still_completes(server, "before")
    broken = tmp_path / "broken.gguf"
    with model_path.open("rb") as src:
        broken.write_bytes(src.read(1_000_000))
    server.send(
        {
            "method": "workspace/didChangeConfiguration",
            "params": {"settings": {"tide": {"model": str(broken)}}},
        }
    )
    _shows(server, str(broken), "still using")
    _still_completes(server, "after-bad-model")


def test_corrupt_download_is_refused_and_nothing_is_installed(tmp_path, model_path):
    good = write_tiny_gguf(tmp_path / "good.gguf")
    served = write_tiny_gguf(tmp_path / "served.gguf", seed=1.0)
    repo, file = "tide-test/corrupt", "corrupt.gguf"
    entry = model_entry(
        "corrupt-test",
        good,
        [{"kind": "huggingface", "repo": repo, "file": file}],
        size=len(served),
    )
    registry = tmp_path / "registry.toml"
    extra = write_registry(tmp_path / "extra.toml", [entry]).read_text()
    registry.write_text(models.registry_path().read_text() + "\n" + extra)
    cache = tmp_path / "cache"
    cache.mkdir()
    shutil.copy(model_path, cache / model_path.name)
    with HubStub({(repo, file): served}) as hub:
        env = server_env(
            TIDE_REGISTRY=str(registry),
            TIDE_MODEL_DIR=str(cache),
            HF_ENDPOINT=hub.url,
            HF_HUB_DISABLE_TELEMETRY="1",
        )
        s = RawServer(env=env)
        s.initialize()
        _open(s)
        _still_completes(s, "before")
        s.send(
            {
                "method": "workspace/didChangeConfiguration",
                "params": {"settings": {"tide": {"model": "corrupt-test"}}},
            }
        )
        _shows(s, "hecksum mismatch", "still using")
        assert not (cache / "corrupt-test.gguf").exists()
        _still_completes(s, "after-corrupt")
        assert s.close() == 0


def test_engine_failing_mid_generation(model_path):
    s = RawServer(server=failing_server(2))
    s.initialize()
    _open(s)
    reply = s.request("f1", INLINE, _inline_params())
    assert reply["error"]["code"] == -32603
    assert "injected engine fault" in reply["error"]["message"]
    # The server is still there and answers the next request (with the same clear error).
    reply = s.request("f2", "textDocument/completion", _inline_params())
    assert "injected engine fault" in reply["error"]["message"]
    assert s.close() == 0


def test_bad_settings_are_reported_and_the_rest_apply(model_path):
    s = RawServer()
    s.initialize({"contextBudget": "big", "bogus": 1, "maxTokens": 8})
    _shows(s, "contextBudget", "big")
    _shows(s, "bogus")
    _open(s)
    _still_completes(s, "after-bad-settings")
    assert s.close() == 0


def test_edit_outside_the_document_is_refused_and_the_text_kept(server):
    server.send(
        {
            "method": "textDocument/didChange",
            "params": {
                "textDocument": {"uri": URI, "version": 2},
                "contentChanges": [
                    {
                        "range": {
                            "start": {"line": 40, "character": 0},
                            "end": {"line": 41, "character": 0},
                        },
                        "text": "junk",
                    }
                ],
            },
        }
    )
    _shows(server, "ignored an edit", URI)
    _still_completes(server, "after-bad-edit")
