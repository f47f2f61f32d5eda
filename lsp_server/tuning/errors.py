"""The errors tuning raises; each message names the workspace or file and what is wrong."""

from lsp_server.errors import TideError


class TuningError(TideError):
    """Tuning cannot go on: a bad setting, a missing extra, a base model it cannot train."""


class NoUsableFilesError(TuningError):
    """The workspace has no file an adapter could learn from."""


class AdapterError(TuningError):
    """An adapter file or manifest is missing, damaged, or made for another base model."""
