"""Tests for lsp_server.context.crossfile: imports resolved to files, definitions found."""

from pathlib import Path

import pytest

from lsp_server.context.crossfile import CrossFile, usages_near
from lsp_server.context.workspace import WorkspaceIndex

GEOMETRY = '''import math

PI = math.pi


def area(radius: float) -> float:
    """Area of a circle."""
    return PI * radius * radius


class Shape:
    def perimeter(self) -> float:
        return 0.0
'''


def write(root: Path, files: dict[str, str]) -> None:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)


def lookup(root: Path, path: str, text: str, cursor: int | None = None, **kw):
    """Snippets for the cursor at the end of text (or at `cursor`), as the file `path`."""
    write(root, {path: text})
    crossfile = CrossFile(WorkspaceIndex(root))
    return crossfile.snippets(path, text, len(text) if cursor is None else cursor, **kw)


def heads(snippets) -> list[tuple[str, str]]:
    return [(s.path, s.text.splitlines()[0]) for s in snippets]


# --- Python -----------------------------------------------------------------------------------


@pytest.fixture
def python_project(tmp_path: Path) -> Path:
    write(
        tmp_path,
        {
            "pkg/__init__.py": "from .geometry import area\n",
            "pkg/geometry.py": GEOMETRY,
            "pkg/util/__init__.py": "",
            "pkg/util/helpers.py": "def helper(x):\n    return x\n\n\ndef other(): pass\n",
            "pkg/util/star.py": "def starred(): pass\n",
        },
    )
    return tmp_path


def test_from_relative_import(python_project):
    text = "from .geometry import area\n\n\ndef report(r):\n    return area("
    found = lookup(python_project, "pkg/main.py", text)
    assert heads(found) == [("pkg/geometry.py", "def area(radius: float) -> float:")]
    assert found[0].kind == "definition"
    assert found[0].line == 5
    assert "return PI * radius * radius" in found[0].text


def test_parent_relative_import_and_alias(python_project):
    text = "from ..geometry import Shape as S\n\ns = S()\n"
    assert heads(lookup(python_project, "pkg/util/use.py", text)) == [
        ("pkg/geometry.py", "class Shape:")
    ]


def test_from_dot_import_module(python_project):
    text = "from . import geometry\n\nx = geometry.area(2)\n"
    assert heads(lookup(python_project, "pkg/main.py", text)) == [
        ("pkg/geometry.py", "def area(radius: float) -> float:")
    ]


def test_absolute_import_of_a_dotted_module(python_project):
    text = "import pkg.util.helpers\n\npkg.util.helpers.helper(1)\n"
    assert heads(lookup(python_project, "scripts/run.py", text)) == [
        ("pkg/util/helpers.py", "def helper(x):")
    ]


def test_import_as_alias(python_project):
    text = "import pkg.geometry as geo\n\ngeo.PI\n"
    assert heads(lookup(python_project, "run.py", text)) == [("pkg/geometry.py", "PI = math.pi")]


def test_from_package_import_submodule(python_project):
    text = "from pkg.util import helpers\n\nhelpers.other()\n"
    assert heads(lookup(python_project, "run.py", text)) == [
        ("pkg/util/helpers.py", "def other(): pass")
    ]


def test_reexport_through_package_init(python_project):
    text = "from pkg import area\n\narea(1)\n"
    assert heads(lookup(python_project, "run.py", text)) == [
        ("pkg/geometry.py", "def area(radius: float) -> float:")
    ]


def test_wildcard_import(python_project):
    text = "from pkg.util.star import *\n\nstarred()\n"
    assert heads(lookup(python_project, "run.py", text)) == [
        ("pkg/util/star.py", "def starred(): pass")
    ]


def test_a_partly_typed_name_brings_what_it_may_complete_to(python_project):
    starred = lookup(python_project, "run.py", "from pkg.util.star import *\n\nx = sta")
    assert heads(starred) == [("pkg/util/star.py", "def starred(): pass")]
    module = lookup(python_project, "run.py", "from pkg.util import helpers\n\nhelpers.he")
    assert ("pkg/util/helpers.py", "def helper(x):") in heads(module)
    assert ("pkg/util/helpers.py", "def other(): pass") not in heads(module)
    symbol = lookup(python_project, "run.py", "from pkg.geometry import area\n\nx = ar")
    assert heads(symbol)[0] == ("pkg/geometry.py", "def area(radius: float) -> float:")


