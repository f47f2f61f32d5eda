"""Tests for lsp_server.triggers: when to complete, and when the answer may span lines."""

from dataclasses import dataclass

import pytest

from lsp_server.completion.trigger import Trigger, decide
from lsp_server.text.documents import Snapshot
from lsp_server.text.languages import language_for, parser_for, supported_languages

CURSOR = "|"


def decide_at(language_id: str | None, marked: str, invoked: bool = False) -> Trigger:
    """decide() at the `|` in `marked`, parsed with the language's grammar (None: plain text)."""
    cursor = marked.index(CURSOR)
    text = marked[:cursor] + marked[cursor + 1 :]
    info = language_for(language_id) if language_id else None
    tree = parser_for(info).parse(text.encode()) if info else None
    snapshot = Snapshot("file:///t", 1, language_id or "plaintext", text, tree, info)
    return decide(snapshot, cursor, invoked)


@dataclass(frozen=True)
class Samples:
    """One document per rule, the cursor at `|`."""

    mid_identifier: str
    string: str
    comment: str
    opener: str
    statement: str


SAMPLES = {
    "python": Samples(
        mid_identifier="x = pri|nt(1)\n",
        string='x = "hel|lo"\n',
        comment="x = 1  # a |note\n",
        opener="def f(a):\n    |\n",
        statement="def f(a):\n    total = |\n",
    ),
    "javascript": Samples(
        mid_identifier="const x = pri|nt(1);\n",
        string="const s = 'hel|lo';\n",
        comment="// a |note\n",
        opener="function f(a) {\n  |\n}\n",
        statement="function f(a) {\n  const total = |\n}\n",
    ),
    "typescript": Samples(
        mid_identifier="const x: number = pri|nt(1);\n",
        string="const s: string = `hel|lo`;\n",
        comment="/* a |note */\n",
        opener="function f(a: number): number {\n  |\n}\n",
        statement="const total: number = |\n",
    ),
    "typescriptreact": Samples(
        mid_identifier="const el = <div>{pri|nt(1)}</div>;\n",
        string='const s = "hel|lo";\n',
        comment="// a |note\n",
        opener="function App() {\n  |\n}\n",
        statement="const el = |\n",
    ),
    "go": Samples(
        mid_identifier="package main\n\nfunc main() { pri|ntln(1) }\n",
        string='package main\n\nvar s = "hel|lo"\n',
        comment="package main\n\n// a |note\n",
        opener="package main\n\nfunc main() {\n\t|\n}\n",
        statement="package main\n\nfunc main() {\n\tx := |\n}\n",
    ),
    "rust": Samples(
        mid_identifier="fn main() { pri|nt(); }\n",
        string='fn main() { let s = "hel|lo"; }\n',
        comment="fn main() {} // a |note\n",
        opener="fn main() {\n    |\n}\n",
        statement="fn main() {\n    let x = |\n}\n",
    ),
    "java": Samples(
        mid_identifier="class A { void f() { pri|nt(); } }\n",
        string='class A { String s = "hel|lo"; }\n',
        comment="class A {} // a |note\n",
        opener="class A {\n  void f() {\n    |\n  }\n}\n",
        statement="class A {\n  int x = |;\n}\n",
    ),
    "c": Samples(
        mid_identifier="int main(void) { pri|ntf(1); }\n",
        string='const char *s = "hel|lo";\n',
        comment="/* a |note */\n",
        opener="int main(void) {\n  |\n}\n",
        statement="int main(void) {\n  int x = |;\n}\n",
    ),
    "cpp": Samples(
        mid_identifier="int main() { pri|ntf(1); }\n",
        string='auto s = "hel|lo";\n',
        comment="// a |note\n",
        opener="class C {\n  void m() {\n    |\n  }\n};\n",
        statement="int main() {\n  auto x = |;\n}\n",
    ),
    "lua": Samples(
        mid_identifier="pri|nt(1)\n",
        string='local s = "hel|lo"\n',
        comment="-- a |note\n",
        opener="local function f(a)\n  |\nend\n",
        statement="local total = |\n",
    ),
}
LANGUAGES = list(SAMPLES)


def test_every_shipped_grammar_has_samples() -> None:
    assert [info.id for info in supported_languages()] == LANGUAGES


