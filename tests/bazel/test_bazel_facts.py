"""The facts extractor's parts on small inputs made here: version order, minimal version
selection, precondition evaluation, and the static Starlark reader on a git repository."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from bazel_facts import preconditions
from bazel_facts.errors import FactsError
from bazel_facts.gitfs import GitTree
from bazel_facts.model import Dep, ModuleFacts, Registry, Release
from bazel_facts.registry import select
from bazel_facts.starlark import Reader, Repo
from bazel_facts.symbols import SymbolFacts
from bazel_facts.versions import Version, satisfies


def test_versions_order_as_the_registry_resolver_does() -> None:
    ordered = ["0.0.9", "0.0.10", "1.0.0-rc1", "1.0.0", "1.0.0.bcr.1", "1.0.1", "1.10.0", ""]
    assert sorted(ordered, key=Version) == ordered
    assert satisfies("7.7.1", ">=7.1.0") and not satisfies("7.2.0", ">=7.2.1")
    assert not satisfies("7.0.0", "-7.0.0")


def _release(deps: dict[str, str]) -> Release:
    return Release("x", 0, [], [Dep(n, v, f"{n}@{v}") for n, v in deps.items()], "o/r", "v")


def test_minimal_version_selection_takes_the_highest_request_and_prunes() -> None:
    graph = {
        "a": {"1.0": {"b": "1.0"}},
        "b": {"1.0": {"old": "1.0"}, "2.0": {}},
        "c": {"1.0": {"b": "2.0"}},
        "old": {"1.0": {}},
    }
    registry = Registry("c0", "d", "bcr", {
        name: ModuleFacts(list(releases), "m", {}, {v: _release(d) for v, d in releases.items()})
        for name, releases in graph.items()
    })  # fmt: skip
    chosen = select(registry, [Dep("a", "1.0", "root"), Dep("c", "1.0", "root")])
    # b 2.0 wins; b 1.0's dependency on `old` goes with it.
    assert chosen == {"a": "1.0", "b": "2.0", "c": "1.0"}
    with pytest.raises(FactsError, match="root: no registry facts for a@9"):
        select(registry, [Dep("a", "9", "root")])


def test_preconditions_evaluate_or_say_they_cannot() -> None:
    cond = "ctx.attr.base and (ctx.attr.os or ctx.attr.architecture)"
    assert preconditions.evaluate(cond, {"base": "@b", "os": "linux", "architecture": ""}) is True
    assert preconditions.evaluate(cond, {"base": "@b", "os": "", "architecture": ""}) is False
    assert preconditions.evaluate("len(ctx.attr.x) > 0", {}) is None
    assert preconditions.evaluate("attrs.get('v') in ('PY2',)", {"v": "PY2"}) is True


def _git_repo(path: Path, files: dict[str, str]) -> GitTree:
    for rel, text in files.items():
        (path / rel).parent.mkdir(parents=True, exist_ok=True)
        (path / rel).write_text(text)

    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(path), *args], check=True, capture_output=True)

    git("init", "-q")
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x")
    git("tag", "v1")
    return GitTree(path / ".git", "v1", "owner/rules_x")


RULES_X = {
    "BUILD.bazel": "",
    "x/BUILD.bazel": "",
    "x/defs.bzl": """
load("//x/private:impl.bzl", _x_rule = "x_rule")
load(":helpers.bzl", "COMMON")

x_rule = _x_rule

def x_macro(name, mode = "fast", **kwargs):
    if mode not in ("fast", "slow"):
        fail("bad mode")
    _x_rule(name = name, mode = mode, **kwargs)
""",
    "x/helpers.bzl": 'COMMON = {"srcs": attr.label_list(allow_files = True)}\n',
    "x/private/BUILD.bazel": "",
    "x/private/impl.bzl": """
load("//x:helpers.bzl", "COMMON")

_MODES = ["fast", "slow"]

def _kwargs(extra):
    attrs = dict(COMMON)
    attrs.update(extra)
    return {"implementation": _impl, "attrs": attrs}

def _impl(ctx):
    if ctx.attr.mode == "slow" and not ctx.attr.srcs:
        fail("slow needs srcs")

x_rule = rule(**_kwargs({"mode": attr.string(default = "fast", values = _MODES)}))
""",
}


def _reader(tree: GitTree) -> Reader:
    repo = Repo("rules_x", "1.0", tree, {"rules_x": "rules_x"})
    return Reader({"rules_x": repo}, frozenset({"label_list", "string"}))


def test_the_static_reader_follows_loads_merges_and_helper_functions(tmp_path: Path) -> None:
    symbols = SymbolFacts(_reader(_git_repo(tmp_path, RULES_X)))
    symbols.add_file("@rules_x//x:defs.bzl", "rules_x", "x/defs.bzl")
    exports = symbols.out.files["@rules_x//x:defs.bzl"].exports
    assert {n: e.kind for n, e in exports.items()} == {"x_macro": "macro", "x_rule": "rule"}
    rule = symbols.out.rules["@rules_x//x/private:impl.bzl%x_rule"]
    assert rule.provenance == "owner/rules_x@v1:x/private/impl.bzl:15"
    assert rule.attrs["mode"].values == ["fast", "slow"] and rule.attrs["mode"].default == "fast"
    assert rule.attrs["srcs"].provenance == "owner/rules_x@v1:x/helpers.bzl:1"
    (pre,) = rule.preconditions
    assert (pre.uses, pre.message) == (["mode", "srcs"], "slow needs srcs")
    macro = symbols.out.macros["@rules_x//x:defs.bzl%x_macro"]
    assert macro.forwards == ["@rules_x//x/private:impl.bzl%x_rule"]
    assert macro.params["mode"].forwarded_to == ["@rules_x//x/private:impl.bzl%x_rule.mode"]
    assert [p.condition for p in macro.preconditions] == ["mode not in ('fast', 'slow')"]


def test_the_static_reader_names_file_and_line_of_what_it_cannot_follow(tmp_path: Path) -> None:
    files = dict(RULES_X)
    files["x/helpers.bzl"] = "COMMON = make_attrs()\n"
    symbols = SymbolFacts(_reader(_git_repo(tmp_path, files)))
    with pytest.raises(
        FactsError, match=r"owner/rules_x@v1:x/helpers\.bzl:1: unknown function make_attrs"
    ):
        symbols.add_file("@rules_x//x:defs.bzl", "rules_x", "x/defs.bzl")
