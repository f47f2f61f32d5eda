"""Starting, configuring and stopping the server: initialize, initialized, settings changes,
shutdown and exit."""

import asyncio
import logging
from typing import TYPE_CHECKING

from lsprotocol import types
from pygls.exceptions import JsonRpcException

from ..errors import TideError
from ..text.uris import file_path

if TYPE_CHECKING:
    from .server import TideServer

log = logging.getLogger(__name__)


def initialize(ls: "TideServer", params: types.InitializeParams) -> None:
    ls.documents.encoding = ls.workspace.position_encoding or "utf-16"
    ls.update_settings(params.initialization_options)
    folders = params.workspace_folders or []
    root = file_path(folders[0].uri if folders else params.root_uri)
    ls.context.open_workspace(root)
    ls.slot.workspace = root if root is not None and root.is_dir() else None


def initialized(ls: "TideServer", params: types.InitializedParams) -> None:
    ls.slot.start_load(ls.settings).add_done_callback(consume_load)


def did_change_configuration(ls: "TideServer", params: types.DidChangeConfigurationParams) -> None:
    if ls.update_settings(params.settings):
        ls.slot.start_load(ls.settings).add_done_callback(consume_load)


async def shutdown(ls: "TideServer", params: None) -> None:
    ls.scheduler.cancel_all("shutting down")
    ls.completions.cancel()
    ls.fixes.cancel_all()
    ls.context.stop()
    await ls.slot.close()


def exit_(ls: "TideServer", params: None) -> None:
    ls.scheduler.shutdown()


def consume_load(task: "asyncio.Task[None]") -> None:
    """Load failures are reported through status; keep asyncio from logging them again."""
    if not task.cancelled() and task.exception() is not None:
        exc = task.exception()
        if not isinstance(exc, TideError | JsonRpcException):
            log.error("model load failed unexpectedly", exc_info=exc)
