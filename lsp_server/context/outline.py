"""What one source file defines and imports, read from its syntax tree by the language's
definition and import queries: the outlines cross-file context shows.

A long definition is shown by its head and its members' first lines, not its whole body, so an
outline stays small enough to put several in a prompt.
"""

from collections.abc import Mapping
from dataclasses import dataclass

import tree_sitter

from lsp_server.text.languages import LanguageInfo, language_for, language_query, parser_for

# An outline shows a long definition's head and its members' first lines, not its whole body.
_WHOLE_LINES = 15
_HEAD_LINES = 6
_MEMBER_LINES = 24
_EXCERPT_CHARS = 2_000

# How deep below the root the import and definition queries start a match: definitions sit
# deeper, in a header guard, a namespace and a template (parsed once per file, not per request).
_IMPORT_DEPTH = 3
_DEFINITION_DEPTH = 6
# Nodes a top-level definition may sit inside; anything else makes a definition nested.
_WRAPPERS = frozenset(
    {
        "decorated_definition",
        "export_statement",
        "lexical_declaration",
        "variable_declaration",
        "type_declaration",
        "const_declaration",
        "var_declaration",
        "var_spec_list",
        "template_declaration",
    }
)
# Nodes that hold top-level definitions without being part of any: header guards and other
# preprocessor conditionals, C++ namespaces and `extern "C"` blocks.
_SCOPES = frozenset(
    {
        "preproc_if",
        "preproc_ifdef",
        "preproc_else",
        "preproc_elif",
        "preproc_elifdef",
        "namespace_definition",
        "linkage_specification",
        "declaration_list",
    }
)
# Members whose first line an excerpt keeps, and the nodes that lead to them.
_MEMBERS = frozenset(
    {
        "function_definition",
        "method_definition",
        "method_signature",
        "abstract_method_signature",
        "property_signature",
        "public_field_definition",
        "field_declaration",
        "method_elem",
        "method_declaration",
        "constructor_declaration",
        "function_item",
        "function_signature_item",
        "enum_variant",
    }
)
_MEMBER_CONTAINERS = frozenset(
    {
        "block",
        "class_body",
        "interface_body",
        "object_type",
        "struct_type",
        "interface_type",
        "field_declaration_list",
        "enum_body",
        "enum_body_declarations",
        "declaration_list",
        "enum_variant_list",
    }
)


@dataclass(frozen=True)
class Definition:
    """One top-level definition: its name, kind, where it starts, and an excerpt of it."""

    name: str
    kind: str
    text: str
    line: int


@dataclass(frozen=True)
class ImportSpec:
    """One imported name as written: `module` is the source ("a.b", ".geo", "./x", "fmt").

    `name` is the imported symbol (None for a whole module), `alias` the local name when it
    differs, `wildcard` a star or dot import that brings in every name.
    """

    module: str
    name: str | None = None
    alias: str | None = None
    wildcard: bool = False


@dataclass(frozen=True)
class Outline:
    """What one file defines, by name, and what it imports."""

    definitions: Mapping[str, tuple[Definition, ...]]
    imports: tuple[ImportSpec, ...]

    @property
    def weight(self) -> int:
        """Roughly the characters it holds: what the outline cache counts."""
        return 64 + sum(len(d.text) + 64 for defs in self.definitions.values() for d in defs)


EMPTY_OUTLINE = Outline({}, ())


def read_outline(info: LanguageInfo, data: bytes, tree: tree_sitter.Tree | None = None) -> Outline:
    """The definitions and imports of a file's bytes, parsed unless its tree is given."""
    if tree is None:
        info, tree = _parse(info, data)
    definitions_query = language_query(info, "definitions")
    if definitions_query is None or language_query(info, "imports") is None:
        return EMPTY_OUTLINE
    root = tree.root_node
    return Outline(_read_definitions(info, definitions_query, root, data), read_imports(info, root))


def _parse(info: LanguageInfo, data: bytes) -> tuple[LanguageInfo, tree_sitter.Tree]:
    """A file's tree, and the language it was read as.

    `.h` is C's extension but C++ headers use it too, and the C grammar reads `class W {...}` as
    a function without an error. The C++ grammar reads C as well, so a C file is read as C++
    unless that fails.
    """
    cpp = language_for("cpp") if info.id == "c" else None
    if cpp is not None:
        tree = parser_for(cpp).parse(data)
        if not tree.root_node.has_error:
            return cpp, tree
    return info, parser_for(info).parse(data)


