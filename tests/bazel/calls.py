"""Checks one call of a rule, macro, extension tag or Bazel function against the facts file
(tests/bazel/facts.json): what the real Bazel and the real rule sets would refuse at loading
or analysis time because of the call's arguments."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from bazel_facts import preconditions
from bazel_facts.model import Attr, Facts, Function, Macro, Precondition, Rule, TagClass


class EvalError(Exception):
    """A file failed to evaluate or called a rule wrongly."""


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _str_dict(value: Any) -> bool:
    return isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    )


# attr.<type> → what a BUILD file may pass (labels are strings here).
TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "label": lambda v: isinstance(v, str),
    "output": lambda v: isinstance(v, str),
    "bool": lambda v: isinstance(v, bool),
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "string_list": _strings,
    "label_list": _strings,
    "output_list": _strings,
    "int_list": lambda v: isinstance(v, list) and all(isinstance(x, int) for x in v),
    "string_dict": _str_dict,
    "label_keyed_string_dict": _str_dict,
    "string_keyed_label_dict": _str_dict,
    "string_list_dict": lambda v: isinstance(v, dict) and all(_strings(x) for x in v.values()),
    # What a macro tests a parameter for before converting it (skylib's types.is_*).
    "dict": lambda v: isinstance(v, dict),
    "list": lambda v: isinstance(v, list),
}


@dataclass
class Checker:
    facts: Facts
    # Preconditions that could not be evaluated for a call: "<where>: <provenance> <condition>".
    skipped: list[str] = field(default_factory=list)

    def rule_attrs(self, rule: Rule) -> dict[str, Attr]:
        """Every attribute a call may set: Bazel's own, then the rule's."""
        bazel = self.facts.bazel
        attrs = dict(bazel.common_attrs)
        if rule.executable and not rule.test:
            attrs |= bazel.executable_attrs
        if rule.test:
            attrs |= bazel.test_attrs
        return attrs | rule.attrs

    def check_value(self, owner: str, key: str, types: list[str], values: list[Any] | None,
                    value: Any, where: str, provenance: str) -> None:  # fmt: skip
        if value is None:
            return
        if not any(TYPES[t](value) for t in types):
            raise EvalError(
                f"{where}: {owner}.{key} must be {'|'.join(types)}, got {value!r} ({provenance})"
            )
        if values and value not in values:
            raise EvalError(f"{where}: {owner}.{key}={value!r} not in {values} ({provenance})")

    def check_rule(self, rule: Rule, kwargs: Mapping[str, Any], where: str,
                   set_by_macro: Collection[str] = (),
                   macro_values: Mapping[str, Any] | None = None) -> None:  # fmt: skip
        """`set_by_macro`: attributes a calling macro sets itself, `macro_values` those whose
        value is known (a parameter passed on unchanged)."""
        attrs = self.rule_attrs(rule)
        for key, value in kwargs.items():
            attr = attrs.get(key)
            if attr is None:
                raise EvalError(
                    f"{where}: {rule.name} has no attribute {key!r} ({rule.provenance})"
                )
            self.check_value(
                rule.name, key, [attr.type], attr.values, value, where, attr.provenance
            )
        for key, attr in rule.attrs.items():
            if attr.mandatory and kwargs.get(key) is None and key not in set_by_macro:
                raise EvalError(f"{where}: {rule.name} needs {key!r} ({attr.provenance})")
        values = {k: a.default for k, a in attrs.items() if not a.default_source}
        values |= dict(macro_values or {}) | dict(kwargs)
        for key in set(set_by_macro) - set(macro_values or {}) - set(kwargs):
            values.pop(key, None)  # computed by the macro: unknown here
        self.preconditions(rule.name, rule.preconditions, values, where)

    def check_macro(self, macro: Macro, kwargs: Mapping[str, Any], where: str) -> None:
        rules = [self.facts.rules[r] for r in macro.forwards]
        for key, value in kwargs.items():
            param = macro.params.get(key)
            if param is not None:
                types = list(param.accepts)
                for target in param.forwarded_to:
                    rule_id, _, attr = target.rpartition(".")
                    types.append(self.rule_attrs(self.facts.rules[rule_id])[attr].type)
                if types:
                    self.check_value(macro.name, key, types, None, value, where, param.provenance)
                continue
            if macro.kwargs is None:
                raise EvalError(
                    f"{where}: {macro.name} has no parameter {key!r} ({macro.provenance})"
                )
            for rule in rules:
                if key not in self.rule_attrs(rule):
                    raise EvalError(
                        f"{where}: {macro.name} passes {key!r} to {rule.name}, which has no such "
                        f"attribute ({rule.provenance})"
                    )
        for key, param in macro.params.items():
            if param.mandatory and key not in kwargs:
                raise EvalError(f"{where}: {macro.name} needs {key!r} ({param.provenance})")
        values = {k: p.default for k, p in macro.params.items() if not p.default_source}
        self.preconditions(macro.name, macro.preconditions, values | dict(kwargs), where)
        forwarded = {k: v for k, v in kwargs.items() if k not in macro.params}
        for rule in rules:
            by_param = {
                target.rpartition(".")[2]: kwargs.get(key, macro.params[key].default)
                for key in macro.params
                for target in macro.params[key].forwarded_to
                if target.startswith(f"{self.rule_id(rule)}.")
            }
            self.check_rule(rule, forwarded, where, set(macro.sets) | set(by_param), by_param)

    def rule_id(self, rule: Rule) -> str:
        return next(k for k, v in self.facts.rules.items() if v is rule)

    def check_tag(self, owner: str, tag: TagClass, kwargs: Mapping[str, Any], where: str) -> None:
        for key, value in kwargs.items():
            attr = tag.attrs.get(key)
            if attr is None:
                raise EvalError(f"{where}: {owner} has no attribute {key!r} ({tag.provenance})")
            self.check_value(owner, key, [attr.type], attr.values, value, where, attr.provenance)
        for key, attr in tag.attrs.items():
            if attr.mandatory and kwargs.get(key) is None:
                raise EvalError(f"{where}: {owner} needs {key!r} ({attr.provenance})")

    def check_function(self, name: str, function: Function, args: tuple[Any, ...],
                       kwargs: Mapping[str, Any], where: str) -> None:  # fmt: skip
        positional = function.positional[: len(args)]
        if len(args) > len(function.positional) and not function.varargs:
            raise EvalError(
                f"{where}: {name}() takes {len(function.positional)} positional arguments "
                f"({function.provenance})"
            )
        for key in kwargs:
            if key not in function.params and not function.kwargs:
                raise EvalError(
                    f"{where}: {name}() has no parameter {key!r} ({function.provenance})"
                )
        for key, param in function.params.items():
            if param.mandatory and key not in kwargs and key not in positional:
                raise EvalError(f"{where}: {name}() needs {key!r} ({param.provenance})")

    def preconditions(self, owner: str, found: list[Precondition], values: Mapping[str, Any],
                      where: str) -> None:  # fmt: skip
        for pre in found:
            result = preconditions.evaluate(pre.condition, values)
            if result is None:
                self.skipped.append(f"{where}: {owner}: {pre.condition} ({pre.provenance})")
            elif result:
                raise EvalError(
                    f"{where}: {owner} fails: {pre.message!r} because {pre.condition} "
                    f"({pre.provenance})"
                )
