"""Rendering Python values as Starlark source, in the layout buildifier produces.

Strings are quoted by the builder's one Starlark escaper, `escape.starlark_string`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from policy_builder.escape import starlark_string


@dataclass(frozen=True)
class Glob:
    """`glob([patterns])`, for files the generator does not list one by one (testdata)."""

    patterns: tuple[str, ...]


# A value an attribute of a generated rule can take.
Value = str | bool | int | tuple[str, ...] | Mapping[str, str] | Glob

INDENT = "    "


def render_value(value: Value, indent: str = "") -> str:
    """Render one value. Lists and dicts with more than one item go one item per line with
    a trailing comma, as buildifier formats them; a single item stays on one line."""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return starlark_string(value)
    if isinstance(value, tuple):
        return _render_list(value, indent)
    if isinstance(value, Glob):
        return f"glob({_render_list(value.patterns, indent)})"
    return _render_dict(value, indent)


def _render_list(items: Sequence[str], indent: str) -> str:
    if not items:
        return "[]"
    if len(items) == 1:
        return "[" + starlark_string(items[0]) + "]"
    inner = indent + INDENT
    lines = "".join(f"{inner}{starlark_string(item)},\n" for item in items)
    return "[\n" + lines + indent + "]"


def _render_dict(items: Mapping[str, str], indent: str) -> str:
    if not items:
        return "{}"
    inner = indent + INDENT
    lines = "".join(
        f"{inner}{starlark_string(key)}: {starlark_string(items[key])},\n" for key in items
    )
    return "{\n" + lines + indent + "}"


def render_call(kind: str, attrs: Sequence[tuple[str, Value]], indent: str = "") -> str:
    """Render `kind(attr = value, ...)` with one attribute per line."""
    inner = indent + INDENT
    body = "".join(f"{inner}{key} = {render_value(value, inner)},\n" for key, value in attrs)
    return f"{kind}(\n{body}{indent})"


def render_load(module: str, symbols: Sequence[str]) -> str:
    """Render a load statement with its symbols sorted."""
    args = ", ".join(starlark_string(s) for s in sorted(set(symbols)))
    return f"load({starlark_string(module)}, {args})"
