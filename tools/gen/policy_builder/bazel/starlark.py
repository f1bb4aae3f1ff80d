"""Rendering Python values as Starlark source, in the layout buildifier produces.

`string_literal` is a stand-in for the builder's `escape.starlark_string`, which is not in
this tree yet; both produce the same literals, so the lead can swap it in (#5).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

# A value an attribute of a generated rule can take.
Value = str | bool | int | tuple[str, ...] | Mapping[str, str]

_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}

INDENT = "    "


def string_literal(value: str) -> str:
    """Quote `value` as a double-quoted Starlark string literal whose value is exactly it.

    Other control characters become octal escapes: Bazel's lexer has no `\\x` escape.
    """
    out = []
    for ch in value:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\{ord(ch):03o}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def render_value(value: Value, indent: str = "") -> str:
    """Render one value. Lists and dicts with more than one item go one item per line with
    a trailing comma, as buildifier formats them; a single item stays on one line."""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return string_literal(value)
    if isinstance(value, tuple):
        return _render_list(value, indent)
    return _render_dict(value, indent)


def _render_list(items: Sequence[str], indent: str) -> str:
    if not items:
        return "[]"
    if len(items) == 1:
        return "[" + string_literal(items[0]) + "]"
    inner = indent + INDENT
    lines = "".join(f"{inner}{string_literal(item)},\n" for item in items)
    return "[\n" + lines + indent + "]"


def _render_dict(items: Mapping[str, str], indent: str) -> str:
    if not items:
        return "{}"
    inner = indent + INDENT
    lines = "".join(
        f"{inner}{string_literal(key)}: {string_literal(items[key])},\n" for key in items
    )
    return "{\n" + lines + indent + "}"


def render_call(kind: str, attrs: Sequence[tuple[str, Value]], indent: str = "") -> str:
    """Render `kind(attr = value, ...)` with one attribute per line."""
    inner = indent + INDENT
    body = "".join(f"{inner}{key} = {render_value(value, inner)},\n" for key, value in attrs)
    return f"{kind}(\n{body}{indent})"


def render_load(module: str, symbols: Sequence[str]) -> str:
    """Render a load statement with its symbols sorted."""
    args = ", ".join(string_literal(s) for s in sorted(set(symbols)))
    return f"load({string_literal(module)}, {args})"
