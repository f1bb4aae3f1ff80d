"""What go_deps will do with the Go modules the build uses, decided from the facts (Gazelle's
per-path defaults and fallbacks, the go_deps tag classes) and the Go module cache (`go list -m
-json all` in go.work mode gives each module's directory; `make test` fills the cache):

- a module that ships BUILD files keeps them unless its build_file_generation is `clean`;
  then every label our BUILD files use in its repository must name a target they define;
- a module of a package the engine compiles that holds .proto files needs the directive
  `gazelle:proto disable`, or Gazelle writes proto rules and the build compiles protoc from
  C++ sources (a C++ toolchain becomes a build requirement).
"""

from __future__ import annotations

import ast
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bazel_facts.model import Facts
from calls import EvalError
from evaluator import ModuleFile, Workspace
from policy_builder.bazel.gopackages import json_objects
from policy_builder.bazel.naming import repo_name

GO_DEPS = ("@gazelle//:extensions.bzl", "go_deps")
GO_DEPS_EXTENSION = "@gazelle//internal/bzlmod:go_deps.bzl%go_deps"
PROTO_DISABLE = ("gazelle:proto disable", "gazelle:proto disable_global")


@dataclass(frozen=True)
class GoModule:
    path: str
    version: str
    dir: Path | None
    main: bool


