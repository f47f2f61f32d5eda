"""Helix, Zed and Emacs (eglot) initialize the server with their own parameters.

The parameters in editors/clients/initialize_params.json were read off each client's source.
"""

import json
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.rawlsp import RawServer

pytestmark = pytest.mark.model

CLIENTS = json.loads((ROOT / "editors/clients/initialize_params.json").read_text())
NAMES = [name for name in CLIENTS if not name.startswith("_")]


@pytest.mark.parametrize("name", NAMES)
def test_client_initialize_params_are_accepted(name, model_path):
    params = dict(CLIENTS[name]["params"])
    params["processId"] = None  # the recorded pid is not ours to watch
    server = RawServer()
    reply = server.request(0, "initialize", params)
    assert "result" in reply, reply
    capabilities = reply["result"]["capabilities"]
    assert "completionProvider" in capabilities
    offered = (params.get("capabilities", {}).get("general") or {}).get("positionEncodings")
    assert capabilities.get("positionEncoding", "utf-16") == (offered or ["utf-16"])[0]
    server.send({"method": "initialized", "params": {}})
    uri = Path("/tmp/tide-clients/a.py").as_uri()
    server.send(
        {
            "method": "textDocument/didOpen",
            "params": {
                "textDocument": {
                    "uri": uri,
                    "languageId": "python",
                    "version": 1,
                    "text": "def add(a, b):\n    return a\n",
                }
            },
        }
    )
    done = server.request(
        1,
        "textDocument/completion",
        {"textDocument": {"uri": uri}, "position": {"line": 1, "character": 12}},
    )
    assert "result" in done, done
    assert server.close() == 0
