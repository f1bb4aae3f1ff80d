"""`if <condition>: fail(<message>)` at the top of a rule implementation or macro, where the
condition reads only attributes (`ctx.attr.x`) or parameters: found statically, and evaluated
against one call's values."""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from typing import Any

_UNKNOWN = object()


def _message(call: ast.Call) -> str:
    if call.args and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str):
        return call.args[0].value
    return ast.unparse(call.args[0]) if call.args else ""


def _reads(
    cond: ast.expr, ctx: str | None, params: set[str], kwargs: str | None
) -> list[str] | None:
    """The attribute/parameter names `cond` reads, or None if it reads anything else."""
    names: list[str] = []
    allowed: set[int] = set()
    for node in ast.walk(cond):
        if (
            ctx is not None
            and isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Attribute)
            and isinstance(node.value.value, ast.Name)
            and node.value.value.id == ctx
            and node.value.attr == "attr"
        ):
            names.append(node.attr)
            allowed |= {id(node.value), id(node.value.value)}
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == kwargs
            and node.func.attr == "get"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            names.append(str(node.args[0].value))
            allowed |= {id(node.func), id(node.func.value), id(node.args[0])}
        elif isinstance(node, ast.Name) and id(node) not in allowed:
            if node.id in params:
                names.append(node.id)
            elif node.id not in ("None", "True", "False", "len"):
                return None
    return sorted(set(names))


def find(func: ast.FunctionDef, *, rule: bool) -> list[tuple[str, list[str], str, int]]:
    """(condition source, names read, message, line) of each precondition of `func`."""
    args = [a.arg for a in func.args.args]
    ctx = args[0] if rule and args else None
    params = set() if rule else set(args) | {a.arg for a in func.args.kwonlyargs}
    kwargs = None if rule or func.args.kwarg is None else func.args.kwarg.arg
    assigned: set[str] = set()
    found = []
    for stmt in func.body:
        if isinstance(stmt, ast.If) and stmt.body:
            first = stmt.body[0]
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Call)
                and isinstance(first.value.func, ast.Name)
                and first.value.func.id == "fail"
            ):
                reads = _reads(stmt.test, ctx, params - assigned, kwargs)
                if reads and not (set(reads) & assigned):
                    found.append(
                        (ast.unparse(stmt.test), reads, _message(first.value), stmt.lineno)
                    )
        for node in ast.walk(stmt):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                assigned.add(node.id)
    return found


def evaluate(condition: str, values: Mapping[str, Any]) -> bool | None:
    """The condition's truth for these attribute/parameter values; None if it uses anything
    this evaluator does not model (the caller lists it as skipped, never guesses)."""
    try:
        tree = ast.parse(condition, mode="eval")
    except SyntaxError:
        return None
    result = _eval(tree.body, values)
    return None if result is _UNKNOWN else bool(result)


def _eval(node: ast.expr, values: Mapping[str, Any]) -> Any:
    match node:
        case ast.Constant(value=value):
            return value
        case ast.Name(id=name):
            return values.get(name, _UNKNOWN) if name != "None" else None
        case ast.Attribute(attr=attr):
            return values.get(attr, _UNKNOWN)
        case ast.Call(func=ast.Name(id="len"), args=[arg]):
            value = _eval(arg, values)
            return _UNKNOWN if value is _UNKNOWN or value is None else len(value)
        case ast.Call(func=ast.Attribute(attr="get"), args=[ast.Constant(value=str(key)), *rest]):
            if key in values:
                return values[key]
            return _eval(rest[0], values) if rest else None
        case ast.List(elts=elts) | ast.Tuple(elts=elts):
            items = [_eval(e, values) for e in elts]
            return _UNKNOWN if _UNKNOWN in items else items
        case ast.UnaryOp(op=ast.Not(), operand=operand):
            value = _eval(operand, values)
            return _UNKNOWN if value is _UNKNOWN else not value
        case ast.BoolOp(op=op, values=operands):
            result: Any = None
            for operand in operands:
                result = _eval(operand, values)
                if result is _UNKNOWN:
                    return _UNKNOWN
                if isinstance(op, ast.And) != bool(result):
                    return result
            return result
        case ast.Compare(left=left, ops=[op], comparators=[right]):
            a, b = _eval(left, values), _eval(right, values)
            if a is _UNKNOWN or b is _UNKNOWN:
                return _UNKNOWN
            comparisons: dict[type[ast.cmpop], Callable[[], Any]] = {
                ast.Eq: lambda: a == b,
                ast.NotEq: lambda: a != b,
                ast.In: lambda: a in b,
                ast.NotIn: lambda: a not in b,
                ast.Lt: lambda: a < b,
                ast.Gt: lambda: a > b,
                ast.LtE: lambda: a <= b,
                ast.GtE: lambda: a >= b,
            }
            try:
                return comparisons[type(op)]()
            except (KeyError, TypeError):
                return _UNKNOWN
    return _UNKNOWN
