"""Imports resolved to the workspace files they name, the way each language finds its code.

Python packages and relative imports; TypeScript/JavaScript relative paths (with their
extensions and index files); Go's same-package files and the module's own packages; C and C++
quoted includes; Java's single-type and package imports and its same-package classes; Rust's
`use` paths and `mod` declarations within the crate; Lua's `require`. Whatever lies outside
the workspace (the standard library, installed packages, system headers, other crates) is
left out.
"""

import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from lsp_server.context.outline import ImportSpec
from lsp_server.context.workspace import WorkspaceIndex

_GO_MODULE = re.compile(r"^module\s+(\S+)", re.MULTILINE)
_PY_SUFFIXES = (".py", ".pyi")
_JS_SUFFIXES = (".ts", ".tsx", ".d.ts", ".js", ".jsx", ".mjs", ".cjs")
_JS_INDEXES = tuple(f"/index{s}" for s in (".ts", ".tsx", ".js", ".jsx"))
# Where a quoted include is looked for after the including file's folder.
_INCLUDE_ROOTS = ("", "include", "src")
# Where `require("a.b")` is looked for after the requiring file's folder: the root (Lua's
# `./?.lua`), a Neovim plugin's lua/ and a rock's src/.
_LUA_ROOTS = ("", "lua", "src")
_RUST_CRATE_ROOTS = ("lib.rs", "main.rs")
# Files that hold a Rust module whose children are in the same folder, not in one of its name.
_RUST_FOLDER_FILES = ("mod.rs", *_RUST_CRATE_ROOTS)


@dataclass(frozen=True)
class Binding:
    """A name an import brings into the current file, and where it is defined.

    `local` is the name as used ("area", "np", "a.b"), empty for a wildcard that brings in
    every name; `symbol` is the name in `files`, None when `local` stands for a module.
    """

    local: str
    files: tuple[str, ...]
    symbol: str | None


def _ancestors(folder: str) -> list[str]:
    """The folder and each one above it, up to the workspace root (""), nearest first."""
    found = [folder]
    while folder:
        folder = posixpath.dirname(folder)
        found.append(folder)
    return found


