"""Tests for lsp_server.context.workspace: the bounded, incremental walk and file outlines."""

import os

import pytest

from lsp_server.context.outline import ImportSpec, read_outline
from lsp_server.context.workspace import WorkspaceIndex
from lsp_server.languages import language_for

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
            "app/lib.rs": "fn f() {}\n",  # Rust has no definition query yet
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


@pytest.mark.parametrize("language", ["rust", "lua"])
def test_languages_without_queries_have_empty_outlines(language):
    assert outline(language, "x").definitions == {}
