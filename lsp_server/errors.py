"""Exceptions Tide raises on purpose; each carries a message meant for the user."""


class TideError(Exception):
    """Base class: the message is shown to the user as is."""


class ConfigError(TideError):
    """A setting has an unknown key or a bad value."""


class ModelError(TideError):
    """A model cannot be found, fetched, verified or loaded."""


class DocumentError(TideError):
    """A request names a document that is not open, or a position outside it."""


class EngineError(TideError):
    """The inference engine failed while loading or generating."""
