"""Static reading of .bzl files with Python's `ast` (Starlark is syntactically a Python
subset): module-level names, `load()`s across files and repositories (each module's repository
mapping), dict and list literals, `|` / `+` / `dict()` merges and helper functions simple
enough to run here (assignments, `update`, `for` over known lists, `if` on known values,
`return`). Values are evaluated lazily, only where a fact needs them; what cannot be resolved
there is a `FactsError` naming the file and line."""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .errors import FactsError
from .gitfs import SourceTree

# Names every .bzl file may use without a load(): Starlark's and Bazel's globals. Their values
# are opaque here except for the constructors handled in Reader._builtin.
BUILTINS = frozenset(
    """
    True False None len str int bool float list dict tuple type range enumerate zip sorted
    reversed min max any all hasattr getattr dir hash repr print fail abs
    DefaultInfo OutputGroupInfo RunEnvironmentInfo InstrumentedFilesInfo CcInfo PyInfo
    PyRuntimeInfo ProtoInfo JavaInfo CcToolchainConfigInfo TemplateVariableInfo ToolchainInfo
    ConstraintValueInfo ConstraintSettingInfo PlatformInfo PackageSpecificationInfo
    AnalysisTestResultInfo ExecutionInfo DebugPackageInfo FeatureFlagInfo
    native attr config_common platform_common coverage_common testing json proto cc_common
    apple_common java_common config Label select depset struct provider rule aspect
    transition analysis_test_transition module_extension tag_class repository_rule visibility
    exec_group subrule macro configuration_field
    """.split()  # noqa: SIM905 - a word list reads better than one name per line
)

# native.* functions that make no target: a def calling only these is no macro.
NATIVE_NON_RULES = frozenset(
    """package_name repository_name repo_name glob existing_rule existing_rules
    package_relative_label module_name module_version subpackages package_default_visibility
    """.split()  # noqa: SIM905
)

IMPLICIT_DEFAULTS: dict[str, Any] = {
    "string": "",
    "int": 0,
    "bool": False,
    "label": None,
    "output": None,
    "string_list": [],
    "int_list": [],
    "label_list": [],
    "output_list": [],
    "string_dict": {},
    "string_list_dict": {},
    "label_keyed_string_dict": {},
    "string_keyed_label_dict": {},
}


class Value:
    """A (partially) evaluated Starlark value."""


@dataclass
class Lit(Value):
    value: Any


@dataclass
class Opaque(Value):
    """Something the reader does not model (a transition, a toolchain type, a format call)."""

    source: str
    where: str


@dataclass
class Thunk:
    expr: ast.expr | None
    file: BzlFile | None
    env: dict[str, Value]
    _value: Value | None = None

    def force(self, reader: Reader) -> Value:
        if self._value is None:
            assert self.expr is not None and self.file is not None
            self._value = reader.eval(self.expr, self.file, self.env)
        return self._value


def ready(value: Value) -> Thunk:
    """A thunk whose value is already known."""
    return Thunk(None, None, {}, value)


@dataclass
class DictV(Value):
    items: dict[Any, Thunk]


@dataclass
class ListV(Value):
    items: list[Thunk]


@dataclass
class AttrV(Value):
    type: str
    mandatory: bool
    default: Any
    default_source: bool
    values: list[Any] | None
    where: str
    providers: list[str]


@dataclass
class AttrCtorV(Value):
    """`attr.<kind>` as a value (`getattr(attr, "string_keyed_label_dict", attr.string_dict)`)."""

    kind: str


@dataclass
class FuncV(Value):
    node: ast.FunctionDef
    file: BzlFile

    @property
    def where(self) -> str:
        return self.file.where(self.node.lineno)

    @property
    def id(self) -> str:
        return f"{self.file.label}%{self.node.name}"


@dataclass
class RuleV(Value):
    where: str
    attrs: Thunk | None
    implementation: Thunk | None
    executable: bool
    test: bool
    id: str = ""


@dataclass
class TagClassV(Value):
    where: str
    attrs: Thunk | None