class ImportResolver:
    """Finds the workspace files a file's imports name; one method per language family."""

    def __init__(self, index: WorkspaceIndex) -> None:
        self.index = index
        self._go_modules: dict[str, tuple[int, str | None]] = {}

    # --- Python ---------------------------------------------------------------------------

    def python(self, spec: ImportSpec, here: str) -> list[Binding]:
        """A package or module, relative to `here` (dots) or from the top package's parent."""
        dots = len(spec.module) - len(spec.module.lstrip("."))
        parts = [p for p in spec.module[dots:].split(".") if p]
        if dots:
            base = here
            for _ in range(dots - 1):
                if not base:
                    return []
                base = posixpath.dirname(base)
            bases = [base]
        else:
            bases = self._python_roots(here)
        for base in bases:
            package = posixpath.join(base, *parts) if parts else base
            module = self._python_module(package)
            submodule = (
                self._python_module(posixpath.join(package, spec.name)) if spec.name else None
            )
            if module is None and submodule is None:
                continue
            if spec.wildcard:
                return [Binding("", (module,), None)] if module else []
            if spec.name is None:
                return [Binding(spec.alias or spec.module, (module,), None)] if module else []
            local = spec.alias or spec.name
            if submodule is not None:
                return [Binding(local, (submodule,), None)]
            return [Binding(local, (module,), spec.name)] if module else []
        return []

    def _python_module(self, package: str) -> str | None:
        candidates = [package + s for s in _PY_SUFFIXES] if package else []
        candidates += [posixpath.join(package, "__init__" + s) for s in _PY_SUFFIXES]
        return next((c for c in candidates if self.index.contains(c)), None)

    def _python_roots(self, here: str) -> list[str]:
        """Folders absolute imports start from: the top package's parent, the root, src/."""
        top = here
        while top and self.index.contains(posixpath.join(top, "__init__.py")):
            top = posixpath.dirname(top)
        return list(dict.fromkeys([top, "", "src"]))

    # --- TypeScript and JavaScript --------------------------------------------------------

    def javascript(self, spec: ImportSpec, here: str) -> list[Binding]:
        """A relative path, with or without its extension, or a folder's index file."""
        if not spec.module.startswith("."):
            return []  # a package from node_modules, not a workspace file
        target = posixpath.normpath(posixpath.join(here, spec.module))
        if target.startswith("../") or target == "..":
            return []
        stem, extension = posixpath.splitext(target)
        candidates = [
            target,
            *(target + s for s in _JS_SUFFIXES),
            *(target + i for i in _JS_INDEXES),
        ]
        if extension in (".js", ".jsx", ".mjs", ".cjs"):
            # TypeScript sources import their compiled names: "./shape.js" is ./shape.ts.
            candidates += [stem + ".ts", stem + ".tsx"]
        file = next((c for c in candidates if self.index.contains(c)), None)
        if file is None:
            return []
        if spec.name is None:
            return [Binding(spec.alias or "", (file,), None)] if spec.alias else []
        return [Binding(spec.alias or spec.name, (file,), spec.name)]

    # --- Go -------------------------------------------------------------------------------

    def go(self, path: str, here: str, imports: Iterable[ImportSpec]) -> list[Binding]:
        """The same package's other files, which need no import, and the module's packages."""
        testing = path.endswith("_test.go")
        siblings = tuple(
            f
            for f in self.index.files_in(here)
            if f != path and f.endswith(".go") and (testing or not f.endswith("_test.go"))
        )
        bindings = [Binding("", siblings, None)] if siblings else []
        module = self._go_module(here)
        if module is None:
            return bindings
        module_dir, module_path = module
        for spec in imports:
            if spec.module != module_path and not spec.module.startswith(module_path + "/"):
                continue
            package = posixpath.join(module_dir, spec.module[len(module_path) :].lstrip("/"))
            package = posixpath.normpath(package) if package else ""
            files = tuple(
                f
                for f in self.index.files_in("" if package == "." else package)
                if f.endswith(".go") and not f.endswith("_test.go")
            )
            if files:
                local = "" if spec.wildcard else spec.alias or spec.module.rsplit("/", 1)[-1]
                bindings.append(Binding(local, files, None))
        return bindings

    def _go_module(self, here: str) -> tuple[str, str] | None:
        """The nearest go.mod's folder and module path, looking up from `here`."""
        for directory in _ancestors(here):
            module = self._read_go_module(self.index.root / directory / "go.mod")
            if module is not None:
                return directory, module
        return None

    def _read_go_module(self, gomod: Path) -> str | None:
        try:
            mtime = gomod.stat().st_mtime_ns
        except OSError:
            return None
        cached = self._go_modules.get(str(gomod))
        if cached is not None and cached[0] == mtime:
            return cached[1]
        try:
            match = _GO_MODULE.search(gomod.read_text("utf-8", "replace"))
        except OSError:
            return None
        module = match.group(1) if match else None
        self._go_modules[str(gomod)] = (mtime, module)
        return module

    # --- C and C++ ------------------------------------------------------------------------

    def include(self, spec: ImportSpec, here: str) -> list[Binding]:
        """`#include "x.h"`: every name the header declares, as the preprocessor pastes it."""
        for base in (here, *_INCLUDE_ROOTS):
            file = posixpath.normpath(posixpath.join(base, spec.module))
            if not file.startswith("../") and self.index.contains(file):
                return [Binding("", (file,), None)]
        return []

    # --- Java -----------------------------------------------------------------------------

    def java(self, path: str, here: str, imports: Iterable[ImportSpec]) -> list[Binding]:
        """The same package's classes, which need no import, and those imported by name or
        package."""
        siblings = tuple(f for f in self.index.files_in(here) if f != path and f.endswith(".java"))
        bindings = [Binding("", siblings, None)] if siblings else []
        roots = _java_roots(here)
        for spec in imports:
            bindings += self._java_import(spec, roots)
        return bindings

    def _java_import(self, spec: ImportSpec, roots: list[str]) -> list[Binding]:
        package = spec.module.replace(".", "/")
        for folder in (posixpath.join(root, package) for root in roots):
            if spec.name is None:  # `import a.b.*;`
                files = tuple(f for f in self.index.files_in(folder) if f.endswith(".java"))
                if files:
                    return [Binding("", files, None)]
            elif self.index.contains(f"{folder}/{spec.name}.java"):
                return [Binding(spec.name, (f"{folder}/{spec.name}.java",), spec.name)]
            elif self.index.contains(folder + ".java"):
                # A static import, or a nested class: the class that holds it is what to show.
                return [Binding(spec.name, (folder + ".java",), posixpath.basename(folder))]
        return []

    # --- Rust -----------------------------------------------------------------------------

    def rust(self, path: str, here: str, imports: Iterable[ImportSpec]) -> list[Binding]:
        """`use` paths within the crate, and `mod name;` child modules."""
        crate = self._rust_crate(here)
        name = posixpath.basename(path)
        # The folder the current module's children are in: its own for mod.rs, lib.rs and
        # main.rs, else one named after the file (src/a.rs's children are in src/a/).
        children = here if name in _RUST_FOLDER_FILES else path.removesuffix(".rs")
        return [b for spec in imports for b in self._rust_use(spec, crate, children)]

    def _rust_use(self, spec: ImportSpec, crate: str | None, children: str) -> list[Binding]:
        if spec.name is None and not spec.wildcard:
            # `mod name;`: a child module in a file of its own.
            file = self._rust_file(posixpath.join(children, spec.module))
            return [Binding(spec.module, (file,), None)] if file else []
        # `use a::{b::C}` names C in a::b.
        *inner, name = (spec.name or "").split("::")
        folder = _rust_folder([*spec.module.split("::"), *inner], crate, children)
        if folder is None:
            return []
        module = self._rust_file(folder)
        if spec.wildcard:
            return [Binding("", (module,), None)] if module else []
        if name == "self":
            local = spec.alias or posixpath.basename(folder)
            return [Binding(local, (module,), None)] if module else []
        submodule = self._rust_file(posixpath.join(folder, name))
        if submodule is not None:
            return [Binding(spec.alias or name, (submodule,), None)]
        return [Binding(spec.alias or name, (module,), name)] if module else []

    def _rust_file(self, folder: str) -> str | None:
        """The file of the module whose children are in `folder`: folder.rs or folder/mod.rs,
        or lib.rs or main.rs for the crate root."""
        candidates = [f"{folder}.rs"] if folder else []
        candidates += [posixpath.join(folder, name) for name in _RUST_FOLDER_FILES]
        return next((c for c in candidates if self.index.contains(c)), None)

    def _rust_crate(self, here: str) -> str | None:
        """The crate root's folder: the nearest one above holding lib.rs or main.rs, or the src/
        of the nearest Cargo.toml."""
        for folder in _ancestors(here):
            if any(self.index.contains(posixpath.join(folder, r)) for r in _RUST_CRATE_ROOTS):
                return folder
            if (self.index.root / folder / "Cargo.toml").is_file():
                return posixpath.join(folder, "src")
        return None

    # --- Lua ------------------------------------------------------------------------------

    def lua(self, spec: ImportSpec, here: str) -> list[Binding]:
        """`local m = require("a.b")`: a/b.lua or a/b/init.lua, bound to `m` as a module."""
        if spec.alias is None:
            return []
        stem = spec.module.replace(".", "/")
        for base in (here, *_LUA_ROOTS):
            for file in (f"{stem}.lua", f"{stem}/init.lua"):
                candidate = posixpath.join(base, file)
                if self.index.contains(candidate):
                    return [Binding(spec.alias, (candidate,), None)]
        return []


def _java_roots(here: str) -> list[str]:
    """Folders a package path may start from: those from the file's folder up, each also with
    main/java below it, where a test tree (src/test/java) finds the code it tests."""
    above = _ancestors(here)
    return above + [posixpath.join(folder, "main/java") for folder in above]


def _rust_folder(parts: list[str], crate: str | None, children: str) -> str | None:
    """The folder of a module path's children: `crate::` starts at the crate root, `super::`
    one module up, `self::` and a bare child module name at the current module. None where it
    starts at a crate root that was not found."""
    folder = children
    for part in parts:
        if part == "crate":
            if crate is None:
                return None
            folder = crate
        elif part == "super":
            folder = posixpath.dirname(folder)
        elif part != "self":
            folder = posixpath.join(folder, part)
    return folder
