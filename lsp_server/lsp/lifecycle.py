"""Starting, configuring and stopping the server: initialize, initialized, settings changes,
shutdown and exit."""

from typing import TYPE_CHECKING

from lsprotocol import types

from ..runtime.engine_slot import consume_load
from ..text.uris import file_path

if TYPE_CHECKING:
    from .server import TideServer


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
    ls.health.close()
    await ls.slot.close()


def exit_(ls: "TideServer", params: None) -> None:
    ls.scheduler.shutdown()