@dataclass
class ExtensionV(Value):
    where: str
    tag_classes: Thunk | None
    id: str = ""


@dataclass
class KindV(Value):
    """provider, repository_rule, aspect: only the kind and definition site are facts."""

    kind: str
    where: str


@dataclass
class StructV(Value):
    fields: dict[str, Thunk]


@dataclass
class Repo:
    """A module's sources: a git snapshot at its tag, and its repository mapping."""

    module: str
    version: str
    tree: SourceTree
    mapping: dict[str, str]


@dataclass
class BzlFile:
    repo: Repo
    path: str
    label: str
    tree: ast.Module
    bindings: dict[str, ast.stmt] = field(default_factory=dict)
    loads: dict[str, tuple[str, str, int]] = field(default_factory=dict)

    def where(self, line: int) -> str:
        return self.repo.tree.where(self.path, line)

    def public_names(self) -> list[str]:
        return sorted(n for n in self.bindings if not n.startswith("_"))


def _walk_no_nested_defs(nodes: list[ast.stmt]) -> Iterator[ast.AST]:
    for node in nodes:
        yield from ast.walk(node)


class _Return(Exception):
    def __init__(self, value: Value) -> None:
        self.value = value


Fallback = Callable[[str, str], "Value | None"]


class Reader:
    def __init__(
        self, repos: dict[str, Repo], attr_kinds: frozenset[str], fallback: Fallback | None = None
    ) -> None:
        self.repos = repos
        # The attr.* constructors this Bazel has (read from its sources).
        self.attr_kinds = attr_kinds
        # Values for names the reader cannot evaluate, from another fact source.
        self.fallback = fallback
        # Why each fallback value was needed: "<file>%<name>: <what the reader could not follow>".
        self.substituted: list[str] = []
        # Modules whose sources were read.
        self.used: set[str] = set()
        self._files: dict[tuple[str, str], BzlFile] = {}
        self._bindings: dict[tuple[str, str], Value] = {}
        self._in_progress: set[tuple[str, str]] = set()
        self._packages: dict[tuple[str, str], str] = {}

    # --- files and labels --------------------------------------------------------------
    def repo(self, module: str, where: str) -> Repo:
        if module not in self.repos:
            raise FactsError(f"{where}: no sources for module {module} (not in the resolved graph)")
        return self.repos[module]

    def package_of(self, repo: Repo, path: str) -> str:
        """The package a file belongs to: its nearest directory with a BUILD file."""
        directory = path.rpartition("/")[0]
        key = (repo.module, directory)
        if key not in self._packages:
            package = directory
            while package:
                if any(
                    repo.tree.read(f"{package}/{b}") is not None for b in ("BUILD.bazel", "BUILD")
                ):
                    break
                package = package.rpartition("/")[0]
            self._packages[key] = package
        return self._packages[key]

    def resolve_label(self, repo: Repo, package: str, label: str, where: str) -> tuple[Repo, str]:
        """A load() label, seen from `package` of `repo` → (repo, path)."""
        target = repo
        if label.startswith("@"):
            apparent, sep, rest = label[1:].lstrip("@").partition("//")
            if not sep:  # load("@tar.bzl", ...) means @tar.bzl//:tar.bzl
                rest = ":" + apparent
            if apparent not in repo.mapping:
                raise FactsError(
                    f"{where}: @{apparent} is not visible from {repo.module} (no bazel_dep)"
                )
            target = self.repo(repo.mapping[apparent], where)
            label = "//" + rest
        if label.startswith("//"):
            pkg, _, name = label[2:].partition(":")
        elif label.startswith(":"):
            pkg, name = package, label[1:]
        else:
            pkg, name = package, label
        return target, f"{pkg}/{name}" if pkg else name

    def file(self, repo: Repo, path: str) -> BzlFile:
        key = (repo.module, path)
        if key not in self._files:
            text = repo.tree.must_read(path)
            self.used.add(repo.module)
            try:
                tree = ast.parse(text)
            except SyntaxError as err:
                raise FactsError(f"{repo.tree.where(path, err.lineno)}: {err.msg}") from err
            package = self.package_of(repo, path)
            name = path[len(package) + 1 :] if package else path
            bzl = BzlFile(repo, path, f"@{repo.module}//{package}:{name}", tree)
            for stmt in tree.body:
                self._index(bzl, stmt)
            self._files[key] = bzl
        return self._files[key]

    def _index(self, bzl: BzlFile, stmt: ast.stmt) -> None:
        if isinstance(stmt, ast.FunctionDef):
            bzl.bindings[stmt.name] = stmt
        elif isinstance(stmt, ast.Assign):
            for target in stmt.targets:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        bzl.bindings[name.id] = stmt
        elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
            call = stmt.value
            if isinstance(call.func, ast.Name) and call.func.id == "load":
                label = ast.literal_eval(call.args[0])
                for arg in call.args[1:]:
                    symbol = ast.literal_eval(arg)
                    bzl.loads[symbol] = (label, symbol, call.lineno)
                for kw in call.keywords:
                    assert kw.arg is not None
                    bzl.loads[kw.arg] = (label, ast.literal_eval(kw.value), call.lineno)

    def loaded_file(self, bzl: BzlFile, label: str, line: int) -> BzlFile:
        package = self.package_of(bzl.repo, bzl.path)
        repo, path = self.resolve_label(bzl.repo, package, label, bzl.where(line))
        return self.file(repo, path)

    # --- names ---------------------------------------------------------------------------
    def binding(self, bzl: BzlFile, name: str) -> Value:
        """The value of a module-level name of `bzl` (its own or loaded)."""
        key = (bzl.label, name)
        if key in self._bindings:
            return self._bindings[key]
        if key in self._in_progress:
            raise FactsError(f"{bzl.label}: {name} refers to itself")
        self._in_progress.add(key)
        try:
            value = self._binding(bzl, name)
        finally:
            self._in_progress.discard(key)
        self._bindings[key] = value
        return value

    def _binding(self, bzl: BzlFile, name: str) -> Value:
        if name in bzl.loads:
            label, symbol, line = bzl.loads[name]
            other = self.loaded_file(bzl, label, line)
            if symbol.startswith("_") or symbol not in other.bindings:
                raise FactsError(f"{bzl.where(line)}: {label} does not export {symbol}")
            return self.binding(other, symbol)
        stmt = bzl.bindings.get(name)
        if stmt is None:
            raise FactsError(f"{bzl.label}: no top-level name {name}")
        if isinstance(stmt, ast.FunctionDef):
            return FuncV(stmt, bzl)
        assert isinstance(stmt, ast.Assign)
        try:
            value = self.eval(stmt.value, bzl, {})
        except FactsError as err:
            substitute = self.fallback(bzl.label, name) if self.fallback else None
            if substitute is None:
                raise
            self.substituted.append(f"{bzl.label}%{name}: {err}")
            return substitute
        target = stmt.targets[0]
        if isinstance(target, ast.Tuple):
            index = [e.id for e in target.elts if isinstance(e, ast.Name)].index(name)
            if isinstance(value, ListV):
                return value.items[index].force(self)
            if isinstance(value, KindV) and value.kind == "provider":
                # `X, _new_x = provider(init = ...)`: the provider and its raw constructor.
                return value if index == 0 else KindV("function", value.where)
            raise FactsError(f"{bzl.where(stmt.lineno)}: cannot unpack {ast.unparse(stmt.value)}")
        if isinstance(value, Opaque) and self.fallback is not None:
            substitute = self.fallback(bzl.label, name)
            if substitute is not None:
                self.substituted.append(f"{bzl.label}%{name}: {value.source} ({value.where})")
                value = substitute
        if isinstance(value, RuleV | ExtensionV) and not value.id:
            value.id = f"{bzl.label}%{name}"
        return value

    def lookup(self, name: str, bzl: BzlFile, env: dict[str, Value], line: int) -> Value:
        if name in env:
            return env[name]
        if name in bzl.bindings or name in bzl.loads:
            return self.binding(bzl, name)
        if name in ("True", "False", "None"):
            return Lit({"True": True, "False": False, "None": None}[name])
        if name in BUILTINS:
            return Opaque(name, bzl.where(line))
        raise FactsError(f"{bzl.where(line)}: unknown name {name}")

    # --- expressions ---------------------------------------------------------------------
    def eval(self, expr: ast.expr, bzl: BzlFile, env: dict[str, Value]) -> Value:
        where = bzl.where(expr.lineno)
        match expr:
            case ast.Constant(value=constant):
                return Lit(constant)
            case ast.Name(id=name):
                return self.lookup(name, bzl, env, expr.lineno)
            case ast.Dict():
                items: dict[Any, Thunk] = {}
                for key, item in zip(expr.keys, expr.values, strict=True):
                    if key is None:  # {**other}
                        items.update(self.as_dict(self.eval(item, bzl, env), where))
                    else:
                        items[self.literal(key, bzl, env)] = Thunk(item, bzl, env)
                return DictV(items)
            case ast.List() | ast.Tuple():
                thunks = [Thunk(e, bzl, env) for e in expr.elts]
                forced = [t.force(self) for t in thunks]
                if all(isinstance(v, Lit) for v in forced):
                    return Lit([v.value for v in forced if isinstance(v, Lit)])
                return ListV(thunks)
            case ast.BinOp(left=left, op=op, right=right):
                return self._binop(
                    self.eval(left, bzl, env), op, self.eval(right, bzl, env), expr, bzl
                )
            case ast.UnaryOp(op=op, operand=operand):
                inner = self.eval(operand, bzl, env)
                if isinstance(inner, Lit) and isinstance(op, ast.USub | ast.Not):
                    return Lit(-inner.value if isinstance(op, ast.USub) else not inner.value)
                return Opaque(ast.unparse(expr), where)
            case ast.IfExp(test=test, body=body, orelse=orelse):
                cond = self.eval(test, bzl, env)
                if isinstance(cond, Lit):
                    return self.eval(body if cond.value else orelse, bzl, env)
                return Opaque(ast.unparse(expr), where)
            case ast.Attribute(value=ast.Name(id="attr"), attr=kind) if self._is_attr_module(
                bzl, env
            ):
                if kind not in self.attr_kinds:
                    raise FactsError(f"{where}: Bazel has no attr.{kind}")
                return AttrCtorV(kind)
            case ast.Attribute(value=base, attr=attr):
                receiver = self.eval(base, bzl, env)
                if isinstance(receiver, StructV) and attr in receiver.fields:
                    return receiver.fields[attr].force(self)
                return Opaque(ast.unparse(expr), where)
            case ast.Call():
                return self._call(expr, bzl, env)
        return Opaque(ast.unparse(expr), where)

    def literal(self, expr: ast.expr, bzl: BzlFile, env: dict[str, Value]) -> Any:
        value = self.plain(self.eval(expr, bzl, env))
        if isinstance(value, Value):
            raise FactsError(f"{bzl.where(expr.lineno)}: not a known value: {ast.unparse(expr)}")
        return value

    def plain(self, value: Value) -> Any:
        """The Python value of a literal (dicts and lists forced through); else `value`."""
        if isinstance(value, Lit):
            return value.value
        if isinstance(value, DictV | ListV):
            items = value.items.items() if isinstance(value, DictV) else enumerate(value.items)
            out = {k: self.plain(t.force(self)) for k, t in items}
            if any(isinstance(v, Value) for v in out.values()):
                return value
            return out if isinstance(value, DictV) else list(out.values())
        return value

    def as_dict(self, value: Value, where: str) -> dict[Any, Thunk]:
        if isinstance(value, DictV):
            return dict(value.items)
        if isinstance(value, Lit) and isinstance(value.value, dict):
            return {k: ready(Lit(v)) for k, v in value.value.items()}
        raise FactsError(f"{where}: not a dict the reader can follow: {_describe(value)}")

    def _binop(
        self, left: Value, op: ast.operator, right: Value, expr: ast.expr, bzl: BzlFile
    ) -> Value:
        where = bzl.where(expr.lineno)
        if isinstance(left, Lit) and isinstance(right, Lit):
            operations: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
                ast.Add: lambda a, b: a + b,
                ast.BitOr: lambda a, b: a | b,
                ast.Mod: lambda a, b: a % b,
            }
            try:
                result = operations[type(op)](left.value, right.value)
            except (KeyError, TypeError, ValueError):
                return Opaque(ast.unparse(expr), where)
            return Lit(result)
        if isinstance(op, ast.BitOr) and _dictish(left) and _dictish(right):
            return DictV(self.as_dict(left, where) | self.as_dict(right, where))
        if isinstance(op, ast.Add) and _listish(left) and _listish(right):
            return ListV(self.as_list(left, where) + self.as_list(right, where))
        return Opaque(ast.unparse(expr), where)

    def as_list(self, value: Value, where: str) -> list[Thunk]:
        if isinstance(value, ListV):
            return list(value.items)
        if isinstance(value, Lit) and isinstance(value.value, list | tuple):
            return [ready(Lit(v)) for v in value.value]
        raise FactsError(f"{where}: not a list the reader can follow: {_describe(value)}")

    # --- calls ---------------------------------------------------------------------------
    def _call(self, call: ast.Call, bzl: BzlFile, env: dict[str, Value]) -> Value:
        where = bzl.where(call.lineno)
        func = call.func
        if (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.value.id == "attr"
            and self._is_attr_module(bzl, env)
        ):
            if func.attr not in self.attr_kinds:
                raise FactsError(f"{where}: Bazel has no attr.{func.attr}")
            return self._attr(func.attr, call, bzl, env)
        if (
            isinstance(func, ast.Name)
            and func.id not in env
            and func.id not in bzl.bindings
            and func.id not in bzl.loads
        ):
            return self._builtin(func.id, call, bzl, env)
        if isinstance(func, ast.Attribute):
            receiver = self.eval(func.value, bzl, env)
            if not isinstance(receiver, StructV):
                return self._method(receiver, func.attr, call, bzl, env)
        callee = self.eval(func, bzl, env)
        if isinstance(callee, AttrCtorV):
            return self._attr(callee.kind, call, bzl, env)
        if isinstance(callee, FuncV):
            args, kwargs = self._arguments(call, bzl, env)
            for key in kwargs:
                if key.startswith("**"):
                    raise FactsError(f"{where}: cannot follow {key} into {callee.node.name}()")
            return self.apply(callee, args, kwargs, where)
        return Opaque(ast.unparse(call), where)

    def _arguments(
        self, call: ast.Call, bzl: BzlFile, env: dict[str, Value]
    ) -> tuple[list[Thunk], dict[str, Thunk]]:
        where = bzl.where(call.lineno)
        args: list[Thunk] = []
        for arg in call.args:
            if isinstance(arg, ast.Starred):
                args.extend(self.as_list(self.eval(arg.value, bzl, env), where))
            else:
                args.append(Thunk(arg, bzl, env))
        kwargs: dict[str, Thunk] = {}
        for kw in call.keywords:
            if kw.arg is None:
                value = self.eval(kw.value, bzl, env)
                if isinstance(value, Opaque):
                    # `**<something unknown>`: fine for a built-in whose facts are given by
                    # name (checked in _builtin), an error anywhere else.
                    kwargs[f"**{value.source}"] = ready(value)
                else:
                    kwargs.update(self.as_dict(value, where))
            else:
                kwargs[kw.arg] = Thunk(kw.value, bzl, env)
        return args, kwargs

    def _method(
        self, receiver: Value, name: str, call: ast.Call, bzl: BzlFile, env: dict[str, Value]
    ) -> Value:
        where = bzl.where(call.lineno)
        if _dictish(receiver) and name == "get":
            items = self.as_dict(receiver, where)
            key = self.literal(call.args[0], bzl, env)
            if key in items:
                return items[key].force(self)
            return self.eval(call.args[1], bzl, env) if len(call.args) > 1 else Lit(None)
        if _dictish(receiver) and name == "keys" and not call.args:
            return Lit(list(self.as_dict(receiver, where)))
        if (
            isinstance(receiver, Lit)
            and isinstance(receiver.value, dict)
            and name in ("values", "items")
            and not call.args
        ):
            return Lit(
                [list(i) for i in receiver.value.items()]
                if name == "items"
                else list(receiver.value.values())
            )
        return Opaque(ast.unparse(call), where)

    def _builtin(self, name: str, call: ast.Call, bzl: BzlFile, env: dict[str, Value]) -> Value:
        where = bzl.where(call.lineno)
        if name not in BUILTINS:
            raise FactsError(f"{where}: unknown function {name}")
        args, kwargs = self._arguments(call, bzl, env)
        unknown = [k for k in kwargs if k.startswith("**")]
        needed = {"rule": "attrs", "module_extension": "tag_classes", "tag_class": "attrs"}.get(
            name
        )
        if unknown and needed and needed not in kwargs:
            raise FactsError(f"{where}: {name}() gets {unknown[0]}, which may hold its {needed}")
        if name == "rule":
            implementation = kwargs.get("implementation") or (args[0] if args else None)
            return RuleV(
                where=where,
                attrs=kwargs.get("attrs"),
                implementation=implementation,
                executable=bool(self._known(kwargs.get("executable"), False, where)),
                test=bool(self._known(kwargs.get("test"), False, where)),
            )
        if name == "module_extension":
            return ExtensionV(where, kwargs.get("tag_classes"))
        if name == "tag_class":
            return TagClassV(where, kwargs.get("attrs") or (args[0] if args else None))
        if name in ("provider", "repository_rule", "aspect"):
            if name == "provider" and "init" in kwargs:
                return ListV([ready(KindV("provider", where)), ready(KindV("function", where))])
            return KindV(name, where)
        if name == "struct":
            return StructV(kwargs)
        if (
            name == "getattr"
            and len(call.args) == 3
            and isinstance(call.args[0], ast.Name)
            and call.args[0].id == "attr"
            and self._is_attr_module(bzl, env)
        ):
            kind = self.literal(call.args[1], bzl, env)
            return AttrCtorV(kind) if kind in self.attr_kinds else args[2].force(self)
        if name == "dict":
            items: dict[Any, Thunk] = {}
            for arg in args:
                items.update(self.as_dict(arg.force(self), where))
            return DictV(items | kwargs)
        return Opaque(ast.unparse(call), where)

    def _is_attr_module(self, bzl: BzlFile, env: dict[str, Value]) -> bool:
        return "attr" not in env and "attr" not in bzl.bindings and "attr" not in bzl.loads

    def _known(self, thunk: Thunk | None, default: Any, where: str) -> Any:
        if thunk is None:
            return default
        value = thunk.force(self)
        if not isinstance(value, Lit):
            raise FactsError(f"{where}: not a known value: {_describe(value)}")
        return value.value

    def _attr(self, kind: str, call: ast.Call, bzl: BzlFile, env: dict[str, Value]) -> Value:
        where = bzl.where(call.lineno)
        kw = {k.arg: k.value for k in call.keywords if k.arg}
        mandatory = self.literal(kw["mandatory"], bzl, env) if "mandatory" in kw else False
        values = self.literal(kw["values"], bzl, env) if "values" in kw else None
        default: Any = IMPLICIT_DEFAULTS.get(kind)
        source = False
        if "default" in kw:
            try:
                value = self.eval(kw["default"], bzl, env)
            except FactsError:
                value = Opaque("", where)
            if isinstance(value, Lit) and _json_value(value.value):
                default = value.value
            else:
                default, source = ast.unparse(kw["default"]), True
        providers = sorted(
            {
                ast.unparse(n)
                for n in ast.walk(kw["providers"])
                if isinstance(n, ast.Name | ast.Attribute)
            }
            if "providers" in kw
            else set()
        )
        return AttrV(kind, bool(mandatory), default, source, values, where, providers)

    # --- helper functions ------------------------------------------------------------------
    def apply(self, func: FuncV, args: list[Thunk], kwargs: dict[str, Thunk], where: str) -> Value:
        env = self.bind(func, args, kwargs, where)
        try:
            self._run(func.node.body, func, env)
        except _Return as ret:
            return ret.value
        return Lit(None)

    def bind(
        self, func: FuncV, args: list[Thunk], kwargs: dict[str, Thunk], where: str
    ) -> dict[str, Value]:
        spec = func.node.args
        params = [a.arg for a in spec.args]
        env: dict[str, Value] = {}
        defaults = dict(zip(params[len(params) - len(spec.defaults) :], spec.defaults, strict=True))
        for name, thunk in zip(params, args, strict=False):
            env[name] = thunk.force(self)
        rest = kwargs.copy()
        for name in params + [a.arg for a in spec.kwonlyargs]:
            if name in rest:
                env[name] = rest.pop(name).force(self)
            elif name not in env:
                default = defaults.get(name) or dict(
                    zip([a.arg for a in spec.kwonlyargs], spec.kw_defaults, strict=True)
                ).get(name)
                if default is None:
                    raise FactsError(f"{where}: {func.node.name}() needs {name}")
                env[name] = self.eval(default, func.file, {})
        if spec.vararg:
            env[spec.vararg.arg] = ListV(args[len(params) :])
        if spec.kwarg:
            env[spec.kwarg.arg] = DictV(rest)
        elif rest:
            raise FactsError(f"{where}: {func.node.name}() has no parameter {sorted(rest)}")
        return env

    def _run(self, body: list[ast.stmt], func: FuncV, env: dict[str, Value]) -> None:
        bzl = func.file
        for stmt in body:
            where = bzl.where(stmt.lineno)
            match stmt:
                case ast.Expr(value=ast.Constant()) | ast.Pass():
                    continue
                case ast.Return(value=value):
                    raise _Return(self.eval(value, bzl, env) if value is not None else Lit(None))
                case ast.Assign(targets=[ast.Name(id=name)], value=value):
                    env[name] = self.eval(value, bzl, env)
                case ast.AugAssign(target=ast.Name(id=name), op=op, value=value):
                    env[name] = self._binop(env[name], op, self.eval(value, bzl, env), value, bzl)
                case ast.Expr(
                    value=ast.Call(
                        func=ast.Attribute(value=ast.Name(id=name), attr="update"), args=[arg]
                    )
                ):
                    env[name] = DictV(
                        self.as_dict(env[name], where)
                        | self.as_dict(self.eval(arg, bzl, env), where)
                    )
                case ast.For(target=ast.Name(id=name), iter=iterable, body=loop, orelse=[]):
                    for item in self.as_list(self.eval(iterable, bzl, env), where):
                        env[name] = item.force(self)
                        self._run(loop, func, env)
                case ast.If(test=test, body=then, orelse=orelse):
                    cond = self.eval(test, bzl, env)
                    if not isinstance(cond, Lit):
                        raise FactsError(
                            f"{where}: {func.node.name}(): condition not known here: "
                            f"{ast.unparse(test)}"
                        )
                    self._run(then if cond.value else orelse, func, env)
                case _:
                    raise FactsError(
                        f"{where}: {func.node.name}(): statement beyond the static reader: "
                        f"{ast.unparse(stmt).splitlines()[0]}"
                    )

    # --- what a def is -------------------------------------------------------------------
    def forwards(
        self,
        func: FuncV,
        bound: dict[str, Value] | None = None,
        depth: int = 0,
        sets: set[str] | None = None,
    ) -> list[RuleV]:
        """The rules that receive `func`'s `**kwargs` (through other macros too)."""
        kwarg = func.node.args.kwarg
        if kwarg is None or depth > 8:
            return []
        bound = bound or {}
        found: list[RuleV] = []
        for node in _walk_no_nested_defs(func.node.body):
            if not isinstance(node, ast.Call):
                continue
            if not any(
                k.arg is None and isinstance(k.value, ast.Name) and k.value.id == kwarg.arg
                for k in node.keywords
            ):
                continue
            callee = self._callee(node, func, bound)
            where = func.file.where(node.lineno)
            if sets is not None:
                sets.update(k.arg for k in node.keywords if k.arg is not None)
            if isinstance(callee, RuleV):
                found.append(callee)
            elif isinstance(callee, FuncV):
                params = [a.arg for a in callee.node.args.args]
                new_bound = {
                    p: self.eval(a, func.file, bound)
                    for p, a in zip(params, node.args, strict=False)
                    if not isinstance(a, ast.Starred)
                }
                found.extend(self.forwards(callee, new_bound, depth + 1, sets))
            elif not (isinstance(callee, Opaque) and callee.source.startswith("native.")):
                raise FactsError(
                    f"{where}: cannot resolve what {ast.unparse(node.func)}(**{kwarg.arg}) is: "
                    f"{_describe(callee)}"
                )
        return found

    def _callee(self, call: ast.Call, func: FuncV, bound: dict[str, Value]) -> Value:
        params = {a.arg for a in func.node.args.args} | {a.arg for a in func.node.args.kwonlyargs}
        if isinstance(call.func, ast.Name) and call.func.id in params:
            if call.func.id not in bound:
                return Opaque(call.func.id, func.file.where(call.lineno))
            return bound[call.func.id]
        if (
            isinstance(call.func, ast.Attribute)
            and isinstance(call.func.value, ast.Name)
            and call.func.value.id == "native"
        ):
            return Opaque("native." + call.func.attr, func.file.where(call.lineno))
        return self.eval(call.func, func.file, {})

    def is_macro(self, func: FuncV, seen: frozenset[str] = frozenset()) -> bool:
        """A def that makes targets: it calls a rule, a native rule or another macro."""
        if func.id in seen:
            return False
        if self.forwards(func):
            return True
        locals_ = {a.arg for a in ast.walk(func.node.args) if isinstance(a, ast.arg)}
        locals_ |= {
            n.id
            for n in ast.walk(func.node)
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
        }
        for node in _walk_no_nested_defs(func.node.body):
            if not isinstance(node, ast.Call):
                continue
            if (
                isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "native"
            ):
                if node.func.attr not in NATIVE_NON_RULES:
                    return True
                continue
            if not isinstance(node.func, ast.Name) or node.func.id in locals_:
                continue
            if node.func.id not in func.file.bindings and node.func.id not in func.file.loads:
                continue  # a builtin
            callee = self.binding(func.file, node.func.id)
            if isinstance(callee, RuleV) or (
                isinstance(callee, FuncV) and self.is_macro(callee, seen | {func.id})
            ):
                return True
        return False

    def kind(self, value: Value) -> str:
        if isinstance(value, RuleV):
            return "rule"
        if isinstance(value, ExtensionV):
            return "module_extension"
        if isinstance(value, KindV):
            return value.kind
        if isinstance(value, FuncV):
            return "macro" if self.is_macro(value) else "function"
        return "value"


def _dictish(value: Value) -> bool:
    return isinstance(value, DictV) or (isinstance(value, Lit) and isinstance(value.value, dict))


def _listish(value: Value) -> bool:
    return isinstance(value, ListV) or (
        isinstance(value, Lit) and isinstance(value.value, list | tuple)
    )


def _json_value(value: Any) -> bool:
    if isinstance(value, str | int | float | bool) or value is None:
        return True
    if isinstance(value, list | tuple):
        return all(_json_value(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _json_value(v) for k, v in value.items())
    return False


def _describe(value: Value) -> str:
    if isinstance(value, Opaque):
        return f"{value.source} ({value.where})"
    return type(value).__name__
