"""The machine reports (policies.json, validation_report.json, build_error.json) and the
human validation summary."""

from __future__ import annotations

import json
from typing import Any

from policy_builder.discover import Discovery
from policy_builder.errors import BuilderError
from policy_builder.manifest import Manifest, Problem, ValidationReport

POLICIES_JSON = "policies.json"
VALIDATION_REPORT = "validation_report.json"
BUILD_ERROR = "build_error.json"


def to_json(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def policies_json(discovery: Discovery, manifest: Manifest | None = None) -> list[dict[str, str]]:
    """One row per policy found: where its files are (`go_mod_file` is the go.mod's file
    path) and its Go module path (`module_path`, once validation has read go.mod)."""
    modules = {p.rel_path: p.module_path for p in manifest.policies} if manifest else {}
    return [
        {
            "name": c.name,
            "version": c.version,
            "path": str(c.path),
            "yaml_file": str(c.yaml_file),
            "go_mod_file": str(c.go_mod_file),
            "module_path": modules.get(c.rel_path, ""),
            "rel_path": c.rel_path,
        }
        for c in discovery.candidates
    ]


def _problem(p: Problem) -> dict[str, Any]:
    return {"code": p.code, "file": p.file, "line": p.line, "message": p.message}


def validation_report(report: ValidationReport) -> dict[str, Any]:
    return {
        "valid": report.valid,
        "policies": [
            {
                "name": r.name,
                "version": r.version,
                "path": r.rel_path,
                "status": "valid" if r.valid else "invalid",
                "errors": [_problem(p) for p in r.errors],
                "warnings": [_problem(p) for p in r.warnings],
            }
            for r in report.policies
        ],
    }


def problem_line(p: Problem) -> str:
    where = p.where()
    return f"{where}: {p.message}" if where else p.message


def validation_error(report: ValidationReport) -> dict[str, Any]:
    """build_error.json for a failed validation. `policy`/`errors` name the first invalid
    policy; `policies` lists every invalid one."""
    invalid = [r for r in report.policies if not r.valid]
    rows = [
        {"policy": r.key, "path": r.rel_path, "errors": [problem_line(p) for p in r.errors]}
        for r in invalid
    ]
    first = rows[0] if rows else {"policy": "", "errors": []}
    count = len(invalid)
    return {
        "phase": "validation",
        "error": f"Policy validation failed ({count} invalid polic{'y' if count == 1 else 'ies'})",
        "details": {"policy": first["policy"], "errors": first["errors"], "policies": rows},
    }


def error_report(error: BuilderError) -> dict[str, Any]:
    """build_error.json for any other failure."""
    text = str(error)
    return {
        "phase": error.phase,
        "error": text.splitlines()[0] if text else "",
        "details": {"message": text},
    }


_CONTROL = {c: f"\\x{c:02x}" for c in [*range(0x20), 0x7F] if c != 0x0A}


def printable(text: str) -> str:
    """text with control characters (ANSI escapes, carriage returns) spelled out, so a
    hostile policy name cannot rewrite the user's terminal. Newlines are kept."""
    return text.translate(_CONTROL)


# A diff of generated files is Go and Starlark: its tabs are content, not an attack.
_CONTROL_BUT_TAB = {c: v for c, v in _CONTROL.items() if c != 0x09}


def printable_diff(diff: str) -> str:
    """A unified diff with every control character but newline and tab spelled out."""
    return diff.translate(_CONTROL_BUT_TAB)


def _indented(text: str) -> str:
    # Multi-line messages (Go's own output) continue under their bullet.
    return printable(text).replace("\n", "\n    ")


def summary(report: ValidationReport, fancy: bool) -> str:
    """The terminal's summary: one block per invalid policy, warnings after."""
    bad, bullet = ("❌", "•") if fancy else ("FAILED", "-")
    lines: list[str] = []
    for r in report.policies:
        if r.valid:
            continue
        name = printable(r.key).replace("\n", "\\n")
        lines.append(f"{bad} Validation failed for {name} ({printable(r.rel_path)})")
        lines.extend(f"  {bullet} {_indented(problem_line(p))}" for p in r.errors)
    for r in report.policies:
        lines.extend(
            f"warning: {printable(r.rel_path)}: {_indented(problem_line(p))}" for p in r.warnings
        )
    if not report.valid:
        lines += ["", "Fix these errors and rebuild."]
    return "\n".join(lines)
