"""JSON-RPC as Tide speaks it: every request gets exactly one response.

pygls answers a request whose params fail to structure with a window/showMessage and no
response at all, drops requests after shutdown silently, and cannot send an error with a null
id; `TideProtocol` answers all three with JSON-RPC errors instead.
"""

import json
import logging
from dataclasses import dataclass
from typing import Any

from pygls.exceptions import JsonRpcInvalidParams, JsonRpcInvalidRequest, JsonRpcParseError
from pygls.protocol import LanguageServerProtocol

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Unstructurable:
    """A request whose params could not be read; answered with -32602."""

    id: Any
    method: str
    reason: str


class TideProtocol(LanguageServerProtocol):
    def structure_message(self, data: dict[str, Any]):
        try:
            return super().structure_message(data)
        except JsonRpcInvalidParams as exc:
            if "id" in data and "method" in data:
                cause = exc.__cause__
                detail = str(cause).splitlines()[0] if cause else "invalid params"
                return _Unstructurable(data["id"], str(data["method"]), detail)
            raise

    def handle_message(self, message):
        if isinstance(message, _Unstructurable):
            text = f"invalid params for {message.method}: {message.reason}"
            log.warning("%s (request %s)", text, message.id)
            self._send_response(message.id, error=JsonRpcInvalidParams(text).to_response_error())
            return
        is_request = getattr(message, "id", None) is not None and hasattr(message, "method")
        if self._shutdown and is_request:
            error = JsonRpcInvalidRequest("the server is shutting down")
            self._send_response(message.id, error=error.to_response_error())
            return
        super().handle_message(message)

    def answer_malformed(self, error: json.JSONDecodeError) -> None:
        """A message that is not JSON gets a parse error with a null id; sent as a plain dict
        because pygls' own response type drops a null id."""
        error_body = {"code": JsonRpcParseError.CODE, "message": f"malformed JSON: {error}"}
        self._send_data({"jsonrpc": "2.0", "id": None, "error": error_body})
