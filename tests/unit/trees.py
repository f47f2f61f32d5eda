"""Writing a tree of files for tests that walk a workspace."""

from pathlib import Path


def write(root: Path, files: dict[str, str | bytes]) -> None:
    """Each file at its path below `root` (folders made as needed), text as UTF-8."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
