"""`textDocument/inlineCompletion` and `textDocument/completion`: LSP types around the
completion service. Ranges are converted with the snapshot the answer was computed on."""

import logging
from typing import TYPE_CHECKING

from lsprotocol import types
from pygls.exceptions import JsonRpcInternalError, JsonRpcInvalidParams

from ..completion.service import Answer
from ..errors import DocumentError, EngineError, TideError
from ..text.documents import Pos
from .ranges import lsp_range

if TYPE_CHECKING:
    from .server import TideServer

log = logging.getLogger(__name__)


async def _complete(ls: "TideServer", uri: str, position: types.Position, invoked: bool) -> Answer:
    try:
        answer = await ls.completions.complete(uri, Pos(position.line, position.character), invoked)
    except DocumentError as exc:
        raise JsonRpcInvalidParams(str(exc)) from exc
    except EngineError as exc:
        ls.health.failed(exc)
        raise JsonRpcInternalError(str(exc)) from exc
    except TideError as exc:
        log.error("completion failed: %s", exc)
        raise JsonRpcInternalError(str(exc)) from exc
    ls.answered(answer)
    return answer


async def inline_completion(
    ls: "TideServer", params: types.InlineCompletionParams
) -> types.InlineCompletionList:
    invoked = params.context.trigger_kind == types.InlineCompletionTriggerKind.Invoked
    answer = await _complete(ls, params.text_document.uri, params.position, invoked)
    result = answer.result
    if result is None or result.edit is None:
        return types.InlineCompletionList(items=[])
    edits = [result.edit, *(c.edit for c in result.alternatives)]
    items = [
        types.InlineCompletionItem(
            insert_text=edit.text, range=lsp_range(answer.snapshot, edit.start, edit.end)
        )
        for edit in edits
    ]
    return types.InlineCompletionList(items=items)


async def completion(ls: "TideServer", params: types.CompletionParams) -> types.CompletionList:
    answer = await _complete(ls, params.text_document.uri, params.position, invoked=False)
    result = answer.result
    # Incomplete, so the client asks again as the user types instead of filtering a stale item.
    empty = types.CompletionList(is_incomplete=True, items=[])
    if result is None or result.edit is None:
        return empty
    edit = result.edit
    label = edit.text.strip().splitlines()[0] if edit.text.strip() else edit.text
    item = types.CompletionItem(
        label=label,
        kind=types.CompletionItemKind.Text,
        detail=f"Tide · {result.model}",
        filter_text=edit.text,
        sort_text="0",
        insert_text_format=types.InsertTextFormat.PlainText,
        text_edit=types.TextEdit(lsp_range(answer.snapshot, edit.start, edit.end), edit.text),
    )
    return types.CompletionList(is_incomplete=True, items=[item])
