"""Escaping of names and strings for the languages the builder generates.

Every value from policy.yaml or go.mod that reaches generated source passes through one
of these functions, so a quote, backtick or newline in a name cannot change the code.
"""

from __future__ import annotations

import re

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


def go_string(text: str) -> str:
    """A Go interpreted string literal (with quotes) whose value is exactly text."""
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif 0xD800 <= code <= 0xDFFF:
            # Lone surrogates cannot be UTF-8 encoded; Go spells them as U+FFFD.
            out.append("\\uFFFD")
        elif ch in "\u2028\u2029\ufeff":
            # Legal in Go strings, but confusing to editors and reviewers.
            out.append(f"\\u{code:04X}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def go_bytes(data: bytes) -> str:
    """A Go string literal whose bytes are exactly data, valid UTF-8 or not."""
    try:
        return go_string(data.decode("utf-8"))
    except UnicodeDecodeError:
        return '"' + "".join(f"\\x{b:02x}" for b in data) + '"'


def starlark_string(text: str) -> str:
    """A Starlark (Bazel) double-quoted string literal whose value is exactly text."""
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif code < 0x20 or code == 0x7F:
            # Octal, because Bazel's lexer does not accept \x escapes.
            out.append(f"\\{code:03o}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def dockerfile_string(text: str) -> str:
    """A double-quoted Dockerfile word (LABEL/ENV value) whose value is exactly text.
    `$` is escaped too: Docker substitutes variables inside double quotes."""
    if any(ch in text for ch in "\r\n"):
        raise ValueError("Dockerfile values cannot hold line breaks")
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
    return f'"{escaped}"'
