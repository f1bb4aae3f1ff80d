"""The import paths of one generated Go file (the registry), for its go_library deps.

The registry is rendered by the builder and gofmt'd, so only the import declarations of
the Go spec need reading: `import "p"`, `import name "p"` and parenthesised groups, with
comments. Policy sources are never read here: their imports come from Go's own parser
(the validator's Go helper)."""

from __future__ import annotations

import re

_TOKEN = re.compile(
    r"""
    (?P<comment>//[^\n]*|/\*.*?\*/)
    | (?P<string>"(?:[^"\\\n]|\\.)*"|`[^`]*`)
    | (?P<word>[A-Za-z_][A-Za-z0-9_]*|\.)
    | (?P<punct>[();])
    | (?P<space>\s+)
    """,
    re.VERBOSE | re.DOTALL,
)


def go_imports(source: str) -> tuple[str, ...]:
    """Sorted, unique import paths declared before the first non-import declaration."""
    tokens = []
    pos = 0
    while pos < len(source):
        match = _TOKEN.match(source, pos)
        if match is None:
            break
        pos = match.end()
        kind = match.lastgroup
        if kind in ("comment", "space"):
            continue
        tokens.append((kind, match.group()))
    paths: set[str] = set()
    i = 0
    # Skip `package name`.
    if len(tokens) >= 2 and tokens[0] == ("word", "package"):
        i = 2
    while i < len(tokens) and tokens[i] == ("word", "import"):
        i += 1
        if i < len(tokens) and tokens[i] == ("punct", "("):
            i += 1
            while i < len(tokens) and tokens[i] != ("punct", ")"):
                if tokens[i][0] == "string":
                    paths.add(_unquote(tokens[i][1]))
                i += 1
            i += 1
        else:
            if i < len(tokens) and tokens[i][0] == "word":
                i += 1
            if i < len(tokens) and tokens[i][0] == "string":
                paths.add(_unquote(tokens[i][1]))
                i += 1
        while i < len(tokens) and tokens[i] == ("punct", ";"):
            i += 1
    return tuple(sorted(paths))


def _unquote(literal: str) -> str:
    # Import paths are plain ASCII in practice; escapes would make them invalid anyway.
    return literal[1:-1]
