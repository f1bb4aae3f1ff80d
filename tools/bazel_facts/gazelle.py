"""Gazelle's built-in per-module-path defaults for go_deps, and where go_deps reads go.sum."""

from __future__ import annotations

import ast
from typing import Any

from .errors import FactsError
from .model import GazelleFacts
from .starlark import Reader, Repo

OVERRIDES = "internal/bzlmod/default_gazelle_overrides.bzl"
GO_MOD = "internal/bzlmod/go_mod.bzl"
GO_DEPS = "internal/bzlmod/go_deps.bzl"
NAMES = {
    "DEFAULT_DIRECTIVES_BY_PATH": "directives_by_path",
    "DEFAULT_BUILD_FILE_GENERATION_BY_PATH": "build_file_generation_by_path",
    "DEFAULT_BUILD_EXTRA_ARGS_BY_PATH": "build_extra_args_by_path",
}


def read_gazelle(reader: Reader, repo: Repo) -> GazelleFacts:
    bzl = reader.file(repo, OVERRIDES)
    values: dict[str, dict[str, Any]] = {}
    provenance: dict[str, str] = {}
    for global_name, field in NAMES.items():
        stmt = bzl.bindings.get(global_name)
        if not isinstance(stmt, ast.Assign) or not isinstance(stmt.value, ast.Dict):
            raise FactsError(f"{bzl.where(1)}: {global_name} is not a dict literal")
        values[field] = reader.literal(stmt.value, bzl, {})
        for key in stmt.value.keys:
            assert key is not None
            provenance[f"{field}:{ast.literal_eval(key)}"] = bzl.where(key.lineno)
    fallbacks = _fallbacks(reader, repo, provenance)
    return GazelleFacts(
        fallbacks=fallbacks,
        directives_by_path=values["directives_by_path"],
        build_file_generation_by_path=values["build_file_generation_by_path"],
        build_extra_args_by_path=values["build_extra_args_by_path"],
        provenance=dict(sorted(provenance.items())),
        go_sum_reads=_go_sum_reads(reader, repo),
    )


def _fallbacks(reader: Reader, repo: Repo, provenance: dict[str, str]) -> dict[str, Any]:
    """What go_deps uses for a module with no override, no gazelle_default_attributes and no
    per-path default: the literal it passes to _get_override_or_default per attribute."""
    go_deps = reader.file(repo, GO_DEPS)
    found: dict[str, Any] = {}
    for node in ast.walk(go_deps.tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "_get_override_or_default"
            and len(node.args) == 6
            and isinstance(node.args[2], ast.Name)
            and node.args[2].id in NAMES
        ):
            attribute = ast.literal_eval(node.args[5])
            found[attribute] = ast.literal_eval(node.args[4])
            provenance[f"fallback:{attribute}"] = go_deps.where(node.lineno)
    if set(found) != {"directives", "build_file_generation", "build_extra_args"}:
        raise FactsError(f"{go_deps.where(1)}: go_deps' fallbacks changed: found {sorted(found)}")
    return dict(sorted(found.items()))


def _go_sum_reads(reader: Reader, repo: Repo) -> list[str]:
    """`<where>: <source>` of the call that reads a go.mod's go.sum and of each call site of
    `sums_from_go_mod` with the condition it sits under."""
    found = []
    go_mod = reader.file(repo, GO_MOD)
    for node in ast.walk(go_mod.tree):
        if isinstance(node, ast.Call) and any(
            isinstance(a, ast.Constant) and a.value == "go.sum" for a in node.args
        ):
            found.append(f"{go_mod.where(node.lineno)}: {ast.unparse(node)}")
    go_deps = reader.file(repo, GO_DEPS)
    for node in ast.walk(go_deps.tree):
        if isinstance(node, ast.If):
            for inner in ast.walk(node):
                if (
                    isinstance(inner, ast.Call)
                    and isinstance(inner.func, ast.Name)
                    and inner.func.id == "sums_from_go_mod"
                    and inner in list(_direct_calls(node))
                ):
                    found.append(
                        f"{go_deps.where(inner.lineno)}: "
                        f"if {ast.unparse(node.test)}: {ast.unparse(inner)}"
                    )
    if not found:
        raise FactsError(f"{go_mod.where(1)}: no go.sum read found (go_deps changed?)")
    return found


def _direct_calls(node: ast.If) -> list[ast.Call]:
    """Calls in the if-body itself, not in nested ifs (those report their own condition)."""
    out: list[ast.Call] = []
    stack: list[ast.AST] = list(node.body)
    while stack:
        item = stack.pop()
        if isinstance(item, ast.If):
            continue
        if isinstance(item, ast.Call):
            out.append(item)
        stack.extend(ast.iter_child_nodes(item))
    return out
