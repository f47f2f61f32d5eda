"""Token healing: the prompt is backed off to a token boundary and the model re-types the rest.

A word being typed, or punctuation just typed, ends the prompt where no tokenizer would: `pri|`
is a token that never follows "pri" in training data, and `foo(|` gets "0)" instead of "()".
Backing off and constraining the first tokens to re-type what was removed fixes both.
"""

import re

from .cut import SyntaxCut

# What token healing backs the prompt off by: the partial word before the cursor with the
# space before it (BPE vocabularies glue a space to the word after it: " a", " print"),
# trailing spaces and indentation, which the model would otherwise repeat, or trailing
# punctuation, which BPE glues to what follows ("()", "(self", ".js").
_HEALABLE = re.compile(r"(?: ?[A-Za-z_]\w{0,31}|[ \t]+|[^\w\s]{1,3})$")


def heal_word(line_prefix: str, line_suffix: str) -> str:
    """The text before the cursor to back the prompt off by, if any.

    Only a word, whitespace or punctuation at its end (nothing word-like after the cursor):
    the model then re-types it from a token boundary, so `pri|` becomes `print(` instead of a
    token that never follows "pri" in training data, an indented blank line does not get one
    space too many, and `f(|` may go on as "()" or "(x".
    """
    if line_suffix[:1].isalnum() or line_suffix[:1] == "_":
        return ""
    match = _HEALABLE.search(line_prefix)
    return match.group() if match else ""


class Healed:
    """Feeds a cut the generated text past the word the prompt was backed off by."""

    def __init__(self, cut: SyntaxCut, heal: str) -> None:
        self.cut = cut
        self.heal = heal
        self.head = ""
        self.broken = False  # the model did not re-type the word (it ended first)

    def feed(self, piece: str) -> bool:
        """Add streamed text; True once the completion is complete."""
        if len(self.head) < len(self.heal):
            self.head += piece
            if len(self.head) < len(self.heal):
                return False
            if not self.head.startswith(self.heal):
                self.broken = True
                return True
            piece = self.head[len(self.heal) :]
        return self.cut.feed(piece) if piece else False

    @property
    def text(self) -> str:
        if self.broken or len(self.head) < len(self.heal):
            return ""
        return self.cut.text
