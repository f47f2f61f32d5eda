"""Tree-sitter query sources for each language's imports and definitions.

The capture conventions are described on `LanguageInfo.import_query` in languages.py.
"""

PY_IMPORTS = """
(import_statement name: (dotted_name) @module)
(import_statement name: (aliased_import name: (dotted_name) @module alias: (identifier) @alias))
(import_from_statement module_name: (_) @module name: (dotted_name) @name)
(import_from_statement
  module_name: (_) @module
  name: (aliased_import name: (dotted_name) @name alias: (identifier) @alias))
(import_from_statement module_name: (_) @module (wildcard_import) @wildcard)
"""
PY_DEFINITIONS = """
(function_definition name: (identifier) @name) @definition.function
(class_definition name: (identifier) @name) @definition.class
(expression_statement (assignment left: (identifier) @name)) @definition.variable
"""
JS_IMPORTS = """
(import_statement
  (import_clause
    (named_imports (import_specifier name: (identifier) @name alias: (identifier)? @alias)))
  source: (string (string_fragment) @module))
(import_statement
  (import_clause (identifier) @alias @default)
  source: (string (string_fragment) @module))
(import_statement
  (import_clause (namespace_import (identifier) @alias))
  source: (string (string_fragment) @module))
(variable_declarator
  name: (identifier) @alias
  value: (call_expression
    function: (identifier) @_require
    arguments: (arguments . (string (string_fragment) @module)))
  (#eq? @_require "require"))
(variable_declarator
  name: (object_pattern
    [(shorthand_property_identifier_pattern) @name
     (pair_pattern key: (property_identifier) @name value: (identifier) @alias)])
  value: (call_expression
    function: (identifier) @_require
    arguments: (arguments . (string (string_fragment) @module)))
  (#eq? @_require "require"))
"""
JS_DEFINITIONS = """
(function_declaration name: (identifier) @name) @definition.function
(generator_function_declaration name: (identifier) @name) @definition.function
(class_declaration name: (_) @name) @definition.class
(lexical_declaration (variable_declarator name: (identifier) @name) @definition.variable)
(variable_declaration (variable_declarator name: (identifier) @name) @definition.variable)
"""
TS_DEFINITIONS = f"""{JS_DEFINITIONS}
(function_signature name: (identifier) @name) @definition.function
(abstract_class_declaration name: (type_identifier) @name) @definition.class
(interface_declaration name: (type_identifier) @name) @definition.interface
(type_alias_declaration name: (type_identifier) @name) @definition.type
(enum_declaration name: (identifier) @name) @definition.enum
"""
GO_IMPORTS = """
(import_spec name: (package_identifier) @alias path: (_) @module)
(import_spec name: (dot) @wildcard path: (_) @module)
(import_spec !name path: (_) @module)
"""
GO_DEFINITIONS = """
(function_declaration name: (identifier) @name) @definition.function
(method_declaration name: (field_identifier) @name) @definition.method
(type_declaration (type_spec name: (type_identifier) @name) @definition.type)
(type_declaration (type_alias name: (type_identifier) @name) @definition.type)
(const_declaration (const_spec name: (identifier) @name) @definition.const)
(var_declaration (var_spec name: (identifier) @name) @definition.variable)
(var_declaration (var_spec_list (var_spec name: (identifier) @name) @definition.variable))
"""
_RUST_USES = (
    "(use_declaration argument: (scoped_identifier path: (_) @module name: (identifier) @name))",
    """(use_declaration
      argument: (use_as_clause
        path: (scoped_identifier path: (_) @module name: (identifier) @name)
        alias: (identifier) @alias))""",
    """(use_declaration
      argument: (scoped_use_list
        path: (_) @module
        list: (use_list [(identifier) (scoped_identifier) (self)] @name)))""",
    """(use_declaration
      argument: (scoped_use_list
        path: (_) @module
        list: (use_list (use_as_clause path: (_) @name alias: (identifier) @alias))))""",
    "(use_declaration argument: (use_wildcard (_) @module) @wildcard)",
    "(mod_item name: (identifier) @module !body)",
)
# Only a file's own `use` and `mod` lines: a `use super::*` in an inline `mod tests` names the
# file itself, not its parent module. A file being edited may parse as an ERROR at its root.
RUST_IMPORTS = "\n".join(
    f"({root} {use})" for root in ("source_file", "ERROR") for use in _RUST_USES
)
RUST_DEFINITIONS = """
(function_item name: (identifier) @name) @definition.function
(struct_item name: (type_identifier) @name) @definition.struct
(union_item name: (type_identifier) @name) @definition.union
(enum_item name: (type_identifier) @name) @definition.enum
(trait_item name: (type_identifier) @name) @definition.trait
(type_item name: (type_identifier) @name) @definition.type
(const_item name: (identifier) @name) @definition.const
(static_item name: (identifier) @name) @definition.static
(macro_definition name: (identifier) @name) @definition.macro
(impl_item
  type: [(type_identifier) @name (generic_type type: (type_identifier) @name)]) @definition.impl
"""
JAVA_IMPORTS = """
(import_declaration (scoped_identifier scope: (_) @module name: (identifier) @name) .)
(import_declaration (scoped_identifier) @module (asterisk) @wildcard)
"""
JAVA_DEFINITIONS = """
(class_declaration name: (identifier) @name) @definition.class
(interface_declaration name: (identifier) @name) @definition.interface
(enum_declaration name: (identifier) @name) @definition.enum
(record_declaration name: (identifier) @name) @definition.record
(annotation_type_declaration name: (identifier) @name) @definition.annotation
"""
# Quoted includes only: `<...>` names a system header, never a workspace file.
C_IMPORTS = """
(preproc_include path: (string_literal (string_content) @module)) @wildcard
"""
_C_NAMED_FUNCTION = "(function_declarator declarator: (identifier) @name)"
# A function's name below what it returns: `f(...)`, `*f(...)` and, in C++, `&f(...)`.
_C_FUNCTION = f"[{_C_NAMED_FUNCTION} (pointer_declarator declarator: {_C_NAMED_FUNCTION})]"
_CPP_FUNCTION = (
    f"[{_C_NAMED_FUNCTION} (pointer_declarator declarator: {_C_NAMED_FUNCTION})"
    f" (reference_declarator {_C_NAMED_FUNCTION})]"
)
# Alternatives to put in brackets (tree-sitter does not match brackets nested in brackets).
_C_VARIABLE = """(identifier) @name
  (pointer_declarator declarator: (identifier) @name)
  (array_declarator declarator: (identifier) @name)"""
