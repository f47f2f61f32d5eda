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


# --- usages -----------------------------------------------------------------------------------


def test_usages_near_are_nearest_first_and_prefer_lines_above():
    text = "far()\n" + "\n" * 5 + "above.attr()\nCURSOR\nbelow()\n"
    cursor = text.index("CURSOR")
    found = {u.chain: u.distance for u in usages_near(text, cursor)}
    assert found[("above", "attr")] == 1
    assert found[("below",)] == 1.5
    assert found[("far",)] == 7
    assert [u.chain for u in usages_near(text, cursor)][:2] == [("CURSOR",), ("above", "attr")]


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