def read_imports(info: LanguageInfo, root: tree_sitter.Node) -> tuple[ImportSpec, ...]:
    """The imports under a syntax tree's root, in source order."""
    query = language_query(info, "imports")
    if query is None:
        return ()
    specs: list[ImportSpec] = []
    for _, captures in _shallow(query, _IMPORT_DEPTH).matches(root):
        module = _text(captures["module"][0]).strip("\"`'")
        name = _text(captures["name"][0]) if "name" in captures else None
        alias = _text(captures["alias"][0]) if "alias" in captures else None
        if "default" in captures:
            name = "default"
        specs.append(ImportSpec(module, name, alias, "wildcard" in captures))
    return tuple(specs)


def _shallow(query: tree_sitter.Query, depth: int) -> tree_sitter.QueryCursor:
    """A cursor that looks no deeper than imports or top-level definitions ever sit.

    For imports that is three levels (Go's `import (...)` specs, Python's imports under
    `try:`, an `#include` in a header guard); not descending into every body makes a long
    file's imports about twenty times quicker to read, which matters as they are read on every
    request.
    """
    cursor = tree_sitter.QueryCursor(query)
    cursor.set_max_start_depth(depth)
    return cursor


def _text(node: tree_sitter.Node) -> str:
    return (node.text or b"").decode("utf-8", "replace")


def _read_definitions(
    info: LanguageInfo, query: tree_sitter.Query, root: tree_sitter.Node, data: bytes
) -> dict[str, tuple[Definition, ...]]:
    found: dict[str, list[Definition]] = {}
    for _, captures in _shallow(query, _DEFINITION_DEPTH).matches(root):
        kind, nodes = next((k, v) for k, v in captures.items() if k.startswith("definition."))
        placed = _top_level(nodes[0])
        if placed is None:
            continue
        shown, keyword, is_default = placed
        # A preprocessor line's node ends after its line break.
        text = keyword + data[shown.start_byte : shown.end_byte].decode("utf-8", "replace").rstrip()
        excerpt = _excerpt(text, nodes[0], shown.start_point.row, info.line_comment)
        line = shown.start_point.row
        names = [_text(captures["name"][0])] + (["default"] if is_default else [])
        for name in names:
            found.setdefault(name, []).append(
                Definition(name, kind.split(".", 1)[1], excerpt, line)
            )
    return {name: tuple(defs) for name, defs in found.items()}


def _top_level(node: tree_sitter.Node) -> tuple[tree_sitter.Node, str, bool] | None:
    """The node to show for a definition at the top level, a keyword it needs, and whether it is
    a default export; None for a nested definition.

    A definition is shown with its wrappers (decorators, `export`, `const`) unless a wrapper
    declares several names at once, where only its own part and the keyword are shown. Scopes
    (a header guard, a namespace) may hold it, but not its wrappers' parts.
    """
    shown, keyword, grouped, is_default, scoped = node, "", False, False, False
    while node.parent is not None and node.parent.parent is not None:
        parent = node.parent
        if parent.type in _SCOPES:
            scoped = True
            node = parent
            continue
        if scoped or parent.type not in _WRAPPERS:
            return None
        is_default = is_default or any(c.type == "default" for c in parent.children)
        if not grouped and sum(c.type == node.type for c in parent.named_children) > 1:
            grouped = True
        if grouped:
            first = parent.children[0]
            if not keyword and first.type.isalpha():
                keyword = _text(first) + " "
        else:
            shown = parent
        node = parent
    return shown, keyword, is_default


def _excerpt(text: str, node: tree_sitter.Node, first_row: int, comment: str | None) -> str:
    """The whole definition when short; else its head, its members' first lines and its end."""
    lines = text.split("\n")
    if len(lines) <= _WHOLE_LINES:
        return text[:_EXCERPT_CHARS]
    keep = set(range(_HEAD_LINES))
    keep.update(row - first_row for row in _member_rows(node)[:_MEMBER_LINES])
    if lines[-1].strip() in ("}", "};", ")"):
        keep.add(len(lines) - 1)
    marker = f"{comment} ..." if comment else "..."
    out: list[str] = []
    previous = -1
    for i in [*sorted(k for k in keep if 0 <= k < len(lines)), len(lines)]:
        if i > previous + 1:
            gap = lines[previous + 1]
            out.append(gap[: len(gap) - len(gap.lstrip())] + marker)
        if i < len(lines):
            out.append(lines[i])
        previous = i
    return "\n".join(out)[:_EXCERPT_CHARS]


def _member_rows(node: tree_sitter.Node) -> list[int]:
    rows: list[int] = []
    for child in node.named_children:
        inner = child.child_by_field_name("definition")
        if child.type == "decorated_definition" and inner is not None:
            # Decorators belong with the signature they change (@property, @staticmethod).
            rows.extend(range(child.start_point.row, inner.start_point.row + 1))
        elif child.type in _MEMBERS:
            rows.append(child.start_point.row)
        elif child.type in _MEMBER_CONTAINERS:
            rows.extend(_member_rows(child))
    return rows
