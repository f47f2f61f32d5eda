"""`textDocument/copilotInlineEdit` and `textDocument/didShowInlineEdit`, as
copilot-language-server speaks them, so its next-edit clients (copilot-lsp and sidekick.nvim
for Neovim, Zed) work with Tide unchanged.

The request is a TextDocumentPositionParams whose textDocument carries the version (sidekick
adds `context: {triggerKind}`); the result is `{edits: [{text, textDocument: {uri, version},
range}]}`, the range converted with the snapshot the edit was computed on. Both methods are
custom, so pygls hands their params over unchecked, as nested namedtuples: they are turned
back into JSON values and checked here.
"""

import logging
from typing import TYPE_CHECKING, Any

from pygls.exceptions import JsonRpcInternalError, JsonRpcInvalidParams

from ..errors import DocumentError, TideError
from ..next_edit.service import StaleVersion
from ..text.documents import Pos, Snapshot
from .fix_actions import ContentModified
from .ranges import lsp_range

if TYPE_CHECKING:
    from .server import TideServer

log = logging.getLogger(__name__)

INLINE_EDIT = "textDocument/copilotInlineEdit"
DID_SHOW_INLINE_EDIT = "textDocument/didShowInlineEdit"


def plain(value: Any) -> Any:
    """A JSON value from what pygls made of it (namedtuples for objects)."""
    if hasattr(value, "_asdict"):
        return {key: plain(item) for key, item in value._asdict().items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def _natural(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def request_of(params: Any) -> tuple[str, int | None, Pos]:
    """The document's URI, its version (None when the client sent none) and the position."""
    params = plain(params)
    if not isinstance(params, dict):
        raise JsonRpcInvalidParams(f"{INLINE_EDIT} takes an object, not {params!r}")
    document, position = params.get("textDocument"), params.get("position")
    if not isinstance(document, dict) or not isinstance(document.get("uri"), str):
        raise JsonRpcInvalidParams(f"{INLINE_EDIT} needs textDocument.uri")
    version = document.get("version")
    if version is not None and (not isinstance(version, int) or isinstance(version, bool)):
        raise JsonRpcInvalidParams(f"textDocument.version must be an integer, not {version!r}")
    if not isinstance(position, dict) or not all(
        _natural(position.get(k)) for k in ("line", "character")
    ):
        raise JsonRpcInvalidParams(
            f"{INLINE_EDIT} needs position {{line, character}} of non-negative integers"
        )
    return document["uri"], version, Pos(position["line"], position["character"])


def _range(snapshot: Snapshot, start: int, end: int) -> dict[str, Any]:
    rng = lsp_range(snapshot, start, end)
    return {
        "start": {"line": rng.start.line, "character": rng.start.character},
        "end": {"line": rng.end.line, "character": rng.end.character},
    }


async def inline_edit(ls: "TideServer", params: Any) -> dict[str, Any]:
    uri, version, position = request_of(params)
    try:
        answer = await ls.next_edits.suggest(uri, version, position)
    except StaleVersion as exc:
        raise ContentModified(str(exc)) from exc
    except DocumentError as exc:
        raise JsonRpcInvalidParams(str(exc)) from exc
    except TideError as exc:
        log.error("next edit failed: %s", exc)
        raise JsonRpcInternalError(str(exc)) from exc
    edit, snapshot = answer.edit, answer.snapshot
    if edit is None:
        return {"edits": []}
    return {
        "edits": [
            {
                "text": edit.text,
                "textDocument": {"uri": snapshot.uri, "version": snapshot.version},
                "range": _range(snapshot, edit.start, edit.end),
            }
        ]
    }


def did_show_inline_edit(ls: "TideServer", params: Any) -> None:
    # copilot-lsp sends {item: {command}}, the edit's command (Tide's edits carry none);
    # copilot-language-server uses it for telemetry, which Tide has none of.
    params = plain(params)
    item = params.get("item") if isinstance(params, dict) else None
    log.debug("an inline edit was shown: %r", item)