def test_src_layout(tmp_path):
    write(tmp_path, {"src/app/__init__.py": "", "src/app/core.py": "def run(): pass\n"})
    text = "from app.core import run\nrun()\n"
    assert heads(lookup(tmp_path, "tests/test_core.py", text)) == [
        ("src/app/core.py", "def run(): pass")
    ]


def test_names_not_used_near_the_cursor_are_not_looked_up(python_project):
    filler = "x = 1\n" * 60
    text = f"from .geometry import area, Shape\narea(1)\n{filler}s = Shape()\n"
    assert heads(lookup(python_project, "pkg/main.py", text)) == [
        ("pkg/geometry.py", "class Shape:")
    ]


def test_nearer_use_ranks_first(python_project):
    text = "from .geometry import area, Shape\n\nShape()\nx = 1\nx = 2\narea(1)\n"
    found = lookup(python_project, "pkg/main.py", text)
    assert [s.text.splitlines()[0] for s in found] == [
        "def area(radius: float) -> float:",
        "class Shape:",
    ]
    assert found[0].score > found[1].score


def test_unresolved_and_nested_names_give_nothing(python_project):
    text = "import os\nfrom .geometry import perimeter\nos.path.join()\nperimeter()\n"
    assert lookup(python_project, "pkg/main.py", text) == []


def test_limit(python_project):
    text = "from .geometry import area, Shape, PI\narea(PI)\nShape()\n"
    assert len(lookup(python_project, "pkg/main.py", text, limit=2)) == 2


# --- TypeScript and JavaScript ----------------------------------------------------------------


@pytest.fixture
def ts_project(tmp_path: Path) -> Path:
    write(
        tmp_path,
        {
            "src/geometry.ts": "export function area(r: number): number {\n  return r * r;\n}\n"
            "export interface Point {\n  x: number;\n  y: number;\n}\n",
            "src/shapes/index.ts": "export class Circle {\n  constructor(public r: number) {}\n}\n",
            "src/util.ts": "export const TAU = 6.28;\nexport default function clamp() {}\n",
            "src/legacy.js": "function old() {}\nmodule.exports = { old };\n",
        },
    )
    return tmp_path


def test_typescript_named_import(ts_project):
    text = "import { area, Point } from './geometry';\n\nconst p: Point = {x: 1, y: area(2)};\n"
    assert heads(lookup(ts_project, "src/main.ts", text)) == [
        ("src/geometry.ts", "export function area(r: number): number {"),
        ("src/geometry.ts", "export interface Point {"),
    ]


def test_typescript_index_file_and_js_extension(ts_project):
    text = "import { Circle } from './shapes';\nimport { TAU } from './util.js';\n"
    text += "new Circle(TAU);\n"
    assert sorted(heads(lookup(ts_project, "src/main.ts", text))) == [
        ("src/shapes/index.ts", "export class Circle {"),
        ("src/util.ts", "export const TAU = 6.28;"),
    ]


def test_typescript_namespace_and_default_imports(ts_project):
    text = "import * as geo from './geometry';\nimport clamp from './util';\nclamp(geo.area(1));\n"
    assert sorted(heads(lookup(ts_project, "src/main.ts", text))) == [
        ("src/geometry.ts", "export function area(r: number): number {"),
        ("src/util.ts", "export default function clamp() {}"),
    ]


def test_tsx_and_parent_folder(ts_project):
    text = "import { area } from '../geometry';\nexport const A = () => <b>{area(1)}</b>;\n"
    assert heads(lookup(ts_project, "src/ui/view.tsx", text)) == [
        ("src/geometry.ts", "export function area(r: number): number {")
    ]


