"""The progress callback through which downloads and hashing report how far they got."""

from collections.abc import Callable

ProgressFn = Callable[[str, int, int | None], None]
"""Progress callback: (message, bytes done, total bytes or None when unknown)."""


def no_progress(message: str, done: int, total: int | None) -> None:
    """Progress callback used when the caller gave none."""
