"""Tests for lsp_server.languages: lookup by id and extension, and the real grammars."""

import threading

import pytest

from lsp_server.text.languages import LanguageInfo, language_for, parser_for, supported_languages

SAMPLES = {
    "python": 'import os\n# c\nclass A:\n    def f(self, x):\n        return f"a{x}" "b"\n',
    "javascript": "// c\nfunction f(a) { return `t${a}`; }\nconst j = <div>{'s'}</div>;\n",
    "typescript": "interface I { a: string }\nenum E { A }\nconst f = (x: number) => `${x}`;\n",
    "typescriptreact": 'const j = <div className="a">{x}</div>;\nlet n: number = 1;\n',
    "go": "package main\n// c\nfunc main() { s := `raw`; r := 'x'; println(\"hi\", s, r) }\n",
    "rust": "// c\nstruct S { a: i32 }\nfn f() -> char { let s = \"x\"; 'c' }\n",
    "java": "// c\nclass A { void m() { String s = \"x\"; char c = 'c'; } }\n",
    "c": '// c\n#include <stdio.h>\nint main(void) { return puts("a" "b"); }\n',
    "cpp": 'namespace n { class C { void m() { auto s = R"(raw)"; } }; }\n',
    "lua": '-- c\nlocal function f(x)\n  return "s" .. [[long]]\nend\n',
}

# Node types that SAMPLES must contain, so the facts name types the grammars really produce.
EXPECTED_TYPES = {
    "python": {"block", "string", "concatenated_string", "comment"},
    "javascript": {"statement_block", "template_string", "string", "comment"},
    "typescript": {"interface_body", "enum_body", "template_string"},
    "typescriptreact": {"string"},
    "go": {"block", "raw_string_literal", "rune_literal", "interpreted_string_literal", "comment"},
    "rust": {"block", "field_declaration_list", "string_literal", "char_literal", "line_comment"},
    "java": {"block", "class_body", "string_literal", "character_literal", "line_comment"},
    "c": {"compound_statement", "string_literal", "concatenated_string", "system_lib_string"},
    "cpp": {"declaration_list", "field_declaration_list", "compound_statement"},
    "lua": {"block", "string", "comment"},
}


def node_types(node) -> set[str]:
    found = {node.type} if node.is_named else set()
    for child in node.children:
        found |= node_types(child)
    return found


def test_supported_languages_are_the_ten_lsp_ids() -> None:
    assert [info.id for info in supported_languages()] == list(SAMPLES)


@pytest.mark.parametrize("info", supported_languages(), ids=lambda info: info.id)
def test_every_language_parses_its_sample_without_errors(info: LanguageInfo) -> None:
    tree = parser_for(info).parse(SAMPLES[info.id].encode())
    assert not tree.root_node.has_error, str(tree.root_node)
    assert EXPECTED_TYPES[info.id] <= node_types(tree.root_node)


@pytest.mark.parametrize("info", supported_languages(), ids=lambda info: info.id)
def test_every_fact_names_a_node_type_of_the_grammar(info: LanguageInfo) -> None:
    language = parser_for(info).language
    kinds = {language.node_kind_for_id(i) for i in range(language.node_kind_count)}
    facts = (
        info.block_openers
        + info.string_types
        + info.comment_types
        + info.opener_tokens
        + info.interpolation_types
    )
    assert set(facts) <= kinds


@pytest.mark.parametrize("info", supported_languages(), ids=lambda info: info.id)
def test_every_language_says_how_a_body_opens(info: LanguageInfo) -> None:
    assert info.opener_tokens


@pytest.mark.parametrize(
    "info", [info for info in supported_languages() if info.block_comment], ids=lambda i: i.id
)
def test_block_comment_parses_as_one_comment(info: LanguageInfo) -> None:
    assert info.block_comment is not None
    opener, closer = info.block_comment
    tree = parser_for(info).parse(f"{opener} a\nb {closer}\n".encode())
    (comment,) = tree.root_node.children
    assert comment.type in info.comment_types


@pytest.mark.parametrize("info", supported_languages(), ids=lambda info: info.id)
def test_line_comment_parses_as_a_comment(info: LanguageInfo) -> None:
    assert info.line_comment is not None
    tree = parser_for(info).parse(f"{info.line_comment} note\n".encode())
    assert {node.type for node in tree.root_node.children} <= set(info.comment_types)


@pytest.mark.parametrize(
    ("language_id", "expected"),
    [
        ("python", "python"),
        ("py", "python"),
        ("javascript", "javascript"),
        ("javascriptreact", "javascript"),
        ("typescript", "typescript"),
        ("typescriptreact", "typescriptreact"),
        ("go", "go"),
        ("rust", "rust"),
        ("java", "java"),
        ("c", "c"),
        ("cpp", "cpp"),
        ("lua", "lua"),
        ("Python", "python"),
    ],
)
def test_language_for_id(language_id: str, expected: str) -> None:
    info = language_for(language_id)
    assert info is not None
    assert info.id == expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/src/a.py", "python"),
        ("stubs/a.pyi", "python"),
        ("file:///src/app.jsx", "javascript"),
        ("file:///src/app.mjs", "javascript"),
        ("x.ts", "typescript"),
        ("x.tsx", "typescriptreact"),
        ("main.go", "go"),
        ("lib.rs", "rust"),
        ("A.java", "java"),
        ("a.h", "c"),
        ("a.hpp", "cpp"),
        ("a.cc", "cpp"),
        ("init.lua", "lua"),
        ("SHOUT.PY", "python"),
    ],
)
def test_language_for_extension(path: str, expected: str) -> None:
    info = language_for(path=path)
    assert info is not None
    assert info.id == expected


def test_a_known_id_wins_over_the_extension() -> None:
    info = language_for("typescript", "file:///a.py")
    assert info is not None
    assert info.id == "typescript"


def test_an_unknown_id_falls_back_to_the_extension() -> None:
    info = language_for("python3.12-custom", "file:///a.rs")
    assert info is not None
    assert info.id == "rust"


@pytest.mark.parametrize(
    ("language_id", "path"),
    [("plaintext", None), ("cobol", "file:///a.cbl"), (None, "README"), (None, None), ("", "")],
)
def test_unknown_language_is_plain_text(language_id: str | None, path: str | None) -> None:
    assert language_for(language_id, path) is None


def test_typescript_and_tsx_use_different_grammars() -> None:
    ts_info, tsx_info = language_for("typescript"), language_for("typescriptreact")
    assert ts_info is not None and tsx_info is not None
    # `<T>x` is a type assertion in TypeScript and a JSX element in TSX.
    source = b"let y = <T>x;\n"
    assert not parser_for(ts_info).parse(source).root_node.has_error
    assert parser_for(tsx_info).parse(source).root_node.has_error


def test_parser_is_cached_per_language_and_per_thread() -> None:
    python, go = language_for("python"), language_for("go")
    assert python is not None and go is not None
    assert parser_for(python) is parser_for(python)
    assert parser_for(python) is not parser_for(go)
    other: list[object] = []
    thread = threading.Thread(target=lambda: other.append(parser_for(python)))
    thread.start()
    thread.join()
    assert other[0] is not parser_for(python)


def test_python_stops_at_top_level_definitions() -> None:
    info = language_for("python")
    assert info is not None
    assert {"\nclass ", "\ndef ", "\nif __name__"} <= set(info.stop_sequences)
