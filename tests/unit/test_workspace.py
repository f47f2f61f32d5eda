"""Tests for lsp_server.context.workspace: the bounded, incremental walk and file outlines."""

import os

import pytest

from lsp_server.context.outline import ImportSpec, read_outline
from lsp_server.context.workspace import WorkspaceIndex
from lsp_server.text.languages import language_for, language_query, supported_languages

from .trees import write


def index_all(index: WorkspaceIndex) -> None:
    for _ in range(100_000):
        if index.index_some(0.05):
            return
    raise AssertionError("indexing never finished")


def _all_files(index: WorkspaceIndex) -> list[str]:
    found: list[str] = []
    pending = [""]
    while pending:
        directory = pending.pop()
        found += index.files_in(directory)
        full = index.root / directory
        pending += [
            f"{directory}/{entry.name}".lstrip("/") for entry in os.scandir(full) if entry.is_dir()
        ]
    return found


# --- the walk ---------------------------------------------------------------------------------


def test_walk_admits_only_source_files_that_are_not_ignored(tmp_path):
    write(
        tmp_path,
        {
            ".gitignore": "*.gen.py\n!keep.gen.py\nignored/\n",
            "app/main.py": "def main(): pass\n",
            "app/keep.gen.py": "x = 1\n",
            "app/drop.gen.py": "x = 1\n",
            "app/notes.txt": "not code\n",
            "app/lib.rs": "fn f() {}\n",
            "web/app.ts": "export function f() {}\n",
            "web/.gitignore": "/local.ts\n",
            "web/local.ts": "export const x = 1\n",
            "web/sub/local.ts": "export const x = 1\n",
            "ignored/a.py": "a = 1\n",
            "node_modules/pkg/index.js": "module.exports = 1\n",
            ".git/hooks/x.py": "x = 1\n",
            "build/out.py": "x = 1\n",
            "env1/pyvenv.cfg": "home = /usr\n",
            "env1/lib/site.py": "x = 1\n",
            "go/main.go": "package main\nfunc main() {}\n",
        },
    )
    index = WorkspaceIndex(tmp_path)
    index_all(index)
    assert set(_all_files(index)) == {
        "app/main.py",
        "app/keep.gen.py",
        "app/lib.rs",
        "web/app.ts",
        "web/sub/local.ts",
        "go/main.go",
    }
    assert index.done


def test_git_info_exclude_is_honoured(tmp_path):
    write(tmp_path, {".git/info/exclude": "secret.py\n", "secret.py": "", "open.py": ""})
    index = WorkspaceIndex(tmp_path)
    index_all(index)
    assert _all_files(index) == ["open.py"]


def test_symlinked_folders_are_not_followed(tmp_path):
    write(tmp_path, {"real/a.py": "a = 1\n"})
    (tmp_path / "loop").symlink_to(tmp_path, target_is_directory=True)
    index = WorkspaceIndex(tmp_path)
    index_all(index)
    assert index.file_count() == 1


def test_huge_files_are_skipped_and_binary_ones_have_no_definitions(tmp_path):
    write(
        tmp_path,
        {
            "big.py": "x = 1\n" * 1000,
            "blob.py": b"\x00\x01def f(): pass\n",
            "small.py": "def f(): pass\n",
        },
    )
    index = WorkspaceIndex(tmp_path, max_file_bytes=1000)
    index_all(index)
    assert set(_all_files(index)) == {"blob.py", "small.py"}
    assert index.outline("blob.py").definitions == {}
    assert "f" in index.outline("small.py").definitions
    assert index.outline("big.py").definitions == {}


def test_total_bytes_cap_stops_admitting(tmp_path):
    write(tmp_path, {f"m{i}.py": "x = 1\n" * 10 for i in range(20)})
    index = WorkspaceIndex(tmp_path, max_total_bytes=300)
    index_all(index)
    assert index.file_count() == 5