def _go(root: Path, *args: str) -> str:
    result = subprocess.run(["go", *args], cwd=root, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise EvalError(
            f"go {' '.join(args)}: {result.stderr.strip()} (run `make go-mod-download`)"
        )
    return result.stdout


def go_modules(root: Path) -> dict[str, GoModule]:
    """The build list of the root go.work, each module with its directory in the cache."""
    return {
        m["Path"]: GoModule(
            m["Path"],
            m.get("Version", ""),
            Path(m["Dir"]) if m.get("Dir") else None,
            bool(m.get("Main")),
        )
        for m in json_objects(_go(root, "list", "-m", "-json", "all"))
    }


def compiled_packages(root: Path, modules: Mapping[str, GoModule]) -> dict[str, str]:
    """Import path → module path of every package the engine binary and the policies compile."""
    policies = sorted(
        f"./{m.dir.relative_to(root.resolve()).as_posix()}/..."
        for m in modules.values()
        if m.main and m.dir is not None and m.dir.is_relative_to(root.resolve() / "policies")
    )
    out = _go(root, "list", "-deps", "-f", "{{.ImportPath}} {{if .Module}}{{.Module.Path}}{{end}}",
              "./engine", *policies)  # fmt: skip
    return dict(
        line.split(" ", 1) for line in out.splitlines() if " " in line and line.split(" ", 1)[1]
    )


class GazelleSettings:
    """go_deps' choice of build_file_generation and directives per module path, in its order:
    a gazelle_override for the path (all its attributes, tag defaults included), then
    gazelle_default_attributes, then Gazelle's per-path defaults, then its fallback."""

    def __init__(self, known: Facts, module: ModuleFile) -> None:
        self.facts = known
        tags = module.tags.get(GO_DEPS, {})
        self.tag_classes = known.extensions[GO_DEPS_EXTENSION].tag_classes
        self.overrides = {t["path"]: t for t in tags.get("gazelle_override", [])}
        defaults = tags.get("gazelle_default_attributes", [])
        self.default_attributes = defaults[0] if defaults else {}

    def get(self, path: str, attribute: str) -> tuple[Any, str]:
        """The value and where it comes from."""
        gazelle = self.facts.gazelle
        if path in self.overrides:
            tag = self.tag_classes["gazelle_override"].attrs[attribute]
            value = self.overrides[path].get(attribute, tag.default)
            return (
                value,
                f"MODULE.bazel go_deps.gazelle_override(path = {path!r}) ({tag.provenance})",
            )
        if self.default_attributes.get(attribute):
            return self.default_attributes[
                attribute
            ], "MODULE.bazel go_deps.gazelle_default_attributes"
        table: Mapping[str, Any] = {
            "directives": gazelle.directives_by_path,
            "build_file_generation": gazelle.build_file_generation_by_path,
        }[attribute]
        if path in table:
            return table[path], gazelle.provenance[f"{attribute}_by_path:{path}"]
        return gazelle.fallbacks[attribute], gazelle.provenance[f"fallback:{attribute}"]


def _build_file(directory: Path) -> Path | None:
    for name in ("BUILD.bazel", "BUILD"):
        if (directory / name).is_file():
            return directory / name
    return None


def _target_names(build: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(build.read_text())):
        if isinstance(node, ast.Call):
            for kw in node.keywords:
                if kw.arg == "name" and isinstance(kw.value, ast.Constant):
                    names.append(str(kw.value.value))
    return sorted(names)


def check_shipped_build_files(
    workspace: Workspace, module: ModuleFile, modules: Mapping[str, GoModule]
) -> None:
    """Every label into a Go repository that keeps its shipped BUILD files names a target
    they define."""
    settings = GazelleSettings(workspace.facts, module)
    by_repo = {repo_name(m.path): m for m in modules.values() if not m.main}
    go_repos = set(module.use_repo.get(GO_DEPS, []))
    for target in sorted(workspace.targets.values(), key=lambda t: t.label):
        for key in ("deps", "embed"):
            for dep in target.attrs.get(key) or []:
                repo, _, rest = dep.lstrip("@").partition("//")
                if not dep.startswith("@") or repo not in go_repos:
                    continue
                go_module = by_repo.get(repo)
                if go_module is None or go_module.dir is None:
                    raise EvalError(
                        f"{target.label}: {dep}: no Go module in the build list has repo {repo} (run `make go-mod-download`)"
                    )
                mode, why = settings.get(go_module.path, "build_file_generation")
                package, _, name = rest.partition(":")
                name = name or package.rsplit("/", 1)[-1]
                build = _build_file(go_module.dir / package)
                if mode == "clean" or build is None:
                    continue
                names = _target_names(build)
                if name not in names:
                    shipped = build.relative_to(go_module.dir)
                    raise EvalError(
                        f"{target.label} ({key}): {dep}: {go_module.path}@{go_module.version} ships "
                        f"{shipped}, which defines no target {name!r} (it has {', '.join(names)}); "
                        f"go_deps keeps shipped BUILD files unless build_file_generation is "
                        f"'clean', and here it is {mode!r} ({why}); add "
                        f'go_deps.gazelle_override(path = "{go_module.path}", build_file_generation = "clean")'
                    )


def check_proto_rules(workspace: Workspace, module: ModuleFile, modules: Mapping[str, GoModule],
                      packages: Mapping[str, str]) -> None:  # fmt: skip
    """No compiled package sits beside .proto files Gazelle would turn into proto rules (it
    then embeds a go_proto_library in the package's go_library). .proto files elsewhere in a
    module (testdata, other directories) make rules nothing here depends on."""
    settings = GazelleSettings(workspace.facts, module)
    for package, path in sorted(packages.items()):
        go_module = modules.get(path)
        if go_module is None or go_module.main or go_module.dir is None:
            continue
        directory = go_module.dir / package[len(path) :].lstrip("/")
        protos = sorted(p.name for p in directory.glob("*.proto"))
        if not protos:
            continue
        directives, why = settings.get(path, "directives")
        if any(d in PROTO_DISABLE for d in directives):
            continue
        raise EvalError(
            f"{package} ({path}@{go_module.version}), which the engine compiles, sits beside "
            f"{', '.join(protos)}, and the module's directives {directives} ({why}) lack "
            f"'gazelle:proto disable': Gazelle would write proto rules and the build would "
            f"compile protoc from C++ sources; add it in a go_deps.gazelle_override for {path!r} "
            f"(keeping Gazelle's own directives for it)"
        )
