"""What this project asks of Bazel: the .bzl files and extensions it loads (found by scanning
its BUILD, .bzl and MODULE.bazel files), its pins and its Bazel version."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from .errors import FactsError
from .model import Dep
from .module_file import ModuleFile, read_module_file

SKIP_DIRS = frozenset(
    {".git", ".venv", ".tools", ".build", "output", "node_modules", "__pycache__"}
)


@dataclass(frozen=True)
class Project:
    root: Path
    module: ModuleFile
    pins: dict[str, Dep]
    bazel_version: str
    # External .bzl labels (as written, `@repo//pkg:file.bzl`) → where first loaded.
    loads: dict[str, str]
    # (extension .bzl label, extension name) → MODULE.bazel line.
    extensions: dict[tuple[str, str], str]


def starlark_files(root: Path) -> list[Path]:
    """BUILD, .bzl and MODULE.bazel files Bazel reads: none under .bazelignore's folders."""
    ignore_file = root / ".bazelignore"
    ignored = ignore_file.read_text().split() if ignore_file.is_file() else []
    found = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if SKIP_DIRS.intersection(rel.parts) or rel.parts[0].startswith("bazel-"):
            continue
        if any(rel.is_relative_to(i) for i in ignored):
            continue
        if path.name in ("BUILD.bazel", "BUILD", "MODULE.bazel") or path.suffix == ".bzl":
            found.append(path)
    return found


def read_project(root: Path) -> Project:
    module_text = (root / "MODULE.bazel").read_text()
    module = read_module_file(module_text, "MODULE.bazel")
    pins = {
        d.name: Dep(d.name, d.version, f"MODULE.bazel:{d.line}") for d in module.deps if not d.dev
    }
    loads: dict[str, str] = {}
    extensions: dict[tuple[str, str], str] = {}
    for path in starlark_files(root):
        rel = path.relative_to(root).as_posix()
        try:
            tree = ast.parse(path.read_text())
        except SyntaxError as err:
            raise FactsError(f"{rel}:{err.lineno}: {err.msg}") from err
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.args):
                continue
            first = node.args[0]
            if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                continue
            if node.func.id == "load" and first.value.startswith("@"):
                loads.setdefault(first.value, f"{rel}:{node.lineno}")
            elif node.func.id == "use_extension" and len(node.args) > 1:
                second = node.args[1]
                if isinstance(second, ast.Constant):
                    extensions.setdefault((first.value, str(second.value)), f"{rel}:{node.lineno}")
    version_file = root / ".bazelversion"
    return Project(
        root=root,
        module=module,
        pins=pins,
        bazel_version=version_file.read_text().strip() if version_file.is_file() else "",
        loads=dict(sorted(loads.items())),
        extensions=dict(sorted(extensions.items())),
    )