# A struct, union or enum counts only with its body: `struct s;` alone says nothing. An enum's
# constants lead to the enum; a header guard's `#define X_H` has no value and is no definition.
_C_TYPES = f"""
(declaration declarator: [{_C_VARIABLE} (init_declarator declarator: [{_C_VARIABLE}])])
  @definition.variable
(type_definition declarator: (type_identifier) @name) @definition.type
(type_definition type: (_ name: (type_identifier) @name body: (_))) @definition.type
(type_definition
  type: (enum_specifier body: (enumerator_list (enumerator name: (identifier) @name))))
  @definition.enum
(struct_specifier name: (type_identifier) @name body: (_)) @definition.struct
(union_specifier name: (type_identifier) @name body: (_)) @definition.union
(enum_specifier name: (type_identifier) @name body: (_)) @definition.enum
(enum_specifier body: (enumerator_list (enumerator name: (identifier) @name))) @definition.enum
(preproc_def name: (identifier) @name value: (_)) @definition.macro
(preproc_function_def name: (identifier) @name) @definition.macro
"""
C_DEFINITIONS = f"""
(function_definition declarator: {_C_FUNCTION}) @definition.function
(declaration declarator: {_C_FUNCTION}) @definition.function
{_C_TYPES}"""
CPP_DEFINITIONS = f"""
(function_definition declarator: {_CPP_FUNCTION}) @definition.function
(declaration declarator: {_CPP_FUNCTION}) @definition.function
{_C_TYPES}
(class_specifier name: (type_identifier) @name body: (_)) @definition.class
(alias_declaration name: (type_identifier) @name) @definition.type
"""
LUA_IMPORTS = """
(assignment_statement
  (variable_list . name: (identifier) @alias)
  (expression_list
    . value: (function_call
      name: (identifier) @_require
      arguments: (arguments . (string content: (string_content) @module))))
  (#eq? @_require "require"))
"""
# A module's functions are named by their field: `function M.area` and `M.area = function`
# define `area`, which is what `m.area` finds through `local m = require(...)`.
LUA_DEFINITIONS = """
(function_declaration
  name: [(identifier) @name
         (dot_index_expression field: (identifier) @name)
         (method_index_expression method: (identifier) @name)]) @definition.function
(assignment_statement
  (variable_list name: (dot_index_expression field: (identifier) @name))
  (expression_list value: (function_definition))) @definition.function
(variable_declaration (assignment_statement (variable_list name: (identifier) @name)))
  @definition.variable
"""
