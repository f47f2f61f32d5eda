"""Workspace commands: `tide.pullModel`."""

from typing import TYPE_CHECKING, Any

from pygls.exceptions import JsonRpcInternalError

from ..config import apply_settings
from ..engines.loading import model_label
from ..errors import TideError

if TYPE_CHECKING:
    from .server import TideServer

PULL_COMMAND = "tide.pullModel"


async def pull_model(ls: "TideServer", *args: Any) -> dict[str, str]:
    """Fetch and load the named model (the configured one without a name)."""
    name = args[0] if args and isinstance(args[0], str) else None
    settings = ls.settings if name is None else apply_settings(ls.settings, {"model": name})[0]
    try:
        await ls.slot.start_load(settings)
    except TideError as exc:
        raise JsonRpcInternalError(str(exc)) from exc
    ls.settings = settings
    return {"model": model_label(settings), "state": "ready"}