def test_index_some_is_incremental(tmp_path):
    write(tmp_path, {f"d{i}/m{j}.py": f"def f{j}(): pass\n" for i in range(5) for j in range(5)})
    index = WorkspaceIndex(tmp_path)
    assert index.index_some(0) is False
    assert not index.done
    slices = 1
    while not index.index_some(0.0005):
        slices += 1
    assert slices > 1
    assert index.file_count() == 25
    assert index.index_some(0.01) is True


def test_ten_thousand_files_stay_bounded_and_each_slice_is_short(tmp_path):
    for d in range(100):
        folder = tmp_path / f"pkg{d}"
        folder.mkdir()
        for f in range(100):
            (folder / f"mod{f}.py").write_text(f"def f{f}(x):\n    return x + {f}\n")
    budget = 0.02
    index = WorkspaceIndex(tmp_path, max_outline_chars=200_000)
    slices = 0
    done = False
    while not done:
        done = index.index_some(budget)
        slices += 1
        assert slices < 10_000
    assert index.file_count() == 5000
    assert index.cached_chars <= 200_000
    # The work was spread over many short slices instead of one call that blocks; how short
    # each one is belongs to benchmarks, not to a test on a shared machine.
    assert slices > 10


# --- outlines ---------------------------------------------------------------------------------


def test_buffer_text_wins_until_the_file_changes_on_disk(tmp_path):
    write(tmp_path, {"a.py": "def old(): pass\n"})
    index = WorkspaceIndex(tmp_path)
    index_all(index)
    index.update(tmp_path / "a.py", "def new(): pass\n")
    assert set(index.outline("a.py").definitions) == {"new"}
    path = tmp_path / "a.py"
    path.write_text("def saved(): pass\n")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert set(index.outline("a.py").definitions) == {"saved"}


def test_update_admits_a_new_file_and_ignores_paths_outside(tmp_path):
    index = WorkspaceIndex(tmp_path / "ws")
    (tmp_path / "ws").mkdir()
    index_all(index)
    index.update("new.py", "def made(): pass\n")
    assert index.contains("new.py")
    assert "made" in index.outline("new.py").definitions
    index.update(tmp_path / "elsewhere.py", "def f(): pass\n")
    assert index.relative(tmp_path / "elsewhere.py") is None
    assert index.file_count() == 1


def test_outline_before_the_walk_reaches_a_file(tmp_path):
    write(tmp_path, {"deep/er/mod.py": "def f(): pass\n"})
    index = WorkspaceIndex(tmp_path)
    assert index.contains("deep/er/mod.py")
    assert index.files_in("deep/er") == ["deep/er/mod.py"]
    assert "f" in index.outline("deep/er/mod.py").definitions
    assert index.outline("deep/er/missing.py").definitions == {}


def outline(language: str, source: str):
    info = language_for(language)
    assert info is not None
    return read_outline(info, source.encode())


def test_python_outline_keeps_top_level_definitions_with_decorators():
    found = outline(
        "python",
        "import os\nfrom .x import y as z\nPI = 3.14\n\n@cache\ndef f(a):\n    def inner(): pass\n"
        "    return a\n\nclass C:\n    def m(self): pass\n",
    )
    assert set(found.definitions) == {"PI", "f", "C"}
    assert found.definitions["f"][0].text.startswith("@cache\ndef f(a):")
    assert found.definitions["f"][0].line == 4
    assert found.definitions["C"][0].kind == "class"
    assert found.imports == (ImportSpec("os"), ImportSpec(".x", "y", "z"))


def test_long_definitions_keep_their_head_and_member_signatures():
    body = "\n".join(f"        x{i} = {i}" for i in range(12))
    source = f"class Big:\n    def first(self):\n{body}\n\n"
    source += f"    @property\n    def second(self):\n{body}\n"
    text = outline("python", source).definitions["Big"][0].text
    assert text.splitlines()[:3] == ["class Big:", "    def first(self):", "        x0 = 0"]
    assert "    @property\n    def second(self):" in text
    assert "        # ..." in text
    assert "x11" not in text