def test_javascript_require(ts_project):
    text = "const { old } = require('./legacy');\nold();\n"
    assert heads(lookup(ts_project, "src/app.js", text)) == [("src/legacy.js", "function old() {}")]


def test_package_imports_are_not_workspace_files(ts_project):
    assert lookup(ts_project, "src/main.ts", "import { area } from 'geometry';\narea(1);\n") == []


# --- Go ---------------------------------------------------------------------------------------


@pytest.fixture
def go_project(tmp_path: Path) -> Path:
    write(
        tmp_path,
        {
            "go.mod": "module example.com/app\n\ngo 1.22\n",
            "shapes/area.go": "package shapes\n\nfunc Area(r float64) float64 {\n\treturn r\n}\n",
            "shapes/shape.go": "package shapes\n\ntype Shape struct {\n\tName string\n}\n",
            "shapes/area_test.go": "package shapes\n\nfunc helperForTests() {}\n",
            "internal/geo/geo.go": "package geo\n\nconst Tau = 6.28\n\nfunc Dist() float64 {}\n",
        },
    )
    return tmp_path


def test_go_same_package(go_project):
    text = "package shapes\n\nfunc Describe(s Shape) float64 {\n\treturn Area(1)\n}\n"
    assert sorted(heads(lookup(go_project, "shapes/describe.go", text))) == [
        ("shapes/area.go", "func Area(r float64) float64 {"),
        ("shapes/shape.go", "type Shape struct {"),
    ]


def test_go_tests_are_not_part_of_the_package_for_other_files(go_project):
    text = "package shapes\n\nfunc x() { helperForTests() }\n"
    assert lookup(go_project, "shapes/other.go", text) == []
    text = text.replace("func x", "func y")
    assert heads(lookup(go_project, "shapes/more_test.go", text)) == [
        ("shapes/area_test.go", "func helperForTests() {}")
    ]


def test_go_module_local_package(go_project):
    text = 'package main\n\nimport (\n\t"fmt"\n\tg "example.com/app/internal/geo"\n)\n\n'
    text += "func main() { fmt.Println(g.Tau, g.Dist()) }\n"
    assert sorted(heads(lookup(go_project, "cmd/main.go", text))) == [
        ("internal/geo/geo.go", "const Tau = 6.28"),
        ("internal/geo/geo.go", "func Dist() float64 {}"),
    ]


def test_go_import_without_alias_uses_the_last_path_element(go_project):
    text = 'package main\n\nimport "example.com/app/shapes"\n\nvar x = shapes.Area(2)\n'
    assert heads(lookup(go_project, "main.go", text)) == [
        ("shapes/area.go", "func Area(r float64) float64 {")
    ]


# --- C and C++ -------------------------------------------------------------------------------


@pytest.fixture
def c_project(tmp_path: Path) -> Path:
    write(
        tmp_path,
        {
            "include/geo/point.h": "#ifndef POINT_H\n#define POINT_H\n\ntypedef struct point {\n"
            "    double x, y;\n} Point;\n\ndouble distance(Point a, Point b);\n\n#endif\n",
            "src/shapes.h": '#pragma once\n#include "geo/point.h"\n\n#define MAX_SIDES 8\n\n'
            "struct shape { int sides; };\n\nint perimeter(const struct shape *s);\n",
            "src/stdio.h": "int printf(const char *format, ...);\n",
            "include/geo/circle.hpp": "#pragma once\n\nnamespace geo {\n\nclass Circle {\n"
            "public:\n    explicit Circle(double r);\n    double area() const;\n};\n\n"
            "double scale(const Circle &c, double k);\n\n}  // namespace geo\n",
            "src/widget.h": "#pragma once\n\nclass Widget {\npublic:\n    void draw();\n};\n",
        },
    )
    return tmp_path


def test_c_include_next_to_the_file(c_project):
    text = '#include "shapes.h"\n\nint perimeter(const struct shape *s) {\n    return MAX_SIDES;\n'
    assert sorted(heads(lookup(c_project, "src/shapes.c", text))) == [
        ("src/shapes.h", "#define MAX_SIDES 8"),
        ("src/shapes.h", "int perimeter(const struct shape *s);"),
        ("src/shapes.h", "struct shape { int sides; }"),
    ]


