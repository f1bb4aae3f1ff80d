"""A loading-phase Bazel, enough to evaluate this repository's Starlark with starlark-pyo3.

BUILD files, MODULE.bazel and our `rules/*.bzl` run in a real Starlark interpreter; every
external rule, macro and extension tag is a stand-in that checks its arguments against
`schemas` (unknown attribute, wrong type, missing mandatory one, value not allowed: all
errors) and records a target. The result is the target graph the tests assert on.
BUILD and MODULE files are parsed in a dialect without `def`, `lambda` or f-strings, as
Bazel's BUILD dialect forbids them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import schemas
import starlark as sl
from schemas import Attr, Schema

GLOBALS = sl.Globals.extended_by([sl.LibraryExtension.StructType])
SKIP_DIRS = {
    ".git",
    ".venv",
    ".tools",
    ".build",
    "output",
    "node_modules",
    "__pycache__",
}


class EvalError(Exception):
    """A file failed to evaluate or called a rule wrongly."""


@dataclass(frozen=True)
class Partial:
    """What tar.bzl's `mutate(...)` returns (a skylib partial of mtree_mutate)."""

    kwargs: Mapping[str, Any]


@dataclass
class Target:
    label: str
    kind: str
    attrs: dict[str, Any]
    # The stand-in schema's source, for error messages.
    source: str = ""


@dataclass
class ModuleFile:
    """What MODULE.bazel declared."""

    module: dict[str, Any] = field(default_factory=dict)
    bazel_deps: dict[str, str] = field(default_factory=dict)
    # (extension file, name) → tag name → list of tag kwargs
    tags: dict[tuple[str, str], dict[str, list[dict[str, Any]]]] = field(default_factory=dict)
    # (extension file, name) → repos brought into scope by use_repo
    use_repo: dict[tuple[str, str], list[str]] = field(default_factory=dict)


def _build_dialect() -> sl.Dialect:
    dialect = sl.Dialect.standard()
    dialect.enable_def = False
    dialect.enable_lambda = False
    dialect.enable_f_strings = False
    return dialect


def canonical(label: str, package: str) -> str:
    """`:x`, `//a/b`, `@r`, `@r//p` → the full `@repo//pkg:name` / `//pkg:name` form."""
    if label.startswith(":"):
        return f"//{package}{label}"
    repo = ""
    if label.startswith("@"):
        repo, _, rest = label.partition("//")
        if not rest and "//" not in label:
            return f"{repo}//:{repo[1:]}"
        label = "//" + rest
    if not label.startswith("//"):
        return f"//{package}:{label}"
    pkg, _, name = label[2:].partition(":")
    return f"{repo}//{pkg}:{name or pkg.rsplit('/', 1)[-1]}"


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _string_dict(value: Any) -> bool:
    return isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    )


_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "label": lambda v: isinstance(v, str),
    "output": lambda v: isinstance(v, str),
    "bool": lambda v: isinstance(v, bool),
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "label_list": _strings,
    "string_list": _strings,
    "visibility": _strings,
    "string_dict": _string_dict,
    "label_keyed_string_dict": _string_dict,
    "string_list_dict": lambda v: isinstance(v, dict) and all(_strings(x) for x in v.values()),
    "partial": lambda v: isinstance(v, Partial),
}


def _check_type(attr: Attr, value: Any) -> bool:
    return any(_TYPES[kind](value) for kind in attr.type.split("|"))