@pytest.mark.parametrize("language_id", LANGUAGES)
def test_no_completion_in_the_middle_of_an_identifier(language_id: str) -> None:
    trigger = decide_at(language_id, SAMPLES[language_id].mid_identifier)
    assert trigger == Trigger(False, False, "mid-identifier")


@pytest.mark.parametrize("language_id", LANGUAGES)
def test_asking_does_not_complete_inside_an_identifier(language_id: str) -> None:
    assert not decide_at(language_id, SAMPLES[language_id].mid_identifier, invoked=True).complete


@pytest.mark.parametrize("language_id", LANGUAGES)
def test_no_automatic_completion_in_a_string(language_id: str) -> None:
    trigger = decide_at(language_id, SAMPLES[language_id].string)
    assert trigger == Trigger(False, False, "in a string")


@pytest.mark.parametrize("language_id", LANGUAGES)
def test_asking_completes_in_a_string_on_one_line(language_id: str) -> None:
    trigger = decide_at(language_id, SAMPLES[language_id].string, invoked=True)
    assert trigger == Trigger(True, False, "invoked in a string")


@pytest.mark.parametrize("language_id", LANGUAGES)
def test_no_automatic_completion_in_a_comment(language_id: str) -> None:
    assert decide_at(language_id, SAMPLES[language_id].comment) == Trigger(
        False, False, "in a comment"
    )
    trigger = decide_at(language_id, SAMPLES[language_id].comment, invoked=True)
    assert trigger == Trigger(True, False, "invoked in a comment")


@pytest.mark.parametrize("language_id", LANGUAGES)
def test_blank_line_after_a_block_opener_is_multiline(language_id: str) -> None:
    trigger = decide_at(language_id, SAMPLES[language_id].opener)
    assert trigger.complete and trigger.multiline, trigger


@pytest.mark.parametrize("language_id", LANGUAGES)
def test_ordinary_statement_is_single_line(language_id: str) -> None:
    trigger = decide_at(language_id, SAMPLES[language_id].statement)
    assert trigger == Trigger(True, False, "single line")


@pytest.mark.parametrize("language_id", LANGUAGES)
def test_plain_text_has_no_syntax_rules(language_id: str) -> None:
    samples = SAMPLES[language_id]
    plain = Trigger(True, False, "plain text")
    assert decide_at(None, samples.opener) == plain
    assert decide_at(None, samples.string) == Trigger(False, False, "mid-identifier")
    assert decide_at(None, samples.statement) == plain
    assert decide_at(None, samples.mid_identifier) == Trigger(False, False, "mid-identifier")


# --- identifiers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language_id", "marked"),
    [
        ("python", "print|(1)\n"),  # at the end of a word, the usual place to complete
        ("python", "|print(1)\n"),  # before a word: nothing is split
        ("python", "x = a.|b\n"),
        ("go", "package main\n\nvar x = a |+ b\n"),
    ],
)
def test_cursor_beside_a_word_completes(language_id: str, marked: str) -> None:
    assert decide_at(language_id, marked).complete


def test_keyword_and_number_are_tokens_too() -> None:
    assert not decide_at("python", "de|f f(): pass\n").complete
    assert not decide_at("javascript", "const n = 12|34;\n").complete


def test_plain_text_word_rule() -> None:
    assert not decide_at(None, "hello wor|ld").complete
    assert decide_at(None, "hello |world").complete
    assert decide_at(None, "hello|").complete
    assert decide_at(None, "|").complete


def test_known_language_without_a_tree_is_plain_text() -> None:
    info = language_for("python")
    text = "def f():\n    \n"
    snapshot = Snapshot("file:///big.py", 1, "python", text, None, info)
    assert decide(snapshot, len("def f():\n    "), False) == Trigger(True, False, "plain text")


# --- strings and comments ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language_id", "marked"),
    [
        ("python", 'x = "abc"|\n'),  # after the closing quote
        ("python", 'x = |"abc"\n'),  # before the opening quote
        ("python", 'x = f"{valu|}"\n'),  # in an f-string's replacement field
        ("javascript", "const s = `a${valu|}`;\n"),
        ("typescript", "const s = `a${valu|}`;\n"),
        ("javascript", "/* note */|\n"),  # after a closed block comment
        ("lua", "--[[ note ]]|\n"),
        ("c", "/* note */ int x = |;\n"),
    ],
)
def test_code_next_to_a_string_or_comment_completes(language_id: str, marked: str) -> None:
    assert decide_at(language_id, marked) == Trigger(True, False, "single line")