def test_typescript_outline():
    found = outline(
        "typescript",
        "import {a, b as c} from './x';\nimport d from '../y';\nimport * as ns from './z';\n"
        "export default class C {}\nexport const K = 1, J = 2;\ninterface I { a: number }\n"
        "type T = string;\nenum E { A }\nfunction f() { const inner = 1; }\n",
    )
    assert set(found.definitions) == {"C", "default", "K", "J", "I", "T", "E", "f"}
    assert found.definitions["K"][0].text == "const K = 1"
    assert found.definitions["C"][0].text == "export default class C {}"
    assert found.imports == (
        ImportSpec("./x", "a"),
        ImportSpec("./x", "b", "c"),
        ImportSpec("../y", "default", "d"),
        ImportSpec("./z", None, "ns"),
    )


def test_javascript_require_is_an_import():
    found = outline("javascript", "const {a, b: c} = require('./x');\nconst m = require('./m');\n")
    assert set(found.imports) == {
        ImportSpec("./x", "a"),
        ImportSpec("./x", "b", "c"),
        ImportSpec("./m", None, "m"),
    }


def test_go_outline():
    found = outline(
        "go",
        'package p\nimport (\n "fmt"\n g "example.com/m/geo"\n . "example.com/m/all"\n _ "x"\n)\n'
        "const (\n A = 1\n B = 2\n)\nvar V = 3\ntype S struct {\n X int\n}\n"
        "func (s *S) M() int { return s.X }\nfunc F() {}\n",
    )
    assert set(found.definitions) == {"A", "B", "V", "S", "M", "F"}
    assert found.definitions["A"][0].text == "const A = 1"
    assert found.definitions["V"][0].text == "var V = 3"
    assert found.definitions["S"][0].text == "type S struct {\n X int\n}"
    assert found.imports == (
        ImportSpec("fmt"),
        ImportSpec("example.com/m/geo", None, "g"),
        ImportSpec("example.com/m/all", None, None, wildcard=True),
    )


@pytest.mark.parametrize("info", supported_languages(), ids=lambda info: info.id)
def test_every_language_has_import_and_definition_queries(info):
    assert language_query(info, "imports") is not None
    assert language_query(info, "definitions") is not None
    assert outline(info.id, "x").definitions == {}


def test_rust_outline():
    found = outline(
        "rust",
        "use crate::a::b::Name;\nuse crate::a::{X, c::W as V, self};\nuse super::*;\n"
        "use std::io;\npub mod geo;\nmod inline {\n    use super::*;\n    fn hidden() {}\n}\n"
        "#[derive(Debug)]\npub struct Point {\n    x: f64,\n}\nimpl Point {\n"
        "    pub fn new() -> Self { Point { x: 0.0 } }\n}\npub enum E { A }\n"
        "pub trait Area { fn area(&self) -> f64; }\ntype Meters = f64;\n"
        "pub const TAU: f64 = 6.28;\nstatic COUNT: u32 = 0;\npub fn top() {}\n"
        "macro_rules! twice { ($x:expr) => { $x * 2 } }\n",
    )
    assert set(found.definitions) == {
        "Point",
        "E",
        "Area",
        "Meters",
        "TAU",
        "COUNT",
        "top",
        "twice",
    }
    assert [d.kind for d in found.definitions["Point"]] == ["struct", "impl"]
    assert found.definitions["Point"][1].text.startswith("impl Point {\n    pub fn new()")
    assert found.definitions["TAU"][0].text == "pub const TAU: f64 = 6.28;"
    assert found.imports == (
        ImportSpec("crate::a::b", "Name"),
        ImportSpec("crate::a", "X"),
        ImportSpec("crate::a", "c::W", "V"),
        ImportSpec("crate::a", "self"),
        ImportSpec("super", None, None, wildcard=True),
        ImportSpec("std", "io"),
        ImportSpec("geo"),
    )


