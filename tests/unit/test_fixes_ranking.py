"""Tests for the ranking helpers of lsp_server.fixes.candidates."""

from lsp_server.fixes.candidates import holds_syntax_error, keeps_typed_text
from lsp_server.text.documents import DocumentStore


def test_an_insertion_keeps_what_was_typed_and_a_rewrite_does_not() -> None:
    assert keeps_typed_text("print(area(2, 3)", "print(area(2, 3))")
    assert keeps_typed_text("", ")")
    assert keeps_typed_text("x  =1", "x = 1")  # spacing is not the user's text
    assert not keeps_typed_text("print(area(2, 3)", "print(area(3, 4))")
    assert not keeps_typed_text("print(area(2, 3)", "# Example usage")


def test_syntax_errors_are_found_on_the_lines_that_hold_them() -> None:
    text = "def area(w, h):\n    return w * h\n\n\nprint(area(2, 3)\n"
    snapshot = DocumentStore().open("file:///t.py", "python", 1, text)
    assert holds_syntax_error(snapshot, 4, 4)
    assert not holds_syntax_error(snapshot, 0, 1)
