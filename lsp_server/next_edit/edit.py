"""From a rewritten region to the edit offered, and what is refused on the way.

Refused before the model runs: a binary document (NUL bytes), one over MAX_DOCUMENT_BYTES (too
large to parse, so no edit to it could be checked), a region over MAX_REGION_CHARS. Refused
after: a rewrite that changes nothing, and an edit that fails the checks quick fixes pass
(`fixes.verify.verify_fix`): it may add no syntax error, and an edit that touches a line with a
syntax error must remove it, so a region that does not parse gets an edit only when the edit
makes it parse.
"""

from dataclasses import dataclass

from ..fixes.minimal_edit import minimal_edit
from ..fixes.verify import verify_fix
from ..text.documents import Snapshot
from ..text.line_index import utf8
from .region import Region

MAX_DOCUMENT_BYTES = 1_000_000  # the document store's parse limit: beyond it there is no tree
# Twenty-one lines of ordinary code are a tenth of this; a longer region is minified or
# generated code, whose rewrite would take minutes on a CPU.
MAX_REGION_CHARS = 6_000


@dataclass(frozen=True)
class NextEdit:
    """Replace the snapshot's text [start, end) with text (code-point offsets)."""

    start: int
    end: int
    text: str


def refusal(snapshot: Snapshot) -> str | None:
    """Why no next edit is computed for this document at all, or None."""
    if "\x00" in snapshot.text:
        return "the document is binary (it holds NUL bytes)"
    # A code point takes at most four bytes, so most documents need no encoding to tell.
    text = snapshot.text
    if len(text) * 4 > MAX_DOCUMENT_BYTES and len(utf8(text)) > MAX_DOCUMENT_BYTES:
        return f"the document is over {MAX_DOCUMENT_BYTES} bytes"
    return None


def region_refusal(region: Region) -> str | None:
    """Why the region is not worth rewriting, or None."""
    if len(region.text) > MAX_REGION_CHARS:
        return f"the lines around the edit are over {MAX_REGION_CHARS} characters"
    return None


def with_line_endings(rewrite: str, region: Region) -> str:
    """The model writes "\\n"; a region with "\\r\\n" line breaks gets them back."""
    if "\r\n" not in region.text:
        return rewrite
    return rewrite.replace("\r\n", "\n").replace("\n", "\r\n")


def region_edit(region: Region, rewrite: str) -> NextEdit | None:
    """The smallest replacement turning the region into its rewrite; None when they agree."""
    found = minimal_edit(region.text, with_line_endings(rewrite, region), base=region.start)
    if found is None:
        return None
    return NextEdit(*found)


def applied(text: str, edit: NextEdit) -> str:
    return text[: edit.start] + edit.text + text[edit.end :]


def rejection(snapshot: Snapshot, edit: NextEdit) -> str | None:
    """Why the edit must not be offered, or None when it may."""
    verdict = verify_fix(snapshot.text, applied(snapshot.text, edit), snapshot.language)
    return None if verdict.ok else verdict.reason
