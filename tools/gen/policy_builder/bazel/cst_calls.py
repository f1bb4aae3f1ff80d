"""Parsing a BUILD or MODULE.bazel file for editing in place: its top-level calls (rules,
use_repo, load) and the character span of any node, so edits splice the original text."""

from __future__ import annotations

from collections.abc import Callable

import libcst as cst
from libcst.metadata import CodeRange, MetadataWrapper, PositionProvider

from policy_builder.bazel.errors import StarlarkEditError

# The (start, end) character offsets of a node in the parsed text.
Span = Callable[[cst.CSTNode], tuple[int, int]]


def parse_for_edit(text: str, what: str) -> tuple[cst.Module, Span]:
    """The module parsed from text, and the span of its nodes; `what` names the file in
    the error raised when it cannot be parsed."""
    try:
        # A freshly parsed tree shares no nodes, so the wrapper's defensive deep copy (a
        # third of the parse's cost) is not needed.
        wrapper = MetadataWrapper(cst.parse_module(text), unsafe_skip_copy=True)
    except cst.ParserSyntaxError as err:
        raise StarlarkEditError(f"cannot parse {what}: {err}") from err
    positions = wrapper.resolve(PositionProvider)
    offsets = [0]
    for line in text.splitlines(keepends=True):
        offsets.append(offsets[-1] + len(line))

    def span(node: cst.CSTNode) -> tuple[int, int]:
        rng: CodeRange = positions[node]
        return (
            offsets[rng.start.line - 1] + rng.start.column,
            offsets[rng.end.line - 1] + rng.end.column,
        )

    return wrapper.module, span


def after_line(text: str, offset: int) -> int:
    """The offset just past the line that holds offset (the end of text on its last line)."""
    newline = text.find("\n", offset)
    return len(text) if newline < 0 else newline + 1


def statement_call(stmt: cst.CSTNode) -> cst.Call | None:
    """The call a statement consists of (`rule(...)`), or None for anything else."""
    if isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1:
        expr = stmt.body[0]
        if isinstance(expr, cst.Expr) and isinstance(expr.value, cst.Call):
            return expr.value
    return None
