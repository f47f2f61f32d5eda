"""Document URIs as local paths."""

from pathlib import Path
from urllib.parse import unquote, urlparse
from urllib.request import url2pathname


def file_path(uri: str | None) -> Path | None:
    """The local path of a file: URI; None for any other scheme."""
    parsed = urlparse(uri or "")
    if parsed.scheme != "file":
        return None
    return Path(url2pathname(unquote(parsed.path)))
