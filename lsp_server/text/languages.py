"""Grammar loading and the per-language facts the other stages need.

Every grammar ships as a Python package installed with Tide; nothing is downloaded at run time.
A language Tide does not know is plain text: `language_for` returns None and callers carry on
without a syntax tree.
"""

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cache
from typing import Literal

import tree_sitter
import tree_sitter_c
import tree_sitter_cpp
import tree_sitter_go
import tree_sitter_java
import tree_sitter_javascript
import tree_sitter_lua
import tree_sitter_python
import tree_sitter_rust
import tree_sitter_typescript

from . import language_queries as queries


@dataclass(frozen=True)
class LanguageInfo:
    """What Tide knows about one language; node type names are the grammar's own."""

    id: str
    extensions: tuple[str, ...]
    line_comment: str | None
    block_openers: tuple[str, ...]
    string_types: tuple[str, ...]
    comment_types: tuple[str, ...]
    stop_sequences: tuple[str, ...] = ()
    # Tokens that open a body when they end a line; a node type here means its last token.
    opener_tokens: tuple[str, ...] = ()
    # Words that end a block the way a closing bracket does.
    closing_keywords: tuple[str, ...] = ()
    # The delimiters of a block comment, which unlike a line comment can end mid-line.
    block_comment: tuple[str, str] | None = None
    # Code nodes inside a string (f-string fields, template substitutions).
    interpolation_types: tuple[str, ...] = ()
    # Tree-sitter queries over a file's imports and its definitions; empty when Tide has none.
    # Import captures: @module (what is imported from), @name (the symbol), @alias (the local
    # name), @wildcard and @default (flags); Rust's `mod x;` is a @module alone, and `c::W` in
    # a `use a::{c::W}` list one @name. Definition captures: @name, and the definition node as
    # @definition.KIND; nested definitions match too and callers keep the top level.
    import_query: str = ""
    definition_query: str = ""


QueryKind = Literal["imports", "definitions"]

_JS_BLOCKS = ("statement_block", "class_body", "switch_body")
_JS_STRINGS = ("string", "template_string")
_JS_COMMENTS = ("comment", "html_comment")
_JS_STOPS = ("\nfunction ", "\nclass ", "\nexport ")
_TS_BLOCKS = (*_JS_BLOCKS, "interface_body", "enum_body")
_TS_STOPS = (*_JS_STOPS, "\ninterface ")
_C_BLOCKS = ("compound_statement", "field_declaration_list", "enumerator_list")
_C_STRINGS = ("string_literal", "char_literal", "concatenated_string", "system_lib_string")
_C_COMMENT = ("/*", "*/")
# C's next function starts with its return type, which no fixed string tells apart (`int main(`
# is one of thousands), so these stop only where a new top-level declaration starts at column 0
# with a word that starts nothing else there; a function's body is indented, so none cuts it.
_C_STOPS = ("\n#include", "\n#define ", "\nstruct ", "\nenum ", "\ntypedef ", "\nstatic ")
_BRACE = ("{",)
_JS_OPENERS = ("{", "=>")

_TYPESCRIPT = LanguageInfo(
    id="typescript",
    extensions=(".ts", ".mts", ".cts"),
    line_comment="//",
    block_openers=_TS_BLOCKS,
    string_types=_JS_STRINGS,
    comment_types=_JS_COMMENTS,
    stop_sequences=_TS_STOPS,
    import_query=queries.JS_IMPORTS,
    definition_query=queries.TS_DEFINITIONS,
    opener_tokens=_JS_OPENERS,
    block_comment=_C_COMMENT,
    interpolation_types=("template_substitution",),
)

