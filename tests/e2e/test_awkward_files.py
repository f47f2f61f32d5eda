"""Completion on awkward input through the real server: files that do not parse, mixed line
endings, very long lines, and a workspace of 10,000 files."""

import asyncio
import re

import pytest

from lsp_server.context.workspace import MAX_FILES
from tests.conftest import apply_item, inline, lsp_session, open_doc

pytestmark = pytest.mark.model


async def test_a_file_that_does_not_parse_still_completes_and_the_server_goes_on(model_path):
    uri = "file:///tmp/tide-e2e/garbled.py"
    text = "def (((:\n    x = = ]\nclass\n\ntotal = 1 + "
    # Whole answers: on a loaded machine a suggestion handed over at answerWithinMs ends early.
    async with lsp_session(init={"answerWithinMs": 0}) as client:
        open_doc(client, uri, text)
        result = await inline(client, uri, 4, len("total = 1 + "))
        assert result.items, "the errors elsewhere in the file must not stop a completion here"
        item = result.items[0]
        assert item.insert_text.strip()
        assert "\n" not in item.insert_text  # one line: no block opener at the cursor
        good, area = "file:///tmp/tide-e2e/good.py", "def area(w, h):\n    return w"
        open_doc(client, good, area)
        after = await inline(client, good, 1, len("    return w"))
        assert after.items
        assert apply_item(area, after.items[0]).split("\n")[1].replace(" ", "") == "returnw*h"


async def test_mixed_line_endings_leave_every_other_line_as_it_was(model_path):
    uri = "file:///tmp/tide-e2e/mixed.py"
    lines = ["import math\r\n", "\n", "def area(radius):\r\n", "    return math.pi * "]
    text = "".join(lines) + "\n\r\nprint(area(2))\n"
    async with lsp_session() as client:
        open_doc(client, uri, text)
        result = await inline(client, uri, 3, len(lines[3]))
        assert result.items
        item = result.items[0]
        assert item.range.start.line == 3 and item.range.end.line == 3
        # Applied the way an editor does: by line and column, on the document's own lines.
        rows = re.split(r"(\r\n|\n)", text)
        row = rows[6]
        rows[6] = (
            row[: item.range.start.character] + item.insert_text + row[item.range.end.character :]
        )
        accepted = "".join(rows)
        assert accepted.startswith("".join(lines[:3]))
        assert accepted.endswith("\n\r\nprint(area(2))\n")
        assert "radius" in accepted.split("\n")[3]


async def test_a_very_long_line_above_the_cursor_does_not_reach_the_answer(model_path):
    uri = "file:///tmp/tide-e2e/long.py"
    long_line = "DATA = [" + ", ".join(str(n) for n in range(40_000)) + "]\n"
    text = long_line + "\n\ndef double(x):\n    return x"
    async with lsp_session() as client:
        open_doc(client, uri, text)
        result = await inline(client, uri, 4, len("    return x"))
        assert result.items
        answer = apply_item(text, result.items[0])
        assert answer.startswith(long_line)
        assert len(result.items[0].insert_text) < 200


async def test_a_workspace_of_ten_thousand_files_is_indexed_within_bounds(model_path, tmp_path):
    for d in range(100):
        folder = tmp_path / f"pkg{d}"
        folder.mkdir()
        for f in range(100):
            (folder / f"mod{f}.py").write_text(f"def helper_{d}_{f}(x):\n    return x + {f}\n")
    main = "from pkg3.mod7 import helper_3_7\n\n\nvalue = helper"
    (tmp_path / "main.py").write_text(main)
    log = tmp_path / "tide.log"
    uri = (tmp_path / "main.py").as_uri()
    async with lsp_session(root=tmp_path, args=("--log-file", str(log))) as client:
        open_doc(client, uri, main)
        first = await inline(client, uri, 3, len("value = helper"))
        assert first.items
        assert apply_item(main, first.items[0]).split("\n")[3].startswith("value = helper_3_7")
        for _ in range(600):  # the index fills in the background, a slice at a time
            if "workspace index full" in log.read_text():
                break
            await asyncio.sleep(0.1)
        written = log.read_text()
        full = re.search(r"workspace index full at (\d+) files", written)
        assert full, "the index never reported its bound"
        assert int(full.group(1)) == MAX_FILES
        again = await inline(client, uri, 3, len("value = helper"))
        assert again.items
