"""Top-level calls of a parsed BUILD or MODULE.bazel file (rules, use_repo, load)."""

from __future__ import annotations

import libcst as cst


def statement_call(stmt: cst.CSTNode) -> cst.Call | None:
    """The call a statement consists of (`rule(...)`), or None for anything else."""
    if isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1:
        expr = stmt.body[0]
        if isinstance(expr, cst.Expr) and isinstance(expr.value, cst.Call):
            return expr.value
    return None