def check_call(schema: Schema, kwargs: Mapping[str, Any], where: str) -> None:
    """Refuse what the real rule would refuse at loading time."""
    attrs = {
        **(schemas.COMMON if schema.common else {}),
        **(schemas.TEST_COMMON if schema.test else {}),
        **schema.attrs,
    }
    if schema.common:
        attrs["name"] = Attr("string", mandatory=True)
    for key, value in kwargs.items():
        if key not in attrs:
            raise EvalError(f"{where}: {schema.kind} has no attribute {key!r} ({schema.source})")
        if value is None:
            continue
        attr = attrs[key]
        if not _check_type(attr, value):
            raise EvalError(f"{where}: {schema.kind}.{key} must be {attr.type}, got {value!r}")
        if attr.values and value not in attr.values:
            raise EvalError(f"{where}: {schema.kind}.{key}={value!r} not in {attr.values}")
    for key, attr in attrs.items():
        if attr.mandatory and kwargs.get(key) is None:
            raise EvalError(f"{where}: {schema.kind} needs {key!r} ({schema.source})")
    one_of = (kwargs.get("go_mod") is None) != (kwargs.get("go_work") is None)
    if "exactly_one_of_go_mod_go_work" in schema.checks and not one_of:
        raise EvalError(f"{where}: go_deps.from_file takes exactly one of go_mod, go_work")
    if "go_library" in schema.checks and not kwargs.get("importpath"):
        raise EvalError(f"{where}: go_library {kwargs.get('name')} has no importpath")


