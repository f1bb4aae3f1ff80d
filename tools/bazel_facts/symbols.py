"""From the static reader's values to facts: each loaded file's exports, and the rules,
macros and module extensions behind them."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from . import preconditions
from .errors import FactsError
from .model import Attr, BzlFile, Extension, Macro, Param, Precondition, Rule, Symbol, TagClass
from .starlark import AttrV, ExtensionV, FuncV, KindV, Reader, RuleV, TagClassV, Thunk, Value

# Type tests a macro applies to a parameter before converting it (skylib's types.is_*).
_TYPE_TESTS = {"is_dict": "dict", "is_list": "list", "is_string": "string", "is_tuple": "list"}


@dataclass
class Collected:
    files: dict[str, BzlFile] = field(default_factory=dict)
    rules: dict[str, Rule] = field(default_factory=dict)
    macros: dict[str, Macro] = field(default_factory=dict)
    extensions: dict[str, Extension] = field(default_factory=dict)


class SymbolFacts:
    def __init__(self, reader: Reader) -> None:
        self.reader = reader
        self.out = Collected()

    def add_file(self, label: str, bzl_repo_module: str, path: str) -> None:
        """Facts for the file the project loads as `label`."""
        reader = self.reader
        bzl = reader.file(reader.repo(bzl_repo_module, label), path)
        exports: dict[str, Symbol] = {}
        for name in bzl.public_names():
            value = reader.binding(bzl, name)
            kind = reader.kind(value)
            ref = None
            if isinstance(value, RuleV):
                ref = self.rule(value)
            elif isinstance(value, FuncV) and kind == "macro":
                ref = self.macro(value)
            elif isinstance(value, ExtensionV):
                ref = self.extension(value)
            site = _site(value, bzl.where(bzl.bindings[name].lineno))
            exports[name] = Symbol(kind=kind, provenance=site, ref=ref)
        self.out.files[label] = BzlFile(
            module=bzl.repo.module,
            version=bzl.repo.version,
            provenance=bzl.repo.tree.where(path),
            exports=exports,
        )

    # --- rules -----------------------------------------------------------------------------
    def rule(self, rule: RuleV) -> str:
        if rule.id in self.out.rules:
            return rule.id
        attrs = self.attrs(rule.attrs, rule.where)
        found: list[Precondition] = []
        if rule.implementation is not None:
            impl = rule.implementation.force(self.reader)
            if isinstance(impl, FuncV):
                found = [
                    Precondition(cond, uses, message, impl.file.where(line))
                    for cond, uses, message, line in preconditions.find(impl.node, rule=True)
                ]
        self.out.rules[rule.id] = Rule(
            name=rule.id.rpartition("%")[2],
            provenance=rule.where,
            executable=rule.executable,
            test=rule.test,
            attrs=attrs,
            preconditions=found,
        )
        return rule.id

    def attrs(self, thunk: Thunk | None, where: str) -> dict[str, Attr]:
        if thunk is None:
            return {}
        items = self.reader.as_dict(thunk.force(self.reader), where)
        result: dict[str, Attr] = {}
        for name, item in sorted(items.items()):
            if not isinstance(name, str):
                raise FactsError(f"{where}: attribute name {name!r} is not a string")
            if name.startswith("_"):
                continue  # private: no BUILD file can set it
            value = item.force(self.reader)
            if not isinstance(value, AttrV):
                raise FactsError(f"{where}: attribute {name} is not an attr.*(): {value}")
            result[name] = Attr(
                type=value.type,
                mandatory=value.mandatory,
                default=value.default,
                default_source=value.default_source,
                values=value.values,
                provenance=value.where,
                providers=value.providers,
            )
        return result

    # --- macros ----------------------------------------------------------------------------
    def macro(self, func: FuncV) -> str:
        if func.id in self.out.macros:
            return func.id
        node = func.node
        sets: set[str] = set()
        forwards = [self.rule(r) for r in self.reader.forwards(func, sets=sets)]
        params: dict[str, Param] = {}
        spec = node.args
        positional = spec.args
        defaults = dict(
            zip(
                [a.arg for a in positional[len(positional) - len(spec.defaults) :]],
                spec.defaults,
                strict=True,
            )
        )
        defaults |= {a.arg: d for a, d in zip(spec.kwonlyargs, spec.kw_defaults, strict=True) if d}
        for arg in [*positional, *spec.kwonlyargs]:
            default = defaults.get(arg.arg)
            literal, source = _default(default)
            params[arg.arg] = Param(
                mandatory=default is None,
                default=literal,
                default_source=source,
                provenance=func.file.where(arg.lineno),
                forwarded_to=self._param_forwards(func, arg.arg),
                accepts=_type_tests(node, arg.arg),
            )
        self.out.macros[func.id] = Macro(
            name=node.name,
            provenance=func.where,
            params=params,
            kwargs=spec.kwarg.arg if spec.kwarg else None,
            forwards=forwards,
            sets=sorted(sets),
            preconditions=[
                Precondition(cond, uses, message, func.file.where(line))
                for cond, uses, message, line in preconditions.find(node, rule=False)
            ],
        )
        return func.id

    def _param_forwards(self, func: FuncV, param: str) -> list[str]:
        """`rule_id.attr` for each rule call that passes the parameter by name."""
        found = []
        for node in ast.walk(func.node):
            if not isinstance(node, ast.Call):
                continue
            for kw in node.keywords:
                if kw.arg and isinstance(kw.value, ast.Name) and kw.value.id == param:
                    callee = self.reader._callee(node, func, {})
                    if isinstance(callee, RuleV):
                        found.append(f"{self.rule(callee)}.{kw.arg}")
        return sorted(set(found))

    # --- module extensions -------------------------------------------------------------------
    def extension(self, ext: ExtensionV) -> str:
        if ext.id in self.out.extensions:
            return ext.id
        tags: dict[str, TagClass] = {}
        if ext.tag_classes is not None:
            items = self.reader.as_dict(ext.tag_classes.force(self.reader), ext.where)
            for name, item in sorted(items.items()):
                value = item.force(self.reader)
                if not isinstance(value, TagClassV):
                    raise FactsError(f"{ext.where}: tag class {name} is not a tag_class(): {value}")
                tags[name] = TagClass(
                    provenance=value.where, attrs=self.attrs(value.attrs, value.where)
                )
        self.out.extensions[ext.id] = Extension(provenance=ext.where, tag_classes=tags)
        return ext.id


def _site(value: Value, fallback: str) -> str:
    if isinstance(value, RuleV | ExtensionV | KindV | TagClassV):
        return value.where
    if isinstance(value, FuncV):
        return value.where
    return fallback


def _default(expr: ast.expr | None) -> tuple[object, bool]:
    if expr is None:
        return None, False
    try:
        return ast.literal_eval(expr), False
    except ValueError:
        return ast.unparse(expr), True


def _type_tests(func: ast.FunctionDef, param: str) -> list[str]:
    found = set()
    for node in ast.walk(func):
        if (
            isinstance(node, ast.Call)
            and node.args
            and isinstance(node.args[0], ast.Name)
            and node.args[0].id == param
        ):
            if isinstance(node.func, ast.Attribute) and node.func.attr in _TYPE_TESTS:
                found.add(_TYPE_TESTS[node.func.attr])
            if isinstance(node.func, ast.Attribute) and node.func.attr == "is_instance":
                found.add("partial")
    return sorted(found)
