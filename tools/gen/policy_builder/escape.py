"""Escaping of names and strings for the languages the builder generates.

Every value from policy.yaml or go.mod that reaches generated source passes through one
of these functions, so a quote, backtick or newline in a name cannot change the code.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_GO_KEYWORDS = frozenset(
    [
        "break",
        "case",
        "chan",
        "const",
        "continue",
        "default",
        "defer",
        "else",
        "fallthrough",
        "for",
        "func",
        "go",
        "goto",
        "if",
        "import",
        "interface",
        "map",
        "package",
        "range",
        "return",
        "select",
        "struct",
        "switch",
        "type",
        "var",
    ]
)
# Names that would shadow what generated files refer to.
_GO_RESERVED = _GO_KEYWORDS | frozenset({"core", "buildinfo", "main", "init", "_"})
_NOT_IDENT = re.compile(r"[^A-Za-z0-9_]")


def go_identifier(text: str, prefix: str = "p_") -> str:
    """A valid Go identifier derived from text: unsafe characters become `_`, a leading
    digit, keyword or reserved name gets `prefix`. Different inputs may map to the same
    identifier; callers that need uniqueness add a suffix (see generate_go)."""
    ident = _NOT_IDENT.sub("_", text) or "_"
    if ident[0].isdigit() or ident in _GO_RESERVED:
        ident = prefix + ident
    return ident


# Escapes Go and Starlark spell the same way.
_COMMON_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}
# What may need escaping: all but printable ASCII other than the quote and the backslash.
# Nearly every value has none of it, so the regex engine, not a Python loop, walks the text.
_SPECIAL = re.compile(r"[^ !#-\[\]-~]")


def _quoted(text: str, escape: Callable[[int], str | None]) -> str:
    """A double-quoted literal: the common escapes, then escape(code point) for the rest
    (None keeps the character as it is)."""

    def one(match: re.Match[str]) -> str:
        ch = match.group()
        common = _COMMON_ESCAPES.get(ch)
        special = common if common is not None else escape(ord(ch))
        return ch if special is None else special

    return '"' + _SPECIAL.sub(one, text) + '"'


def _go_escape(code: int) -> str | None:
    if code < 0x20 or code == 0x7F:
        return f"\\x{code:02x}"
    if 0xD800 <= code <= 0xDFFF:
        # Lone surrogates cannot be UTF-8 encoded; Go spells them as U+FFFD.
        return "\\uFFFD"
    if code in (0x2028, 0x2029, 0xFEFF):
        # Legal in Go strings, but confusing to editors and reviewers.
        return f"\\u{code:04X}"
    return None


def go_string(text: str) -> str:
    """A Go interpreted string literal (with quotes) whose value is exactly text."""
    return _quoted(text, _go_escape)


def go_bytes(data: bytes) -> str:
    """A Go string literal whose bytes are exactly data, valid UTF-8 or not."""
    try:
        return go_string(data.decode("utf-8"))
    except UnicodeDecodeError:
        return '"' + "".join(f"\\x{b:02x}" for b in data) + '"'


def _starlark_escape(code: int) -> str | None:
    if code < 0x20 or code == 0x7F:
        # Octal, because Bazel's lexer does not accept \x escapes.
        return f"\\{code:03o}"
    return None


def starlark_string(text: str) -> str:
    """A Starlark (Bazel) double-quoted string literal whose value is exactly text."""
    return _quoted(text, _starlark_escape)


def dockerfile_string(text: str) -> str:
    """A double-quoted Dockerfile word (LABEL/ENV value) whose value is exactly text.
    `$` is escaped too: Docker substitutes variables inside double quotes."""
    if any(ch in text for ch in "\r\n"):
        raise ValueError("Dockerfile values cannot hold line breaks")
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
    return f'"{escaped}"'
