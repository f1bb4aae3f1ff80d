"""Keep MODULE.bazel's `use_repo(go_deps, ...)` in sync with the repos the generated BUILD
files use. MODULE.bazel belongs to the user: only that one call is rewritten, everything
else (comments, order, other extensions) is left byte for byte."""

from __future__ import annotations

from collections.abc import Iterable

import libcst as cst

from policy_builder.bazel.comments import arg_comments, is_keep
from policy_builder.bazel.cst_calls import after_line, parse_for_edit, statement_call
from policy_builder.bazel.errors import StarlarkEditError
from policy_builder.bazel.starlark import INDENT
from policy_builder.escape import starlark_string

GO_DEPS_EXTENSION = ("@gazelle//:extensions.bzl", "go_deps")


def edit_module_bazel(existing: str, go_deps_repos: Iterable[str]) -> str:
    """Rewrite the `use_repo` of the go_deps extension to list exactly `go_deps_repos`
    plus any entry marked `# keep`, sorted; add the call when it is missing."""
    module, span = parse_for_edit(existing, "MODULE.bazel")
    found = _extension_proxy(module)
    if found is None:
        raise StarlarkEditError(
            'MODULE.bazel has no `go_deps = use_extension("@gazelle//:extensions.bzl", '
            '"go_deps")`; add it (see docs/bazel.md) and run generate again'
        )
    proxy, last_use = found
    repos = set(go_deps_repos)
    for stmt in module.body:
        call = statement_call(stmt)
        if call is None:
            continue
        if _is_use_repo(call, proxy):
            start, end = span(call)
            text = _render_use_repo(module, call, proxy, repos)
            return existing[:start] + text + existing[end:]
        if _mentions(call, proxy):
            last_use = stmt
    insert_at = after_line(existing, span(last_use)[1])
    addition = _render_new(proxy, sorted(repos)) + "\n"
    head = existing[:insert_at]
    if not head.endswith("\n"):
        head += "\n"
    return head + addition + existing[insert_at:]


def _extension_proxy(module: cst.Module) -> tuple[str, cst.CSTNode] | None:
    """The variable bound to gazelle's go_deps extension, and the binding statement."""
    for stmt in module.body:
        if not (isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1):
            continue
        assign = stmt.body[0]
        if not (isinstance(assign, cst.Assign) and isinstance(assign.value, cst.Call)):
            continue
        call = assign.value
        if not (isinstance(call.func, cst.Name) and call.func.value == "use_extension"):
            continue
        values = tuple(
            a.value.evaluated_value
            for a in call.args[:2]
            if a.keyword is None and isinstance(a.value, cst.SimpleString)
        )
        target = assign.targets[0].target
        if values == GO_DEPS_EXTENSION and isinstance(target, cst.Name):
            return target.value, stmt
    return None


def _is_use_repo(call: cst.Call, proxy: str) -> bool:
    return (
        isinstance(call.func, cst.Name)
        and call.func.value == "use_repo"
        and bool(call.args)
        and isinstance(call.args[0].value, cst.Name)
        and call.args[0].value.value == proxy
    )


def _mentions(call: cst.Call, proxy: str) -> bool:
    func = call.func
    return (
        isinstance(func, cst.Attribute)
        and isinstance(func.value, cst.Name)
        and (func.value.value == proxy)
    )


def _render_new(proxy: str, repos: list[str]) -> str:
    if not repos:
        return f"use_repo({proxy})"
    body = "".join(f"{INDENT}{starlark_string(r)},\n" for r in repos)
    return f"use_repo(\n{INDENT}{proxy},\n{body})"


def _render_use_repo(module: cst.Module, call: cst.Call, proxy: str, repos: set[str]) -> str:
    opening, comments, dangling = arg_comments(call)
    entries: dict[str, tuple[tuple[str, ...], str]] = {}
    others: list[str] = []
    for arg, comment in list(zip(call.args, comments, strict=True))[1:]:
        value = arg.value
        if arg.keyword is None and isinstance(value, cst.SimpleString):
            name = value.evaluated_value
            assert isinstance(name, str)
            if name in repos or is_keep(comment.trailing):
                entries[name] = (comment.before, comment.trailing)
            continue
        # `alias = "repo"` mappings are the user's; keep them verbatim after the list.
        trailing = f"  {comment.trailing}" if comment.trailing else ""
        others.extend(f"{INDENT}{c}\n" for c in comment.before)
        code = module.code_for_node(arg).rstrip().rstrip(",")
        others.append(f"{INDENT}{code},{trailing}\n")
    for name in repos:
        entries.setdefault(name, ((), ""))
    if not entries and not others and not opening and not dangling:
        return f"use_repo({proxy})"
    lines = ["use_repo(" + (f"  {opening}" if opening else "") + "\n", f"{INDENT}{proxy},\n"]
    for name in sorted(entries):
        before, trailing = entries[name]
        lines.extend(f"{INDENT}{c}\n" for c in before)
        suffix = f"  {trailing}" if trailing else ""
        lines.append(f"{INDENT}{starlark_string(name)},{suffix}\n")
    lines.extend(others)
    lines.extend(f"{INDENT}{c}\n" for c in dangling)
    lines.append(")")
    return "".join(lines)