def test_c_include_from_the_include_folder_and_through_a_header(c_project):
    text = '#include "geo/point.h"\n\ndouble d(Point a) { return distance(a, a); }\n'
    assert sorted(heads(lookup(c_project, "src/main.c", text))) == [
        ("include/geo/point.h", "double distance(Point a, Point b);"),
        ("include/geo/point.h", "typedef struct point {"),
    ]
    through = '#include "shapes.h"\n\nPoint origin;\n'
    assert heads(lookup(c_project, "src/main.c", through)) == [
        ("include/geo/point.h", "typedef struct point {")
    ]


def test_c_system_includes_are_not_workspace_files(c_project):
    text = "#include <stdio.h>\n#include <shapes.h>\n\nint main(void) { printf(perimeter); }\n"
    assert lookup(c_project, "src/main.c", text) == []


def test_cpp_include_reads_namespaces_and_qualified_names(c_project):
    text = '#include "geo/circle.hpp"\n\nauto k = geo::scale(geo::Circle(1), 2);\n'
    assert sorted(heads(lookup(c_project, "src/main.cpp", text))) == [
        ("include/geo/circle.hpp", "class Circle {"),
        ("include/geo/circle.hpp", "double scale(const Circle &c, double k);"),
    ]


def test_cpp_header_named_h(c_project):
    text = '#include "widget.h"\n#include <vector>\n\nstd::vector<Widget> widgets;\n'
    assert heads(lookup(c_project, "src/main.cpp", text)) == [("src/widget.h", "class Widget {")]


# --- Java -------------------------------------------------------------------------------------


@pytest.fixture
def java_project(tmp_path: Path) -> Path:
    main = "src/main/java/com/acme"
    write(
        tmp_path,
        {
            f"{main}/shapes/Circle.java": "package com.acme.shapes;\n\npublic class Circle {\n"
            "    public double area() { return 0; }\n}\n",
            f"{main}/shapes/Square.java": "package com.acme.shapes;\n\npublic record Square("
            "double side) {}\n",
            f"{main}/util/Maths.java": "package com.acme.util;\n\npublic final class Maths {\n"
            "    public static int max(int a, int b) { return a > b ? a : b; }\n}\n",
            f"{main}/app/Config.java": "package com.acme.app;\n\nclass Config {}\n",
        },
    )
    return tmp_path


def test_java_single_type_import_and_same_package(java_project):
    text = "package com.acme.app;\n\nimport com.acme.shapes.Circle;\n\nclass Main {\n"
    text += "    Config config;\n    double a = new Circle().area();\n"
    assert heads(lookup(java_project, "src/main/java/com/acme/app/Main.java", text)) == [
        ("src/main/java/com/acme/shapes/Circle.java", "public class Circle {"),
        ("src/main/java/com/acme/app/Config.java", "class Config {}"),
    ]


def test_java_package_import(java_project):
    text = "package com.acme.app;\n\nimport com.acme.shapes.*;\n\nclass Main { Square s; }\n"
    assert heads(lookup(java_project, "src/main/java/com/acme/app/Main.java", text)) == [
        ("src/main/java/com/acme/shapes/Square.java", "public record Square(double side) {}")
    ]


def test_java_test_tree_finds_main_code_and_static_imports(java_project):
    text = "package com.acme.shapes;\n\nimport static com.acme.util.Maths.max;\n\n"
    text += "class CircleTest { int m = max(1, 2); }\n"
    assert heads(lookup(java_project, "src/test/java/com/acme/shapes/CircleTest.java", text)) == [
        ("src/main/java/com/acme/util/Maths.java", "public final class Maths {")
    ]


def test_java_classes_outside_the_workspace_give_nothing(java_project):
    text = "package com.acme.app.sub;\n\nimport java.util.List;\nimport org.other.Circle;\n\n"
    text += "class Main { List<Circle> shapes; }\n"
    assert lookup(java_project, "src/main/java/com/acme/app/sub/Main.java", text) == []


# --- Rust -------------------------------------------------------------------------------------