def test_java_outline_keeps_top_level_types_and_their_members():
    methods = "".join(f"    public int m{i}() {{\n        return {i};\n    }}\n" for i in range(8))
    found = outline(
        "java",
        "package com.acme.geo;\nimport com.acme.shapes.Circle;\nimport com.acme.util.*;\n"
        "import static com.acme.Maths.max;\n@Deprecated\npublic class Shape {\n"
        f"    static final int SIDES = 4;\n{methods}    class Inner {{}}\n}}\n"
        "interface Area { double area(); }\nenum Color { RED }\nrecord Pair(int a, int b) {}\n",
    )
    assert set(found.definitions) == {"Shape", "Area", "Color", "Pair"}
    shape = found.definitions["Shape"][0].text
    assert shape.startswith("@Deprecated\npublic class Shape {")
    assert "    public int m7() {" in shape
    assert "return 7" not in shape
    assert found.imports == (
        ImportSpec("com.acme.shapes", "Circle"),
        ImportSpec("com.acme.util", None, None, wildcard=True),
        ImportSpec("com.acme.Maths", "max"),
    )


def test_c_outline_reads_through_a_header_guard():
    found = outline(
        "c",
        '#ifndef SHAPE_H\n#define SHAPE_H\n#include "geo/point.h"\n#include <stdio.h>\n'
        "#define PI 3.14\n#define SQ(x) ((x) * (x))\ntypedef struct point { int x; } Point;\n"
        "struct shape;\nstruct shape { int sides; };\nenum color { RED, GREEN };\n"
        "int area(int r);\nchar *name(void);\nextern int count, *counts;\n"
        "static int add(int a) { int local = a; return local; }\n#endif\n",
    )
    assert set(found.definitions) == {
        "PI",
        "SQ",
        "point",
        "Point",
        "shape",
        "color",
        "RED",
        "GREEN",
        "area",
        "name",
        "count",
        "counts",
        "add",
    }
    assert found.definitions["PI"][0].text == "#define PI 3.14"
    assert found.definitions["area"][0].text == "int area(int r);"
    assert found.definitions["shape"][0].text == "struct shape { int sides; }"
    assert found.imports == (ImportSpec("geo/point.h", wildcard=True),)


def test_cpp_outline_reads_namespaces_and_templates():
    found = outline(
        "cpp",
        '#pragma once\n#include "shape.hpp"\nnamespace geo {\nclass Circle : public Shape {\n'
        "public:\n    double area() const;\n};\ntemplate <typename T>\nT twice(T x) { return x; }\n"
        "using Real = double;\nint &counter();\ndouble Circle::area() const { return 0; }\n}\n"
        'extern "C" {\nint c_api(void);\n}\n',
    )
    assert set(found.definitions) == {"Circle", "twice", "Real", "counter", "c_api"}
    assert found.definitions["twice"][0].text.startswith("template <typename T>\nT twice(")
    assert found.imports == (ImportSpec("shape.hpp", wildcard=True),)


def test_a_c_file_is_read_as_cpp_unless_only_c_reads_it():
    header = "#pragma once\n\nclass Widget {\npublic:\n    void draw();\n};\n"
    assert set(outline("c", header).definitions) == {"Widget"}
    knr = "int template = 1;\n\nint twice(a)\nint a;\n{ return 2 * a; }\n"
    assert set(outline("c", knr).definitions) == {"template", "twice"}


def test_lua_outline_names_module_functions_by_their_field():
    found = outline(
        "lua",
        'local util = require("app.util")\nlocal log = require "log"\nlocal M = {}\n'
        "local LIMIT = 10\nfunction M.area(r) return r * r end\nfunction M:draw() end\n"
        "M.scale = function(x) return x end\nlocal function helper() local inner = 1 end\n"
        "function global() end\nreturn M\n",
    )
    assert set(found.definitions) == {
        "util",
        "log",
        "M",
        "LIMIT",
        "area",
        "draw",
        "scale",
        "helper",
        "global",
    }
    assert found.definitions["area"][0].text == "function M.area(r) return r * r end"
    assert found.definitions["scale"][0].text == "M.scale = function(x) return x end"
    assert found.imports == (
        ImportSpec("app.util", None, "util"),
        ImportSpec("log", None, "log"),
    )
