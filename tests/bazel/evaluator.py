"""A loading-phase Bazel, enough to evaluate this repository's Starlark with starlark-pyo3.

BUILD files, MODULE.bazel and our `rules/*.bzl` run in a real Starlark interpreter; every
external rule, macro and extension tag, and Bazel's own functions, are stand-ins built from the
facts file (tests/bazel/facts.json, written by `make bazel-facts` from the rule sets' sources):
each call is checked by `calls.Checker` and records a target. The result is the target graph
the tests assert on. BUILD and MODULE files are parsed in a dialect without `def`, `lambda` or
f-strings, as Bazel's BUILD dialect forbids them.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import starlark as sl
from bazel_facts.model import Facts, load
from calls import Checker, EvalError

FACTS = Path(__file__).parent / "facts.json"
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

__all__ = ["EvalError", "ModuleFile", "Target", "Workspace", "canonical", "facts"]


@cache
def facts() -> Facts:
    return load(FACTS)


@dataclass
class Target:
    label: str
    kind: str
    attrs: dict[str, Any]
    # Where the rule or macro was read, for error messages.
    source: str = ""
    # Its rule writes an executable named like the target (`<package>/<name>`).
    executable: bool = False


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


def check_loads(text: str, where: str, known: Facts) -> None:
    """Every `load()` of an external file names a file with facts and symbols it exports."""
    for node in ast.walk(ast.parse(text)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
            continue
        if node.func.id != "load" or not node.args or not isinstance(node.args[0], ast.Constant):
            continue
        label = str(node.args[0].value)
        if not label.startswith("@"):
            continue
        bzl = known.files.get(label)
        if bzl is None:
            raise EvalError(
                f"{where}:{node.lineno}: load({label!r}): no facts for this file "
                f"(tests/bazel/facts.json; after a change: {known.command})"
            )
        symbols = [str(a.value) for a in node.args[1:] if isinstance(a, ast.Constant)]
        symbols += [str(k.value.value) for k in node.keywords if isinstance(k.value, ast.Constant)]
        for symbol in symbols:
            if symbol not in bzl.exports:
                raise EvalError(
                    f"{where}:{node.lineno}: load({label!r}, {symbol!r}): the file does not export "
                    f"{symbol!r}; its exports, read from {bzl.provenance}: {', '.join(sorted(bzl.exports))}"
                )


class Workspace:
    """Evaluates the Starlark of one source tree."""

    def __init__(self, root: Path, known: Facts | None = None) -> None:
        self.root = root
        self.facts = known or facts()
        self.checker = Checker(self.facts)
        self.targets: dict[str, Target] = {}
        self.packages: set[str] = set()
        self._package = ""
        self._bzl: dict[str, sl.FrozenModule] = {}
        self._dialect = _build_dialect()

    # --- files -----------------------------------------------------------------------
    def build_files(self) -> list[str]:
        """Every package (directory with a BUILD.bazel) outside .bazelignore, relative, sorted."""
        ignore_file = self.root / ".bazelignore"
        ignored = ignore_file.read_text().split() if ignore_file.is_file() else []
        found = []
        for path in sorted(self.root.rglob("BUILD.bazel")):
            rel = path.parent.relative_to(self.root)
            if SKIP_DIRS.intersection(rel.parts):
                continue
            if any(rel.as_posix() == i or rel.is_relative_to(i) for i in ignored):
                continue
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
        rel = str(path.relative_to(self.root))
        text = path.read_text()
        try:
            ast_ = sl.parse(rel, text, dialect)
        except sl.StarlarkError as err:
            raise EvalError(str(err)) from err
        check_loads(text, rel, self.facts)
        try:
            sl.eval(module, ast_, GLOBALS, sl.FileLoader(self._load))
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
        """The file's exports, as the facts describe them (check_loads ran before)."""
        module = sl.Module()
        for symbol, export in self.facts.files[label].exports.items():
            if export.kind == "rule" and export.ref:
                module.add_callable(symbol, self._rule(symbol, export.ref))
            elif export.kind == "macro" and export.ref:
                module.add_callable(symbol, self._macro(symbol, export.ref))
            else:
                module.add_callable(
                    symbol, self._unmodelled(symbol, export.kind, export.provenance)
                )
        return module.freeze()

    def _unmodelled(self, symbol: str, kind: str, where: str) -> Callable[..., None]:
        def call(*args: Any, **kwargs: Any) -> None:
            raise EvalError(
                f"//{self._package}: {symbol} is a {kind} ({where}); the evaluator models rules and macros"
            )

        return call

    # --- native ----------------------------------------------------------------------
    def _function(self, name: str) -> Callable[..., Any]:
        function = self.facts.bazel.build_functions[name]

        def call(*args: Any, **kwargs: Any) -> Any:
            self.checker.check_function(name, function, args, kwargs, f"//{self._package}")
            if name == "glob":
                return self._glob(*args, **kwargs)
            if name == "package_name":
                return self._package
            return None

        return call

    def _native_rule(self, name: str) -> Callable[..., None]:
        rule = self.facts.bazel.native_rules[name]

        def call(**kwargs: Any) -> None:
            self.checker.check_rule(rule, kwargs, f"//{self._package}:{kwargs.get('name')}")
            self._add(name, kwargs, rule.provenance)

        return call

    def _new_module(self, package: str, bzl: str = "") -> sl.Module:
        module = sl.Module()
        for name in ("package_name", "glob", "exports_files", "package"):
            module.add_callable(f"_{name}", self._function(name))
        module.add_callable("_label", lambda s: canonical(s, package) if bzl else s)
        module.add_callable("platform", self._native_rule("platform"))
        module.add_callable("_alias", self._native_rule("alias"))
        prelude = (
            "native = struct(package_name = _package_name, glob = _glob, "
            "alias = _alias, exports_files = _exports_files)\n"
            "glob = _glob\nexports_files = _exports_files\nalias = _alias\npackage = _package\n"
            "Label = _label\n"
        )
        sl.eval(module, sl.parse("<prelude>", prelude), GLOBALS)
        return module

    def _glob(self, include: list[str], exclude: list[str] | None = None, **_: Any) -> list[str]:
        base = self.root / self._package
        names = sorted(
            p.relative_to(base).as_posix()
            for p in base.rglob("*")
            if p.is_file() and not SKIP_DIRS.intersection(p.relative_to(base).parts)
        )
        matched = [n for n in names if any(_glob_match(n, pat) for pat in include)]
        return [n for n in matched if not any(_glob_match(n, p) for p in exclude or [])]

    def _add(
        self, kind: str, kwargs: dict[str, Any], source: str, executable: bool = False
    ) -> None:
        label = f"//{self._package}:{kwargs['name']}"
        if label in self.targets:
            raise EvalError(f"{label} is defined twice")
        self.targets[label] = Target(label, kind, dict(kwargs), source, executable)

    def _rule(self, symbol: str, ref: str) -> Callable[..., None]:
        rule = self.facts.rules[ref]

        def call(**kwargs: Any) -> None:
            self.checker.check_rule(rule, kwargs, f"//{self._package}:{kwargs.get('name')}")
            self._add(symbol, kwargs, rule.provenance, rule.executable or rule.test)

        return call

    def _macro(self, symbol: str, ref: str) -> Callable[..., None]:
        macro = self.facts.macros[ref]

        def call(**kwargs: Any) -> None:
            self.checker.check_macro(macro, kwargs, f"//{self._package}:{kwargs.get('name')}")
            rules = [self.facts.rules[r] for r in macro.forwards]
            self._add(symbol, kwargs, macro.provenance, any(r.executable or r.test for r in rules))

        return call

    def check_output_paths(self) -> None:
        """No executable's output `<package>/<name>` is a directory holding sources of its own
        package: outputs made per source (compiled .pyc files, say) land under that path, and
        Bazel refuses an output that is a path prefix of another."""
        sources: dict[str, set[str]] = {}
        for target in self.targets.values():
            package = target.label[2:].partition(":")[0]
            srcs = target.attrs.get("srcs") or []
            sources.setdefault(package, set()).update(s for s in srcs if isinstance(s, str))
        for target in sorted(self.targets.values(), key=lambda t: t.label):
            package, _, name = target.label[2:].partition(":")
            inside = [s for s in sources.get(package, ()) if s.startswith(name + "/")]
            if target.executable and (self.root / package / name).is_dir() and inside:
                build = Path(package) / "BUILD.bazel"
                text = (self.root / build).read_text()
                match = re.search(rf'^\s*name = "{re.escape(name)}",', text, re.MULTILINE)
                line = text[: match.start()].count("\n") + 1 if match else 1
                raise EvalError(
                    f"{build}:{line}: {target.label} ({target.kind}) name: its output "
                    f"{package}/{name} is the directory of its package's sources "
                    f"({sorted(inside)[0]}, …); rename the target"
                )

    # --- MODULE.bazel ----------------------------------------------------------------
    def load_module_file(self) -> ModuleFile:
        result = ModuleFile()
        module = sl.Module()
        functions = self.facts.bazel.module_functions

        def fn(
            name: str, sink: Callable[[tuple[Any, ...], dict[str, Any]], None]
        ) -> Callable[..., None]:
            def call(*args: Any, **kwargs: Any) -> None:
                self.checker.check_function(name, functions[name], args, kwargs, "MODULE.bazel")
                sink(args, kwargs)

            return call

        module.add_callable("module", fn("module", lambda a, kw: result.module.update(kw)))
        module.add_callable(
            "bazel_dep",
            fn(
                "bazel_dep",
                lambda a, kw: result.bazel_deps.__setitem__(kw["name"], kw.get("version", "")),
            ),
        )
        extensions = [
            (label, name, self.facts.extensions[export.ref])
            for label, bzl in self.facts.files.items()
            for name, export in bzl.exports.items()
            if export.kind == "module_extension" and export.ref
        ]
        proxies = []
        for index, (bzl, ext, extension) in enumerate(extensions):
            fields = [f'_id = "{index}"']
            for tag, tag_class in extension.tag_classes.items():
                sink = result.tags.setdefault((bzl, ext), {}).setdefault(tag, [])
                name = f"_tag_{index}_{tag}"
                module.add_callable(name, self._tag(f"{ext}.{tag}", tag_class, sink))
                fields.append(f"{tag} = {name}")
            proxies.append(f'("{bzl}", "{ext}"): struct({", ".join(fields)})')
        ids = {str(i): (bzl, ext) for i, (bzl, ext, _) in enumerate(extensions)}
        use_extension = functions["use_extension"]

        def use_extension_known(bzl: str, ext: str, kwargs: dict[str, Any]) -> None:
            self.checker.check_function(
                "use_extension", use_extension, (bzl, ext), kwargs, "MODULE.bazel"
            )
            if (bzl, ext) not in {(b, e) for b, e, _ in extensions}:
                raise EvalError(
                    f"MODULE.bazel: use_extension({bzl!r}, {ext!r}): no facts for this extension "
                    f"(tests/bazel/facts.json; after a change: {self.facts.command})"
                )

        def use_repo(ext_id: str, repos: list[str], aliases: dict[str, str]) -> None:
            result.use_repo.setdefault(ids[ext_id], []).extend([*repos, *aliases.values()])

        module.add_callable("_known", use_extension_known)
        module.add_callable("_use_repo", use_repo)
        prelude = (
            "_PROXIES = {" + ", ".join(proxies) + "}\n"
            "def use_extension(extension_bzl_file, extension_name, **kwargs):\n"
            "    _known(extension_bzl_file, extension_name, kwargs)\n"
            "    return _PROXIES[(extension_bzl_file, extension_name)]\n"
            "def use_repo(extension_proxy, *args, **kwargs):\n"
            "    _use_repo(extension_proxy._id, list(args), kwargs)\n"
        )
        sl.eval(module, sl.parse("<module prelude>", prelude), GLOBALS)
        self._eval(module, self.root / "MODULE.bazel", self._dialect)
        return result

    def _tag(self, owner: str, tag_class: Any, sink: list[dict[str, Any]]) -> Callable[..., None]:
        def call(**kwargs: Any) -> None:
            self.checker.check_tag(owner, tag_class, kwargs, "MODULE.bazel")
            sink.append(kwargs)

        return call


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
