"""From a rewritten region to the edit offered, and what is refused on the way.

Refused before the model runs: a binary document (NUL bytes), one over MAX_DOCUMENT_BYTES (too
large to parse, so no edit to it could be checked), a region over MAX_REGION_CHARS. Refused
after: a rewrite that changes nothing; one that takes back what the user just typed, or
removes most of the region's lines (a small model that loses its place rewrites a region as
nothing, or as code copied from above it, and both parse); and an edit that fails the checks
quick fixes pass (`fixes.verify.verify_fix`): it may add no syntax error, and an edit that
touches a line with a syntax error must remove it, so a region that does not parse gets an edit
only when the edit makes it parse.
"""

from dataclasses import dataclass

from ..fixes.minimal_edit import minimal_edit
from ..fixes.verify import verify_fix
from ..text.documents import Snapshot
from ..text.line_index import utf8
from .history import Hunk
from .region import Region

MAX_DOCUMENT_BYTES = 1_000_000  # the document store's parse limit: beyond it there is no tree
# Twenty-one lines of ordinary code are a tenth of this; a longer region is minified or
# generated code, whose rewrite would take minutes on a CPU.
MAX_REGION_CHARS = 6_000
# A next edit that removes more than this share of the region's code lines, and puts back
# fewer than half as many, is the model losing its place, not the user's next step.
MAX_REMOVED_SHARE = 0.5


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


def rejection(
    snapshot: Snapshot, region: Region, edit: NextEdit, latest: Hunk | None = None
) -> str | None:
    """Why the edit must not be offered, or None when it may; `latest` is the user's latest
    edit of this document."""
    after = applied(snapshot.text, edit)
    if latest is not None and _undoes(latest, snapshot.text, after):
        return "it would take back the edit just made"
    removed = _lines(snapshot.text[edit.start : edit.end])
    if removed > MAX_REMOVED_SHARE * _lines(region.text) and _lines(edit.text) < removed / 2:
        return "it removes most of the lines around the edit"
    verdict = verify_fix(snapshot.text, after, snapshot.language)
    return None if verdict.ok else verdict.reason


def _undoes(latest: Hunk, before: str, after: str) -> bool:
    """Whether the edit turns the user's latest edit back: every line it wrote is gone, and
    what it replaced (if anything) is back."""
    written = [line.strip() for line in latest.after.split("\n") if line.strip()]
    if not written or not all(line in before for line in written):
        return False
    gone = all(line not in after for line in written)
    return gone and (not latest.before.strip() or latest.before in after)


def _lines(text: str) -> int:
    return sum(1 for line in text.split("\n") if line.strip())
