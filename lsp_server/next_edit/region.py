"""The editable region: whole lines around the last edit near the cursor, clipped to the file."""

from dataclasses import dataclass

from ..text.documents import Snapshot
from ..text.line_index import Pos
from .history import EditHistory

RADIUS = 10  # lines each side of the centre line
# An edit further than this from the cursor is not what the cursor is near: the cursor wins.
NEAR_LINES = 20


@dataclass(frozen=True)
class Region:
    """Lines first..last of a snapshot: text runs from start up to end, the end of line last
    without its line break."""

    first: int
    last: int
    start: int
    end: int
    text: str


def centre_line(cursor_line: int, last_edit_line: int | None, near: int = NEAR_LINES) -> int:
    """The last edit's line when it is near the cursor, else the cursor's."""
    if last_edit_line is not None and abs(last_edit_line - cursor_line) <= near:
        return last_edit_line
    return cursor_line


def region_at(snapshot: Snapshot, centre: int, radius: int = RADIUS) -> Region:
    """The whole lines within radius of centre, clipped to the document."""
    last_line = snapshot.line_count - 1
    if last_line > 0 and not snapshot.line_text(last_line):
        # The empty "line" after a final line break is not one the user can edit; a model
        # that drops it from the rewrite would delete the file's last line break.
        last_line -= 1
    centre = min(max(centre, 0), last_line)
    first, last = max(centre - radius, 0), min(centre + radius, last_line)
    start = snapshot.offset_at(Pos(first, 0))
    end = snapshot.offset_at(Pos(last, 0)) + len(snapshot.line_text(last))
    return Region(first, last, start, end, snapshot.text[start:end])


def choose_region(
    snapshot: Snapshot, cursor_line: int, last_edit_line: int | None, radius: int = RADIUS
) -> Region:
    """The editable region for a request at cursor_line, given where the last edit was."""
    return region_at(snapshot, centre_line(cursor_line, last_edit_line), radius)


def region_for(snapshot: Snapshot, cursor: int, history: EditHistory) -> Region:
    """The editable region for a request with the cursor at offset `cursor`, given the
    document's edit history."""
    cursor_line = snapshot.pos_at(cursor).line
    return choose_region(snapshot, cursor_line, history.last_line(snapshot.uri))
