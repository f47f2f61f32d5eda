"""What of a suggestion still being generated is shown at the request's time limit."""

import pytest

from lsp_server.completion.generate import partial_suggestion


@pytest.mark.parametrize(
    ("text", "whole_lines", "shown"),
    [
        ("return self.value", False, "return self."),
        ("MANAGED_IDENTITY_USER_ASSIGNED_I", False, "MANAGED_IDENTITY_USER_ASSIGNED_"),
        ("userAssignedIdQueryParamet", False, "userAssignedIdQuery"),
        ("total", False, ""),  # one word still being generated: nothing yet
        ("for x in items:\n    total += x", True, "for x in items:"),
        ("for x in items", True, ""),  # no whole line yet
    ],
)
def test_a_partial_suggestion_ends_before_what_may_still_change(text, whole_lines, shown):
    assert partial_suggestion(text, "", whole_lines) == shown
