"""Stand-in rule sets for Bazel 4.2.3 (WORKSPACE mode), written into a temporary directory and
generated from the facts file alone.

For every external .bzl file the tree loads, a stand-in file exports the same rules and
macros: each rule declares exactly the attributes (names, types, mandatory flags, allowed
values) the facts list for the real rule, so Bazel itself rejects unknown attributes, wrong
types and missing mandatory ones; each macro takes exactly the real macro's parameters and
forwards to the stand-in of the rule it forwards to, turning a dict or list into a file where
the facts say the macro does (a parameter it tests with `types.is_dict`/`is_list` and passes
to a label attribute). Attributes that must carry Go providers (`providers = [GoInfo]` in
rules_go) carry a stand-in provider, and the Go rules check what rules_go checks at analysis
time (embedded libraries share one import path; no two linked packages share one). The real
rules' and macros' fail() preconditions on attributes (facts) run as written. Nothing builds:
the suite runs `--nobuild`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from bazel_facts.model import Attr, Facts, Macro, Rule

# Bazel 4 lacks attr.string_keyed_label_dict (Bazel 7.4+); a string_dict accepts the same
# BUILD values.
BAZEL4_TYPES = {"string_keyed_label_dict": "string_dict"}
LABEL_TYPES = {"label", "label_list", "label_keyed_string_dict"}

_COMMON = '''
GoStandinInfo = provider(fields = ["importpath", "label", "transitive"])

def _write_impl(ctx):
    out = ctx.actions.declare_file(ctx.label.name + ".txt")
    ctx.actions.write(out, "\\n".join(ctx.attr.content))
    return [DefaultInfo(files = depset([out]))]

_write = rule(_write_impl, attrs = {"content": attr.string_list()})

def _as_file(name, kind, value):
    """Like the real macros: a dict or list becomes a file target, a label stays."""
    if type(value) == "dict":
        value = ["%s=%s" % (k, v) for k, v in value.items()]
    if type(value) == "list":
        _write(name = "%s_write_%s" % (name, kind), content = value)
        return ":%s_write_%s" % (name, kind)
    return value

def _generic(ctx, outputs, executable):
    """Writes the declared outputs (attr.output / output_list) and one file of its own."""
    files = []
    for name in outputs:
        value = getattr(ctx.outputs, name)
        files += value if type(value) == "list" else ([value] if value else [])
    own = ctx.actions.declare_file(ctx.label.name + (".sh" if executable else ".out"))
    for f in files + [own]:
        ctx.actions.write(f, "", is_executable = executable)
    if executable:
        return [DefaultInfo(files = depset(files + [own]), executable = own)]
    return [DefaultInfo(files = depset(files + [own]))]

def _archives(ctx):
    direct = [d[GoStandinInfo] for d in ctx.attr.deps]
    return depset(
        [struct(importpath = d.importpath, label = d.label) for d in direct],
        transitive = [d.transitive for d in direct],
    )

def _embedded_importpath(ctx):
    paths = [e[GoStandinInfo].importpath for e in ctx.attr.embed]
    if ctx.attr.importpath:
        paths.append(ctx.attr.importpath)
    for p in paths:
        if p != paths[0]:
            fail("embedded libraries must share one importpath: %s" % paths)
    return paths[0] if paths else ""

def _go_library_impl(ctx):
    out = ctx.actions.declare_file(ctx.label.name + ".a")
    ctx.actions.write(out, "")
    return [
        DefaultInfo(files = depset([out])),
        GoStandinInfo(importpath = _embedded_importpath(ctx), label = str(ctx.label), transitive = _archives(ctx)),
    ]

def _go_binary_impl(ctx):
    archives = {}
    deps = depset(transitive = [_archives(ctx)] + [e[GoStandinInfo].transitive for e in ctx.attr.embed])
    for a in deps.to_list():
        if a.importpath in archives and archives[a.importpath] != a.label:
            fail("package conflict: %s and %s both have importpath %s" % (archives[a.importpath], a.label, a.importpath))
        archives[a.importpath] = a.label
    _embedded_importpath(ctx)
    for key in ctx.attr.x_defs:
        if "." not in key:
            fail("x_defs key %s is not <importpath>.<Var>" % key)
    out = ctx.actions.declare_file(ctx.attr.out or ctx.label.name)
    ctx.actions.write(out, "", is_executable = True)
    return [DefaultInfo(files = depset([out]), executable = out)]
'''

# rules_go's rules get implementations that check what rules_go checks; every other rule a
# plain one by kind.
GO_IMPLS = {
    "go_library": "_go_library_impl",
    "go_tool_library": "_go_library_impl",
    "go_binary": "_go_binary_impl",
    "go_non_executable_binary": "_go_binary_impl",
}


def _starlark(value: Any) -> str:
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_starlark(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_starlark(k)}: {_starlark(v)}" for k, v in value.items()) + "}"
    return json.dumps(value)


class StandinFiles:
    def __init__(self, facts: Facts) -> None:
        self.facts = facts
        bazel = facts.bazel
        # Attributes Bazel adds by itself (declaring them again is an error).
        self.builtin = (
            set(bazel.common_attrs) | set(bazel.executable_attrs) | set(bazel.test_attrs)
            | set(bazel.native_rules["platform"].attrs)
        )  # fmt: skip

    def attr(self, name: str, attr: Attr) -> str:
        kind = BAZEL4_TYPES.get(attr.type, attr.type)
        args = []
        if attr.mandatory:
            args.append("mandatory = True")
        if attr.values:
            args.append(f"values = {_starlark(attr.values)}")
            default = attr.default if attr.default in attr.values else attr.values[0]
            args.append(f"default = {_starlark(default)}")
        if kind in LABEL_TYPES:
            if any(p.endswith("GoInfo") for p in attr.providers):
                args.append("providers = [GoStandinInfo]")
            else:
                args.append("allow_files = True")
        return f'        "{name}": attr.{kind}({", ".join(args)}),\n'

    def rule(self, ident: str, rule: Rule) -> str:
        attrs = "".join(
            self.attr(n, a) for n, a in sorted(rule.attrs.items()) if n not in self.builtin
        )
        outputs = [n for n, a in sorted(rule.attrs.items()) if a.type in ("output", "output_list")]
        executable = rule.executable or rule.test
        call = f"{GO_IMPLS[rule.name]}(ctx)" if rule.name in GO_IMPLS else (
            f"_generic(ctx, {_starlark(outputs)}, {executable})")  # fmt: skip
        flags = "executable = True, " if rule.executable and not rule.test else ""
        flags += "test = True, " if rule.test else ""
        # The real implementation's fail() preconditions, as written there (they read ctx.attr).
        checks = "".join(
            f"    if {p.condition}:\n        fail({_starlark(p.message)})\n"
            for p in rule.preconditions
            if "ctx.attr." in p.condition
        )
        return (
            f"# {rule.provenance}\ndef _impl{ident}(ctx):\n{checks}    return {call}\n\n"
            f"{ident} = rule(_impl{ident}, {flags}attrs = {{\n{attrs}    }})\n\n"
        )

    def macro(self, symbol: str, macro: Macro, rule_ident: str) -> str:
        rule_id = macro.forwards[0]
        rule = self.facts.rules[rule_id]
        params = [name for name, param in macro.params.items() if param.mandatory]
        passes = []
        for name, param in macro.params.items():
            if not param.mandatory:
                default = None if param.default_source else param.default
                params.append(f"{name} = {_starlark(default)}")
            if name == "name":
                continue
            attrs = [
                t.rpartition(".")[2] for t in param.forwarded_to if t.startswith(rule_id + ".")
            ]
            if not attrs and name in macro.sets and name in rule.attrs:
                attrs = [name]  # set by the macro from this parameter (converted or not)
            for attr in attrs:
                value = name
                if rule.attrs[attr].type == "label":
                    value = f'_as_file(name, "{name}", {name})'
                passes.append(f"{attr} = {value}")
        body = ""
        if macro.kwargs:
            params.append(f"**{macro.kwargs}")
            passes.append(f"**{macro.kwargs}")
            if "name" not in macro.params:  # `def py_binary(**attrs)`: the name is in there
                body = f'    name = {macro.kwargs}.pop("name")\n'
        body += "".join(
            f"    if {p.condition}:\n        fail({_starlark(p.message)})\n"
            for p in macro.preconditions
        )
        args = ", ".join(["name = name", *passes])
        return f"# {macro.provenance}\ndef {symbol}({', '.join(params)}):\n{body}    {rule_ident}({args})\n\n"

    def file(self, label: str) -> str | None:
        """The stand-in of one loaded file, or None if it exports no rule or macro."""
        bzl = self.facts.files[label]
        exports = bzl.exports
        if not any(e.kind in ("rule", "macro") for e in exports.values()):
            return None
        idents: dict[str, str] = {}
        for symbol, export in exports.items():
            if export.kind == "rule" and export.ref and export.ref not in idents:
                idents[export.ref] = symbol
        out = [
            f'"""Stand-in for {label} ({bzl.provenance}), from tests/bazel/facts.json."""\n',
            _COMMON,
        ]
        for _, export in sorted(exports.items()):
            if export.kind == "macro" and export.ref:
                for ref in self.facts.macros[export.ref].forwards:
                    if ref not in idents:
                        idents[ref] = f"_{self.facts.rules[ref].name}_{len(idents)}"
        for ref, ident in sorted(idents.items(), key=lambda item: item[1]):
            out.append(self.rule(ident, self.facts.rules[ref]))
        for symbol, export in sorted(exports.items()):
            if export.kind == "rule" and export.ref and idents[export.ref] != symbol:
                out.append(f"{symbol} = {idents[export.ref]}\n")
            elif export.kind == "macro" and export.ref:
                macro = self.facts.macros[export.ref]
                out.append(self.macro(symbol, macro, idents[macro.forwards[0]]))
            elif export.kind == "provider":
                out.append(f"{symbol} = provider()\n")
            elif export.kind not in ("rule", "macro"):
                out.append(f"{symbol} = None\n")
        return "".join(out)


def _repo(root: Path, name: str, files: Mapping[str, str]) -> Path:
    path = root / name
    path.mkdir(parents=True, exist_ok=True)
    (path / "WORKSPACE").write_text(f'workspace(name = "{name.replace(".", "_")}")\n')
    for rel, content in files.items():
        (path / rel).parent.mkdir(parents=True, exist_ok=True)
        (path / rel).write_text(content)
    return path


def write_standins(root: Path, facts: Facts, go_labels: Iterable[str], oci_repos: Iterable[str],
                   pypi_packages: Iterable[str], rule_set_targets: Iterable[str] = ()) -> str:  # fmt: skip
    """Write every stand-in repository under `root`; return the WORKSPACE text mapping them.
    `rule_set_targets`: labels of a rule set's own targets the tree uses (filegroups here)."""
    standins = StandinFiles(facts)
    rule_sets: dict[str, dict[str, str]] = {}
    for label in facts.files:
        text = standins.file(label)
        if text is None:
            continue
        repo, _, rest = label[1:].partition("//")
        package, _, name = rest.partition(":")
        files = rule_sets.setdefault(repo, {"BUILD.bazel": ""})
        files[f"{package}/{name}" if package else name] = text
        if package:
            files[f"{package}/BUILD.bazel"] = ""
    for label in rule_set_targets:
        repo, _, rest = label[1:].partition("//")
        package, _, name = rest.partition(":")
        build = f"{package}/BUILD.bazel" if package else "BUILD.bazel"
        files = rule_sets.setdefault(repo, {"BUILD.bazel": ""})
        files[build] = files.get(build, "") + (
            f'filegroup(name = "{name}", visibility = ["//visibility:public"])\n'
        )
    repos = {repo: _repo(root, repo, files) for repo, files in rule_sets.items()}
    # What `oci.pull` makes: a stand-in rule of our own (not part of rules_oci's API).
    repos["rules_oci"] = _repo(root, "rules_oci", {**rule_sets.get("rules_oci", {}), "oci/pulled.bzl": (
        'def _impl(ctx):\n    return [DefaultInfo()]\n\n'
        'oci_pulled_image = rule(_impl, attrs = {"digest": attr.string(mandatory = True)})\n')})  # fmt: skip
    # Test rules depend on Bazel's coverage tools, which Bazel 4 would download.
    repos["remote_coverage_tools"] = _repo(root, "remote_coverage_tools", {"BUILD.bazel": (
        'filegroup(name = "coverage_report_generator", visibility = ["//visibility:public"])\n'
        'filegroup(name = "lcov_merger", visibility = ["//visibility:public"])\n')})  # fmt: skip
    py_load = 'load("@rules_python//python:py_library.bzl", "py_library")\n'
    repos["pypi"] = _repo(root, "pypi", {
        f"{p}/BUILD.bazel": py_load + f'py_library(name = "{p}", visibility = ["//visibility:public"])\n'
        for p in pypi_packages
    } | {"BUILD.bazel": ""})  # fmt: skip
    go_packages: dict[str, dict[str, str]] = {}
    go_load = 'load("@rules_go//go:def.bzl", "go_library")\n'
    for label in sorted(set(go_labels)):
        repo, _, rest = label[1:].partition("//")
        pkg, _, name = rest.partition(":")
        files = go_packages.setdefault(repo, {"BUILD.bazel": ""})
        build = f"{pkg}/BUILD.bazel" if pkg else "BUILD.bazel"
        files[build] = (files.get(build) or go_load) + (
            f'go_library(name = "{name}", importpath = "{repo}/{pkg or name}", '
            'visibility = ["//visibility:public"])\n'
        )
    for repo, files in go_packages.items():
        repos[repo] = _repo(root, repo, files)
    oci_load = 'load("@rules_oci//oci:pulled.bzl", "oci_pulled_image")\n'
    for repo in oci_repos:
        repos[repo] = _repo(root, repo, {"BUILD.bazel": oci_load + (
            f'oci_pulled_image(name = "{repo}", digest = "sha256:standin", '
            'visibility = ["//visibility:public"])\n')})  # fmt: skip
    return 'workspace(name = "policy_engine_builder")\n\n' + "".join(
        f'local_repository(\n    name = "{name}",\n    path = "{path}",\n)\n\n'
        for name, path in sorted(repos.items())
    )