_LANGUAGES = (
    LanguageInfo(
        id="python",
        extensions=(".py", ".pyi", ".pyw"),
        line_comment="#",
        block_openers=("block",),
        string_types=("string", "concatenated_string"),
        comment_types=("comment",),
        stop_sequences=("\nclass ", "\ndef ", "\nasync def ", "\nif __name__"),
        import_query=queries.PY_IMPORTS,
        definition_query=queries.PY_DEFINITIONS,
        opener_tokens=(":",),
        interpolation_types=("interpolation",),
    ),
    LanguageInfo(
        id="javascript",
        extensions=(".js", ".mjs", ".cjs", ".jsx"),
        line_comment="//",
        block_openers=_JS_BLOCKS,
        string_types=_JS_STRINGS,
        comment_types=_JS_COMMENTS,
        stop_sequences=_JS_STOPS,
        import_query=queries.JS_IMPORTS,
        definition_query=queries.JS_DEFINITIONS,
        opener_tokens=_JS_OPENERS,
        block_comment=_C_COMMENT,
        interpolation_types=("template_substitution",),
    ),
    _TYPESCRIPT,
    # TSX is TypeScript with JSX: the same grammar rules apply.
    replace(_TYPESCRIPT, id="typescriptreact", extensions=(".tsx",)),
    LanguageInfo(
        id="go",
        extensions=(".go",),
        line_comment="//",
        block_openers=("block", "field_declaration_list"),
        string_types=("interpreted_string_literal", "raw_string_literal", "rune_literal"),
        comment_types=("comment",),
        stop_sequences=("\nfunc ", "\ntype "),
        import_query=queries.GO_IMPORTS,
        definition_query=queries.GO_DEFINITIONS,
        opener_tokens=_BRACE,
        block_comment=_C_COMMENT,
    ),
    LanguageInfo(
        id="rust",
        extensions=(".rs",),
        line_comment="//",
        block_openers=(
            "block",
            "declaration_list",
            "field_declaration_list",
            "enum_variant_list",
            "match_block",
        ),
        string_types=("string_literal", "raw_string_literal", "char_literal"),
        comment_types=("line_comment", "block_comment"),
        stop_sequences=("\nfn ", "\npub fn ", "\nimpl "),
        import_query=queries.RUST_IMPORTS,
        definition_query=queries.RUST_DEFINITIONS,
        opener_tokens=_BRACE,
        block_comment=_C_COMMENT,
    ),
    LanguageInfo(
        id="java",
        extensions=(".java",),
        line_comment="//",
        block_openers=(
            "block",
            "class_body",
            "interface_body",
            "enum_body",
            "constructor_body",
            "switch_block",
            "annotation_type_body",
        ),
        string_types=("string_literal", "character_literal"),
        comment_types=("line_comment", "block_comment"),
        # Members are indented, so `public` or a type keyword at column 0 starts the next type.
        stop_sequences=(
            "\npublic ",
            "\nclass ",
            "\ninterface ",
            "\nenum ",
            "\nrecord ",
            "\nabstract class ",
            "\nfinal class ",
        ),
        import_query=queries.JAVA_IMPORTS,
        definition_query=queries.JAVA_DEFINITIONS,
        opener_tokens=_BRACE,
        block_comment=_C_COMMENT,
    ),
    LanguageInfo(
        id="c",
        extensions=(".c", ".h"),
        line_comment="//",
        block_openers=_C_BLOCKS,
        string_types=_C_STRINGS,
        comment_types=("comment",),
        stop_sequences=_C_STOPS,
        import_query=queries.C_IMPORTS,
        definition_query=queries.C_DEFINITIONS,
        opener_tokens=_BRACE,
        block_comment=_C_COMMENT,
    ),
    LanguageInfo(
        id="cpp",
        extensions=(".cc", ".cpp", ".cxx", ".c++", ".hh", ".hpp", ".hxx", ".h++", ".ipp"),
        line_comment="//",
        block_openers=(*_C_BLOCKS, "declaration_list"),
        string_types=(*_C_STRINGS, "raw_string_literal"),
        comment_types=("comment",),
        stop_sequences=(*_C_STOPS, "\nnamespace ", "\nclass ", "\ntemplate"),
        import_query=queries.C_IMPORTS,
        definition_query=queries.CPP_DEFINITIONS,
        opener_tokens=_BRACE,
        block_comment=_C_COMMENT,
    ),
    LanguageInfo(
        id="lua",
        extensions=(".lua",),
        line_comment="--",
        block_openers=("block",),
        string_types=("string",),
        comment_types=("comment",),
        stop_sequences=("\nfunction ", "\nlocal function "),
        import_query=queries.LUA_IMPORTS,
        definition_query=queries.LUA_DEFINITIONS,
        opener_tokens=("then", "do", "else", "repeat", "parameters"),
        closing_keywords=("end", "until"),
        block_comment=("--[[", "]]"),
    ),
)

_GRAMMARS: dict[str, Callable[[], object]] = {
    "python": tree_sitter_python.language,
    "javascript": tree_sitter_javascript.language,
    "typescript": tree_sitter_typescript.language_typescript,
    "typescriptreact": tree_sitter_typescript.language_tsx,
    "go": tree_sitter_go.language,
    "rust": tree_sitter_rust.language,
    "java": tree_sitter_java.language,
    "c": tree_sitter_c.language,
    "cpp": tree_sitter_cpp.language,
    "lua": tree_sitter_lua.language,
}

# Other names clients use for the same languages; the JavaScript grammar parses JSX too.
_ALIASES = {
    "py": "python",
    "python3": "python",
    "javascriptreact": "javascript",
    "js": "javascript",
    "jsx": "javascript",
    "ts": "typescript",
    "tsx": "typescriptreact",
    "golang": "go",
    "rs": "rust",
    "c++": "cpp",
}

_BY_ID = {info.id: info for info in _LANGUAGES}
_BY_EXTENSION = {ext: info for info in _LANGUAGES for ext in info.extensions}


class _ThreadParsers(threading.local):
    """A Parser must not be used from two threads at once, so each thread gets its own."""

    def __init__(self) -> None:
        self.by_id: dict[str, tree_sitter.Parser] = {}


_thread_parsers = _ThreadParsers()


def supported_languages() -> list[LanguageInfo]:
    """Every language Tide parses, in a stable order."""
    return list(_LANGUAGES)


def language_for(language_id: str | None = None, path: str | None = None) -> LanguageInfo | None:
    """The language for an LSP languageId, else for the file extension of path (or URI).

    A known languageId wins; an unknown one falls back to the extension. None means plain text.
    """
    if language_id:
        key = language_id.lower()
        info = _BY_ID.get(_ALIASES.get(key, key))
        if info is not None:
            return info
    if path:
        return _BY_EXTENSION.get(os.path.splitext(path)[1].lower())
    return None


def parser_for(info: LanguageInfo) -> tree_sitter.Parser:
    """A parser for the language, cached per language and per thread."""
    parsers = _thread_parsers.by_id
    parser = parsers.get(info.id)
    if parser is None:
        parser = parsers[info.id] = tree_sitter.Parser(_grammar(info.id))
    return parser


@cache
def _grammar(language_id: str) -> tree_sitter.Language:
    return tree_sitter.Language(_GRAMMARS[language_id]())


def language_query(info: LanguageInfo, kind: QueryKind) -> tree_sitter.Query | None:
    """The language's compiled import or definition query; None where Tide has none."""
    source = info.import_query if kind == "imports" else info.definition_query
    return _query(info.id, source) if source else None


@cache
def _query(language_id: str, source: str) -> tree_sitter.Query:
    return tree_sitter.Query(_grammar(language_id), source)
