"""Tests for lsp_server.parsed_text: a span replaced and re-parsed incrementally."""

import pytest

from lsp_server.text.languages import language_for, parser_for
from lsp_server.text.parsed_text import ParsedText


@pytest.mark.parametrize(
    ("start", "end", "new"),
    [
        (0, 0, "import os\n"),  # at the very start
        (21, 21, '    y = "é✓"\n    '),  # after multi-byte text, across lines
        (14, 27, "pass"),  # a replacement spanning a line break
        (40, 40, ")("),  # an insertion that breaks the file
    ],
)
def test_an_edit_reparsed_incrementally_gives_the_tree_of_a_full_parse(
    start: int, end: int, new: str
) -> None:
    info = language_for("python")
    assert info is not None
    text = "def f(a):\n    s = 'ü'\n    return s\n\nprint(f(1))\n"
    document = ParsedText(text, parser_for(info))
    edited = text[:start] + new + text[end:]
    fresh = parser_for(info).parse(edited.encode())
    assert str(document.replaced(start, end, new).root_node) == str(fresh.root_node)
