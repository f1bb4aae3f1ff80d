"""Go packages and modules as Go's own tools report them, and the import → label mapping.

`parse_go_list` reads the JSON stream of `go list -json`; `go_list` runs it. Everything
else is pure, so tests build `GoPackage` values directly.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from policy_builder.bazel.errors import UnresolvedImportError
from policy_builder.bazel.naming import library_name, package_label, repo_name
from policy_builder.gotool import GoMod, read_go_mod, run_go


@dataclass(frozen=True)
class GoPackage:
    """One Go package that gets a go_library."""

    # Directory relative to the repository root, POSIX separators ("" for the root).
    dir: str
    importpath: str
    # The `package` clause name; "main" for commands.
    name: str
    # Non-test .go file names in `dir`, sorted.
    go_files: tuple[str, ...]
    # Import paths of those files, sorted.
    imports: tuple[str, ...]
    # The _test.go files (internal and external test package), sorted, and their imports.
    test_files: tuple[str, ...] = ()
    test_imports: tuple[str, ...] = ()
    # The directory has a testdata/ folder, which the tests may read.
    testdata: bool = False


@dataclass(frozen=True)
class LocalModule:
    """A Go module that lives in the repository (listed in go.work): no external repo."""

    module_path: str
    # Directory relative to the repository root, POSIX separators.
    dir: str


@dataclass(frozen=True)
class Dependency:
    """A resolved import: the label to depend on and, for third-party code, its repo."""

    label: str
    repo: str = ""


@dataclass(frozen=True)
class EngineModule:
    """The engine's Go module as Go's tools see it."""

    module_path: str
    # Directory relative to the repository root.
    dir: str
    go_version: str
    # Module paths of the `require` lines of its go.mod.
    requires: tuple[str, ...]
    packages: tuple[GoPackage, ...]


def json_objects(stream: str) -> Iterator[dict[str, Any]]:
    """The objects of a `go list -json` output: concatenated, not a JSON array."""
    decoder = json.JSONDecoder()
    pos = 0
    text = stream.strip()
    while pos < len(text):
        obj, pos = decoder.raw_decode(text, pos)
        while pos < len(text) and text[pos].isspace():
            pos += 1
        yield obj


def parse_go_list(stream: str, repo_root: Path) -> tuple[GoPackage, ...]:
    """Turn the concatenated JSON objects printed by `go list -json ./...` into packages."""
    packages = []
    for obj in json_objects(stream):
        test_files = obj.get("TestGoFiles", []) + obj.get("XTestGoFiles", [])
        test_imports = set(obj.get("TestImports", []) + obj.get("XTestImports", []))
        if not obj.get("GoFiles") and not test_files:
            # All files excluded by build tags (say, end-to-end tests behind a tag).
            continue
        directory = Path(obj["Dir"])
        rel = PurePosixPath(directory.resolve().relative_to(repo_root.resolve()).as_posix())
        packages.append(
            GoPackage(
                dir="" if str(rel) == "." else str(rel),
                importpath=obj["ImportPath"],
                name=obj["Name"],
                go_files=tuple(sorted(obj.get("GoFiles", []))),
                imports=tuple(sorted(obj.get("Imports", []))),
                test_files=tuple(sorted(test_files)),
                test_imports=tuple(sorted(test_imports)),
                testdata=has_testdata(directory),
            )
        )
    return tuple(sorted(packages, key=lambda p: p.dir))


def has_testdata(directory: Path) -> bool:
    """Whether directory/testdata holds a file: Bazel refuses a glob that matches nothing."""
    testdata = directory / "testdata"
    return testdata.is_dir() and any(p.is_file() for p in testdata.rglob("*"))


# The fields parse_go_list reads. Naming them spares `go list` what it computes for the
# rest (staleness asks the compiler, assembler, cgo and linker for their versions): half
# its time.
_LISTED = ",".join(
    (
        "Dir",
        "ImportPath",
        "Name",
        "GoFiles",
        "Imports",
        "TestGoFiles",
        "TestImports",
        "XTestGoFiles",
        "XTestImports",
    )
)


def go_list(module_dir: Path, repo_root: Path) -> tuple[GoPackage, ...]:
    """Run `go list -json ./...` in a module (the engine) and parse it. GOWORK is off: the
    root go.work is an output of the generator, so it must not be an input (a stale one
    would fail `go`); the user's GOFLAGS (say -mod=mod) must not make a listing edit
    go.mod."""
    out = run_go(
        ["list", f"-json={_LISTED}", "./..."],
        f"listing the Go packages of {module_dir}",
        cwd=module_dir,
        env={**os.environ, "GOWORK": "off", "GOFLAGS": ""},
    )
    return parse_go_list(out, repo_root)


def _is_standard(importpath: str) -> bool:
    # Go's rule: a path whose first element has no dot cannot be a module path.
    return "." not in importpath.split("/", 1)[0]


def _under(importpath: str, prefix: str) -> bool:
    return importpath == prefix or importpath.startswith(prefix + "/")


class ImportResolver:
    """Maps Go import paths to Bazel labels.

    In-repo modules win; otherwise the module providing an import is the longest matching
    `require` of the importing module's go.mod (as Go itself decides), named by go_deps.
    """

    def __init__(self, local: Iterable[LocalModule], packages: Iterable[GoPackage] = ()) -> None:
        # By module path (the first of equal paths wins): an import is looked up by its own
        # prefixes, so resolving stays linear in the number of in-repo modules.
        self._local: dict[str, LocalModule] = {}
        for module in local:
            self._local.setdefault(module.module_path, module)
        self._package_names = {p.importpath: p.name for p in packages}

    def resolve(
        self, importpath: str, *, requires: Sequence[str], package_dir: str
    ) -> Dependency | None:
        """The dependency for `importpath`, or None for the standard library."""
        parts = importpath.split("/")
        for n in range(len(parts), 0, -1):
            module = self._local.get("/".join(parts[:n]))
            if module is not None:
                sub = importpath[len(module.module_path) :].lstrip("/")
                pkg = "/".join(part for part in (module.dir, sub) if part)
                name = library_name(importpath, self._package_names.get(importpath, ""))
                return Dependency(package_label("", pkg, name))
        providers = [m for m in requires if _under(importpath, m)]
        if providers:
            module_path = max(providers, key=len)
            repo = repo_name(module_path)
            sub = importpath[len(module_path) :].lstrip("/")
            return Dependency(package_label(repo, sub, library_name(importpath, "")), repo)
        if _is_standard(importpath) and importpath != "C":
            return None
        raise UnresolvedImportError(package_dir, importpath)


def read_engine_module(
    repo_root: Path,
    engine_dir: str = "engine",
    go_mod: GoMod | None = None,
    list_packages: Callable[[Path, Path], tuple[GoPackage, ...]] | None = None,
) -> EngineModule:
    """The engine module: its go.mod (go_mod when the caller read it already) and its
    packages as `go list -json ./...` reports them (through list_packages, go_list's
    signature, when given)."""
    module_dir = repo_root / engine_dir
    mod = go_mod or read_go_mod(module_dir)
    return EngineModule(
        module_path=mod.module_path,
        dir=engine_dir,
        go_version=mod.go_version,
        requires=tuple(r.path for r in mod.requires),
        packages=(list_packages or go_list)(module_dir, repo_root),
    )
