"""MODULE.bazel, read statically: `module()` and `bazel_dep()` with their lines."""

from __future__ import annotations

import ast
import contextlib
from dataclasses import dataclass, field
from typing import Any

from .errors import FactsError


@dataclass(frozen=True)
class BazelDep:
    name: str
    version: str
    line: int
    repo_name: str
    dev: bool


@dataclass
class ModuleFile:
    name: str = ""
    repo_name: str = ""
    compatibility_level: int = 0
    bazel_compatibility: list[str] = field(default_factory=list)
    module_line: int = 1
    deps: list[BazelDep] = field(default_factory=list)

    def mapping(self) -> dict[str, str]:
        """Apparent repository name → module name, for this module's own loads."""
        own = {self.name: self.name, self.repo_name or self.name: self.name}
        return own | {d.repo_name: d.name for d in self.deps if not d.dev and d.repo_name}


def _literal(node: ast.expr, where: str, names: dict[str, Any]) -> Any:
    if isinstance(node, ast.Name) and node.id in names:
        return names[node.id]
    try:
        return ast.literal_eval(node)
    except ValueError as err:
        raise FactsError(f"{where}:{node.lineno}: not a literal: {ast.unparse(node)}") from err


def read_module_file(text: str, where: str) -> ModuleFile:
    """`where` (`owner/repo@ref:path`) prefixes every error."""
    try:
        tree = ast.parse(text)
    except SyntaxError as err:
        raise FactsError(f"{where}:{err.lineno}: {err.msg}") from err
    result = ModuleFile()
    # Top-level constants (`IS_RELEASE = True`) that calls below may use.
    names: dict[str, Any] = {}
    for stmt in tree.body:
        if (
            isinstance(stmt, ast.Assign)
            and len(stmt.targets) == 1
            and isinstance(stmt.targets[0], ast.Name)
        ):
            # Not a constant: an error only if a module()/bazel_dep() uses it.
            with contextlib.suppress(ValueError):
                names[stmt.targets[0].id] = ast.literal_eval(stmt.value)
            continue
        if not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)):
            continue
        call = stmt.value
        if not isinstance(call.func, ast.Name) or call.func.id not in ("module", "bazel_dep"):
            continue
        kwargs = {k.arg: _literal(k.value, where, names) for k in call.keywords if k.arg}
        if call.func.id == "module":
            result.name = kwargs.get("name", "")
            result.repo_name = kwargs.get("repo_name", "")
            result.compatibility_level = kwargs.get("compatibility_level", 0)
            result.bazel_compatibility = list(kwargs.get("bazel_compatibility", []))
            result.module_line = call.lineno
        else:
            # repo_name = None makes a "nodep" edge: no repository, still a version request.
            repo_name = kwargs.get("repo_name", kwargs["name"])
            result.deps.append(
                BazelDep(
                    name=kwargs["name"],
                    version=kwargs.get("version", ""),
                    line=call.lineno,
                    repo_name=repo_name or "",
                    dev=bool(kwargs.get("dev_dependency", False)),
                )
            )
    return result
