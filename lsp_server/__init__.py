"""Tide: a local code-completion language server."""

__version__ = "0.1.0"