@pytest.mark.parametrize(
    ("language_id", "marked", "literal"),
    [
        ("python", "x = 1  # note|\n", "comment"),  # a line comment goes on to the line's end
        ("rust", "// note|", "comment"),
        ("javascript", "/* note |*/\n", "comment"),
        ("lua", "--[[ note | ]]\n", "comment"),
        ("python", 'def f():\n    """Doc.\n    |\n    """\n', "string"),
        ("go", "package main\n\nvar s = `ra|w`\n", "string"),
        ("rust", "fn f() -> char { 'x|' }\n", "string"),
    ],
)
def test_inside_a_string_or_comment(language_id: str, marked: str, literal: str) -> None:
    assert decide_at(language_id, marked) == Trigger(False, False, f"in a {literal}")


# --- multi-line -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language_id", "marked"),
    [
        ("python", "class A:\n    |"),  # at the end of the file, no line break after
        ("python", "if x:\n    pass\nelse:\n    |\n"),
        ("python", "def f():\n    # explain\n    |\n"),  # a comment line is skipped
        ("python", "def f():  # explain\n    |\n"),
        ("python", "def f():\n    |\n    return 1\n"),  # a new first line in a body
        ("python", "for x in y:\n\n    |\n"),
        ("javascript", "const f = () =>\n  |\n"),  # arrow function with no body yet
        ("typescript", "const f = (a: number): number =>\n  |\n"),
        ("typescriptreact", "const f = () =>\n  |\n"),
        ("javascript", "const config = {\n  |\n};\n"),
        ("javascript", "function f() {\n  |"),  # the closing brace not typed yet
        ("go", "package main\n\nfunc main() {\n\t|"),
        ("rust", "fn main() {\n    |"),
        ("java", "class A {\n  void f() {\n    |"),
        ("c", "int main(void) {\n  |"),
        ("lua", "if x then\n  |\nend\n"),
        ("lua", "for i = 1, 3 do\n  |\nend\n"),
        ("lua", "local f = function(a)\n  |\nend\n"),
        ("lua", "function f()\n  |"),
    ],
)
def test_after_a_block_opener(language_id: str, marked: str) -> None:
    assert decide_at(language_id, marked) == Trigger(True, True, "after a block opener")


@pytest.mark.parametrize(
    ("language_id", "marked"),
    [
        ("javascript", "function f() {|}\n"),
        ("javascript", "class A {\n  m() { | }\n}\n"),
        ("typescript", "interface I {|}\n"),
        ("typescriptreact", "function App() {|}\n"),
        ("go", "package main\n\nfunc main() {|}\n"),
        ("go", "package main\n\nfunc main() {\n\t// todo\n\t|\n}\n"),
        ("rust", "fn main() {|}\n"),
        ("java", "class A { void f() {|} }\n"),
        ("c", "int main(void) {|}\n"),
        ("cpp", "namespace n {|}\n"),
        ("c", "int main(void) {|"),  # the grammar supplies the missing brace
    ],
)
def test_in_an_empty_body(language_id: str, marked: str) -> None:
    assert decide_at(language_id, marked) == Trigger(True, True, "empty body")


@pytest.mark.parametrize(
    ("language_id", "marked"),
    [
        ("python", "def f():\n    x = 1\n    |\n    return x\n"),  # a blank line in a body
        ("python", "x = {\n    |\n}\n"),  # a Python dict is no block
        ("python", "def f():|\n"),  # the cursor line holds the opener itself
        ("python", "x = 1\n|\n"),
        ("python", "def f(): pass\n|\n"),
        ("javascript", "function f() {\n  a();\n  |\n}\n"),
        ("javascript", "function f() { a(); |}\n"),
        ("javascript", "const o = {|};\n"),  # an object literal is no body
        ("go", "package main\n\nfunc main() {\n\t|x := 1\n}\n"),  # text after the cursor
        ("lua", "local x = 1\n|\n"),
        ("python", "|"),
    ],
)
def test_single_line(language_id: str, marked: str) -> None:
    assert decide_at(language_id, marked) == Trigger(True, False, "single line")