class Workspace:
    """Evaluates the Starlark of one source tree."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.targets: dict[str, Target] = {}
        self.packages: set[str] = set()
        self._package = ""
        self._bzl: dict[str, sl.FrozenModule] = {}
        self._dialect = _build_dialect()

    # --- files -----------------------------------------------------------------------
    def build_files(self) -> list[str]:
        """Every package (directory with a BUILD.bazel), relative, sorted."""
        found = []
        for path in sorted(self.root.rglob("BUILD.bazel")):
            rel = path.parent.relative_to(self.root)
            if not SKIP_DIRS.intersection(rel.parts):
                found.append(rel.as_posix() if rel.parts else "")
        return found

    def load_all(self) -> None:
        for package in self.build_files():
            self.load_package(package)

    def load_package(self, package: str) -> None:
        path = self.root / package / "BUILD.bazel"
        self._package = package
        self.packages.add(package)
        module = self._new_module(package)
        self._eval(module, path, self._dialect)

    def _eval(self, module: sl.Module, path: Path, dialect: sl.Dialect | None) -> None:
        try:
            ast = sl.parse(str(path.relative_to(self.root)), path.read_text(), dialect)
            sl.eval(module, ast, GLOBALS, sl.FileLoader(self._load))
        except sl.StarlarkError as err:
            raise EvalError(str(err)) from err

    # --- load() ----------------------------------------------------------------------
    def _load(self, label: str) -> sl.FrozenModule:
        key = label if label.startswith("@") else canonical(label, self._package)
        if key in self._bzl:
            return self._bzl[key]
        if label.startswith("@"):
            frozen = self._standin(label)
        else:
            pkg, _, name = key[2:].partition(":")
            if not (self.root / pkg / "BUILD.bazel").is_file():
                raise EvalError(f"load({label!r}): no package //{pkg}")
            module = self._new_module(pkg, bzl=key)
            self._eval(module, self.root / pkg / name, None)
            frozen = module.freeze()
        self._bzl[key] = frozen
        return frozen

    def _standin(self, label: str) -> sl.FrozenModule:
        if label not in schemas.RULES:
            raise EvalError(f"load({label!r}): no stand-in for this file")
        module = sl.Module()
        for symbol, schema in schemas.RULES[label].items():
            module.add_callable(symbol, self._rule(schema))
        if label == "@tar.bzl//tar:tar.bzl":
            module.add_callable("mutate", self._mutate)
        return module.freeze()

    def _mutate(self, **kwargs: Any) -> sl.OpaquePythonObject:
        check_call(schemas.MUTATE, kwargs, f"//{self._package}")
        return sl.OpaquePythonObject(Partial(kwargs))

    # --- native ----------------------------------------------------------------------
    def _new_module(self, package: str, bzl: str = "") -> sl.Module:
        module = sl.Module()
        module.add_callable("_package_name", lambda: self._package)
        module.add_callable("_glob", self._glob)
        module.add_callable("_exports_files", lambda *a, **k: None)
        module.add_callable("_label", lambda s: canonical(s, package) if bzl else s)
        module.add_callable("platform", self._rule(schemas.PLATFORM))
        module.add_callable("_alias", self._rule(schemas.ALIAS))
        prelude = (
            "native = struct(package_name = _package_name, glob = _glob, "
            "alias = _alias, exports_files = _exports_files)\n"
            "glob = _glob\nexports_files = _exports_files\nalias = _alias\nLabel = _label\n"
        )
        sl.eval(module, sl.parse("<prelude>", prelude), GLOBALS)
        return module

    def _glob(self, include: list[str], exclude: list[str] | None = None) -> list[str]:
        base = self.root / self._package
        names = sorted(
            p.relative_to(base).as_posix()
            for p in base.rglob("*")
            if p.is_file() and not SKIP_DIRS.intersection(p.relative_to(base).parts)
        )
        matched = [n for n in names if any(_glob_match(n, pat) for pat in include)]
        return [n for n in matched if not any(_glob_match(n, p) for p in exclude or [])]

    def _rule(self, schema: Schema) -> Callable[..., None]:
        def call(**kwargs: Any) -> None:
            where = f"//{self._package}:{kwargs.get('name')}"
            check_call(schema, kwargs, where)
            label = f"//{self._package}:{kwargs['name']}"
            if label in self.targets:
                raise EvalError(f"{label} is defined twice")
            self.targets[label] = Target(label, schema.kind, dict(kwargs), schema.source)

        return call

    # --- MODULE.bazel ----------------------------------------------------------------
    def load_module_file(self) -> ModuleFile:
        result = ModuleFile()
        module = sl.Module()

        def fn(schema: Schema, sink: Callable[[dict[str, Any]], None]) -> Callable[..., None]:
            def call(**kwargs: Any) -> None:
                check_call(schema, kwargs, "MODULE.bazel")
                sink(kwargs)

            return call

        module.add_callable("module", fn(schemas.MODULE_FUNCTIONS["module"], result.module.update))
        module.add_callable(
            "bazel_dep",
            fn(
                schemas.MODULE_FUNCTIONS["bazel_dep"],
                lambda kw: result.bazel_deps.__setitem__(kw["name"], kw.get("version", "")),
            ),
        )
        proxies = []
        for index, ((bzl, ext), tags) in enumerate(schemas.EXTENSIONS.items()):
            fields = [f'_id = "{index}"']
            for tag, schema in tags.items():
                sink = result.tags.setdefault((bzl, ext), {}).setdefault(tag, [])
                name = f"_tag_{index}_{tag}"
                module.add_callable(name, fn(schema, sink.append))
                fields.append(f"{tag} = {name}")
            proxies.append(f'("{bzl}", "{ext}"): struct({", ".join(fields)})')
        ids = {str(i): key for i, key in enumerate(schemas.EXTENSIONS)}

        def use_extension_known(bzl: str, ext: str) -> None:
            if (bzl, ext) not in schemas.EXTENSIONS:
                raise EvalError(f"MODULE.bazel: no stand-in for extension {ext} in {bzl}")

        def use_repo(ext_id: str, repos: list[str], aliases: dict[str, str]) -> None:
            result.use_repo.setdefault(ids[ext_id], []).extend([*repos, *aliases.values()])

        module.add_callable("_known", use_extension_known)
        module.add_callable("_use_repo", use_repo)
        prelude = (
            "_PROXIES = {" + ", ".join(proxies) + "}\n"
            "def use_extension(extension_bzl_file, extension_name, dev_dependency = False, "
            "isolate = False):\n"
            "    _known(extension_bzl_file, extension_name)\n"
            "    return _PROXIES[(extension_bzl_file, extension_name)]\n"
            "def use_repo(extension_proxy, *args, **kwargs):\n"
            "    _use_repo(extension_proxy._id, list(args), kwargs)\n"
        )
        sl.eval(module, sl.parse("<module prelude>", prelude), GLOBALS)
        self._eval(module, self.root / "MODULE.bazel", self._dialect)
        return result


def _glob_match(name: str, pattern: str) -> bool:
    """Bazel glob semantics: `*` stays within a directory, `**/` spans any depth."""
    regex = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            regex += "(?:.*/)?"
            i += 3
        elif pattern[i] == "*":
            regex += "[^/]*"
            i += 1
        else:
            regex += re.escape(pattern[i])
            i += 1
    return re.fullmatch(regex, name) is not None