@pytest.fixture
def rust_project(tmp_path: Path) -> Path:
    write(
        tmp_path,
        {
            "Cargo.toml": '[package]\nname = "app"\n',
            "src/lib.rs": "pub mod geo;\npub mod shapes;\n",
            "src/geo.rs": "pub fn distance(a: f64, b: f64) -> f64 {\n    (a - b).abs()\n}\n",
            "src/shapes/mod.rs": "pub mod circle;\npub use circle::Circle;\n\n"
            "pub trait Area {\n    fn area(&self) -> f64;\n}\n",
            "src/shapes/circle.rs": "pub struct Circle {\n    pub r: f64,\n}\n\nimpl Circle {\n"
            "    pub fn new(r: f64) -> Self {\n        Circle { r }\n    }\n}\n",
        },
    )
    return tmp_path


def test_rust_use_from_the_crate_root(rust_project):
    text = "use crate::shapes::circle::Circle;\n\nfn main() {\n    let c = Circle::new(1.0);\n"
    assert heads(lookup(rust_project, "src/bin.rs", text)) == [
        ("src/shapes/circle.rs", "pub struct Circle {"),
        ("src/shapes/circle.rs", "impl Circle {"),
    ]


def test_rust_use_list_alias_and_reexport(rust_project):
    text = "use crate::shapes::{Area, Circle as C};\n\nfn f(c: C) -> f64 { c.area() }\n"
    assert sorted(heads(lookup(rust_project, "src/report.rs", text))) == [
        ("src/shapes/circle.rs", "impl Circle {"),
        ("src/shapes/circle.rs", "pub struct Circle {"),
        ("src/shapes/mod.rs", "pub trait Area {"),
    ]


def test_rust_super_and_self_paths(rust_project):
    text = "use super::Area;\nuse super::circle::Circle;\n\nimpl Area for Circle {}\n"
    assert sorted(heads(lookup(rust_project, "src/shapes/square.rs", text))) == [
        ("src/shapes/circle.rs", "impl Circle {"),
        ("src/shapes/circle.rs", "pub struct Circle {"),
        ("src/shapes/mod.rs", "pub trait Area {"),
    ]
    text = "pub mod circle;\nuse self::circle::Circle;\n\nfn unit() -> Circle {"
    assert heads(lookup(rust_project, "src/shapes/mod.rs", text))[0] == (
        "src/shapes/circle.rs",
        "pub struct Circle {",
    )


def test_rust_mod_declaration_and_module_paths(rust_project):
    text = "pub mod geo;\npub mod shapes;\n\npub fn d() -> f64 { geo::distance(1.0, 2.0) }\n"
    assert heads(lookup(rust_project, "src/lib.rs", text)) == [
        ("src/geo.rs", "pub fn distance(a: f64, b: f64) -> f64 {")
    ]
    typed = lookup(rust_project, "src/lib.rs", "mod geo;\n\nfn d() -> f64 { geo::dis")
    assert heads(typed) == [("src/geo.rs", "pub fn distance(a: f64, b: f64) -> f64 {")]
    assert typed[0].score == 1.0


def test_rust_wildcard_use(rust_project):
    text = "use crate::geo::*;\n\nfn f() { distance(0.0, 1.0); }\n"
    assert heads(lookup(rust_project, "src/shapes/util.rs", text)) == [
        ("src/geo.rs", "pub fn distance(a: f64, b: f64) -> f64 {")
    ]


def test_rust_external_crates_give_nothing(rust_project):
    text = "use serde::Serialize;\nuse std::collections::HashMap;\n\n"
    text += "fn f(m: HashMap<u8, u8>) -> impl Serialize { m }\n"
    assert lookup(rust_project, "src/report.rs", text) == []


# --- Lua --------------------------------------------------------------------------------------


@pytest.fixture
def lua_project(tmp_path: Path) -> Path:
    write(
        tmp_path,
        {
            "lua/app/util.lua": "local M = {}\n\nfunction M.clamp(x, lo, hi)\n"
            "  return math.max(lo, math.min(x, hi))\nend\n\n"
            "M.round = function(x) return math.floor(x + 0.5) end\n\nreturn M\n",
            "lua/app/shapes/init.lua": "local shapes = {}\n\n"
            "function shapes.area(r) return r * r end\n\nreturn shapes\n",
            "lua/app/helper.lua": "local H = {}\nfunction H.greet() end\nreturn H\n",
            "lib/strings.lua": "local S = {}\nfunction S.trim(s) return s end\nreturn S\n",
        },
    )
    return tmp_path


def test_lua_require_binds_a_module(lua_project):
    text = 'local util = require("app.util")\nlocal shapes = require "app.shapes"\n\n'
    text += "local a = util.clamp(shapes.area(2), 0, 1)\nlocal b = util.round(a)\n"
    assert sorted(heads(lookup(lua_project, "lua/app/main.lua", text))) == [
        ("lua/app/shapes/init.lua", "function shapes.area(r) return r * r end"),
        ("lua/app/util.lua", "M.round = function(x) return math.floor(x + 0.5) end"),
        ("lua/app/util.lua", "function M.clamp(x, lo, hi)"),
    ]


def test_lua_require_from_the_root_and_the_current_folder(lua_project):
    text = "local strings = require('lib.strings')\nlocal helper = require('helper')\n\n"
    text += "strings.trim(helper.greet())\n"
    assert sorted(heads(lookup(lua_project, "lua/app/main.lua", text))) == [
        ("lib/strings.lua", "function S.trim(s) return s end"),
        ("lua/app/helper.lua", "function H.greet() end"),
    ]


def test_lua_modules_outside_the_workspace_give_nothing(lua_project):
    text = 'local json = require("cjson")\nlocal util = require("app.util")\n\n'
    text += "json.encode(util.missing())\n"
    assert lookup(lua_project, "lua/app/main.lua", text) == []


# --- usages -----------------------------------------------------------------------------------


def test_usages_near_are_nearest_first_and_prefer_lines_above():
    text = "far()\n" + "\n" * 5 + "above.attr()\nCURSOR\nbelow()\n"
    cursor = text.index("CURSOR")
    found = {u.chain: u.distance for u in usages_near(text, cursor)}
    assert found[("above", "attr")] == 1
    assert found[("below",)] == 1.5
    assert found[("far",)] == 7
    assert [u.chain for u in usages_near(text, cursor)][:2] == [("CURSOR",), ("above", "attr")]


def test_usages_near_joins_chains_by_dots_and_double_colons():
    text = "geo::area(shape.sides)\nx[a::b]\n"
    assert {u.chain for u in usages_near(text, len(text))} == {
        ("geo", "area"),
        ("shape", "sides"),
        ("x",),
        ("a", "b"),
    }


def test_usages_near_keeps_to_its_window():
    text = "old()\n" * 50 + "new()\n"
    assert {u.chain for u in usages_near(text, len(text), before=3)} == {("new",), ("old",)}
    assert min(u.distance for u in usages_near(text, len(text), before=3)) == 1
    assert usages_near("", 0) == []


def test_imports_under_try_and_if_blocks_count(python_project):
    text = "try:\n    from .geometry import area\nexcept ImportError:\n    area = None\n\narea(1)\n"
    assert heads(lookup(python_project, "pkg/main.py", text)) == [
        ("pkg/geometry.py", "def area(radius: float) -> float:")
    ]


def test_a_file_created_later_resolves_on_the_next_request(tmp_path):
    text = "from .fresh import made\n\nmade()\n"
    write(tmp_path, {"pkg/__init__.py": "", "pkg/main.py": text})
    index = WorkspaceIndex(tmp_path)
    while not index.index_some(0.05):
        pass
    crossfile = CrossFile(index)
    assert crossfile.snippets("pkg/main.py", text, len(text)) == []
    generation = index.generation
    index.update(tmp_path / "pkg" / "fresh.py", "def made(): pass\n")
    assert index.generation > generation
    assert heads(crossfile.snippets("pkg/main.py", text, len(text))) == [
        ("pkg/fresh.py", "def made(): pass")
    ]
