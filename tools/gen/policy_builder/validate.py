"""Phase 2, validation: every problem of every policy, then the validated manifest.

policy.yaml is checked against the shipped JSON Schema (errors located by line through
the YAML node tree) and a few rules a schema cannot say; Go questions go to the Go helper
in one call. Nothing stops at the first problem.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from policy_builder.cache import Memo
from policy_builder.discover import POLICY_FILE, Candidate, Discovery
from policy_builder.gocheck import GoCheckInput, GoCheckResult, run_gocheck
from policy_builder.gotool import GoMod
from policy_builder.home import EngineSources
from policy_builder.manifest import (
    Manifest,
    PolicyEntry,
    PolicyReport,
    Problem,
    ValidationReport,
    policy_key,
)
from policy_builder.safe_yaml import LoadedYaml

if TYPE_CHECKING:
    import jsonschema


@cache
def policy_schema() -> dict[str, Any]:
    """The published JSON Schema of policy.yaml (policy_builder/schema/)."""
    text = resources.files("policy_builder").joinpath("schema/policy.schema.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def _draft() -> type[jsonschema.Draft202012Validator]:
    # Imported here: its import costs more than checking hundreds of policies, and a run
    # whose policy.yaml files were all checked before (cache.Memo) needs none of it.
    import jsonschema

    return jsonschema.Draft202012Validator


@cache
def _validator() -> jsonschema.Draft202012Validator:
    return _draft()(policy_schema())


def _field_path(path: tuple[str | int, ...]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _schema_message(error: jsonschema.ValidationError) -> str:
    where = _field_path(tuple(error.absolute_path))
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        field = f"{where}.{missing}" if where else missing
        return f"missing required field '{field}'"
    if error.validator == "additionalProperties":
        return f"{where or 'top level'}: {error.message}"
    if error.validator == "not" and _is_sensitive(error.instance):
        # jsonschema's message quotes the whole parameter, its default with it.
        return (
            f"{where}: a sensitive parameter cannot declare a default or an enum: "
            "a secret in policy.yaml is no secret (values not shown)"
        )
    if error.validator == "pattern" and where in ("name", "version"):
        rule = {
            "name": "letters, digits, '_' and '-', starting with a letter",
            "version": "a semantic version with a leading v, like v1.0.0",
        }[where]
        return f"{where}: {json.dumps(error.instance)} is not allowed; use {rule}"
    return f"{where or 'top level'}: {error.message}"


def _is_sensitive(param: Any) -> bool:
    """Whether a parameter declaration is marked sensitive."""
    return isinstance(param, dict) and param.get("sensitive") is True


def schema_problems(candidate: Candidate) -> list[Problem]:
    """JSON Schema errors and the cross-field rules, each with its line."""
    assert candidate.loaded is not None
    loaded = candidate.loaded
    data = loaded.data
    problems: list[Problem] = []
    errors = sorted(_validator().iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    for error in errors:
        path = tuple(error.absolute_path)
        problems.append(
            Problem("schema", _schema_message(error), POLICY_FILE, loaded.line_of(path))
        )
    if not isinstance(data, dict):
        return problems
    if data.get("supportsRequestPhase", True) is False and not data.get("supportsResponsePhase"):
        line = loaded.line_of(("supportsRequestPhase",))
        problems.append(
            Problem(
                "schema-no-phase",
                "the policy supports neither phase; set supportsRequestPhase or "
                "supportsResponsePhase to true",
                POLICY_FILE,
                line,
            )
        )
    params = data.get("parameters")
    if isinstance(params, list):
        problems.extend(_default_problems(loaded, params))
        seen: dict[str, int] = {}
        for i, p in enumerate(params):
            name = p.get("name") if isinstance(p, dict) else None
            if not isinstance(name, str):
                continue
            if name in seen:
                problems.append(
                    Problem(
                        "schema-duplicate-parameter",
                        f"parameters[{i}]: parameter {name!r} is already declared as "
                        f"parameters[{seen[name]}]",
                        POLICY_FILE,
                        loaded.line_of(("parameters", i, "name")),
                    )
                )
            seen.setdefault(name, i)
    return problems


_DURATION = re.compile(r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$")


def _matches(kind: str, value: Any) -> bool:
    """Whether value fits a parameter type (bool is not a number here, unlike in Python)."""
    if kind in ("string", "uri"):
        return isinstance(value, str)
    if kind == "duration":
        return isinstance(value, str) and bool(_DURATION.match(value))
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "array":
        return isinstance(value, list)
    return isinstance(value, dict)


# JSON Schema type of each parameter type, and the declaration keys that constrain a
# value; the engine derives the same schema (engine/pkg/validation) at load time.
_JSON_TYPES = {
    "string": "string",
    "uri": "string",
    "duration": "string",
    "integer": "integer",
    "number": "number",
    "boolean": "boolean",
    "array": "array",
    "object": "object",
}
_VALUE_CONSTRAINTS = ("enum", "minimum", "maximum", "minLength", "maxLength", "pattern")


def _value_schema(param: dict[str, Any]) -> dict[str, Any]:
    """The JSON Schema a value of this parameter must match."""
    schema: dict[str, Any] = {"type": _JSON_TYPES[param["type"]]}
    schema.update({k: param[k] for k in _VALUE_CONSTRAINTS if k in param})
    items = param.get("items")
    if param["type"] == "array" and isinstance(items, dict) and items.get("type") in _JSON_TYPES:
        schema["items"] = _value_schema(items)
    return schema


def _default_problems(loaded: LoadedYaml, params: list[Any]) -> list[Problem]:
    """A parameter's default must satisfy the parameter's own declaration (type, enum,
    bounds, lengths, pattern, item type), or the engine would refuse the policy at load."""
    problems: list[Problem] = []
    for i, p in enumerate(params):
        if not isinstance(p, dict) or "default" not in p or p.get("type") not in _JSON_TYPES:
            continue
        if _is_sensitive(p):
            continue  # the schema refuses the default; its value is never repeated
        default, kind = p["default"], p["type"]
        line = loaded.line_of(("parameters", i, "default"))
        if not _matches(kind, default):
            reason = f"is not a valid {kind}"
        else:
            errors = sorted(
                _draft()(_value_schema(p)).iter_errors(default),
                key=lambda e: (list(e.absolute_path), e.message),
            )
            if not errors:
                continue
            reason = f"breaks its declaration: {errors[0].message}"
        problems.append(
            Problem(
                "schema-default",
                f"parameters[{i}].default: {json.dumps(default)} {reason}",
                POLICY_FILE,
                line,
            )
        )
    return problems


# The cache's name for a policy.yaml's schema problems (cache.Memo).
_SCHEMA_CHECKED = "policy.yaml schema"


def _kept_schema_problems(candidate: Candidate, memo: Memo) -> list[Problem]:
    """schema_problems, kept in the cache by the policy.yaml's bytes (and the builder's
    files, the schema among them)."""
    rows: list[dict[str, Any]] = memo(
        _SCHEMA_CHECKED,
        lambda: [dataclasses.asdict(p) for p in schema_problems(candidate)],
        candidate.raw,
    )
    return [Problem(**row) for row in rows]


def _phases(candidate: Candidate) -> tuple[bool, bool]:
    data = candidate.loaded.data if candidate.loaded else None
    if not isinstance(data, dict):
        return True, False
    req = data.get("supportsRequestPhase", True)
    resp = data.get("supportsResponsePhase", False)
    return req is True, resp is True


def _yaml_problems(
    discovery: Discovery,
) -> tuple[dict[str, list[Problem]], dict[str, list[Problem]]]:
    """The errors and warnings of every candidate's policy.yaml, by relative path."""
    errors: dict[str, list[Problem]] = defaultdict(list)
    warnings: dict[str, list[Problem]] = defaultdict(list)
    by_key: dict[str, list[Candidate]] = defaultdict(list)
    loaded = [c for c in discovery.candidates if c.load_problem is None]
    with Memo() as memo:
        memo.prefetch(_SCHEMA_CHECKED, [(c.raw,) for c in loaded])
        for c in loaded:
            errors[c.rel_path].extend(_kept_schema_problems(c, memo))
    for c in discovery.candidates:
        if c.load_problem is not None:
            errors[c.rel_path].append(c.load_problem)
            continue
        by_key[policy_key(c.name, c.version)].append(c)
        if c.version != c.path.name:
            warnings[c.rel_path].append(
                Problem(
                    "version-dir-mismatch",
                    f"directory version ({c.path.name}) != policy.yaml version ({c.version})",
                    POLICY_FILE,
                    c.loaded.line_of(("version",)) if c.loaded else 0,
                )
            )
    for key, same in by_key.items():
        if len(same) < 2:
            continue
        for c in same:
            others = ", ".join(o.rel_path for o in same if o is not c)
            errors[c.rel_path].append(
                Problem(
                    "duplicate-policy",
                    f"{key} is declared both in {c.rel_path} and in {others}",
                    POLICY_FILE,
                )
            )
    return errors, warnings


@dataclass(frozen=True)
class Validation:
    manifest: Manifest
    report: ValidationReport


def validate(
    discovery: Discovery, sources: EngineSources, engine_go_mod: Callable[[], GoMod]
) -> Validation:
    """Validate every candidate; the manifest holds the valid policies only. engine_go_mod
    gives the engine's go.mod when the Go helper needs it (not when every answer is kept)."""
    inputs = [
        GoCheckInput(c.rel_path, c.path, *_phases(c))
        for c in discovery.candidates
        if c.path.is_dir()
    ]
    # The schema checks run while the Go helper waits on `go list`. The helper stays on
    # this thread, so Ctrl-C reaches the subprocess call that stops it.
    with ThreadPoolExecutor(max_workers=1) as pool:
        checked = pool.submit(_yaml_problems, discovery)
        go_results: dict[str, GoCheckResult] = run_gocheck(
            sources, discovery.root, inputs, engine_go_mod
        )
        errors, warnings = checked.result()
    for rel, result in go_results.items():
        errors[rel].extend(result.problems)
    reports: list[PolicyReport] = []
    entries: list[PolicyEntry] = []
    for c in discovery.candidates:
        report = PolicyReport(
            name=c.name,
            version=c.version,
            rel_path=c.rel_path,
            errors=tuple(errors[c.rel_path]),
            warnings=tuple(warnings[c.rel_path]),
        )
        reports.append(report)
        if not report.valid or c.loaded is None:
            continue
        go = go_results.get(c.rel_path)
        entries.append(
            PolicyEntry(
                name=c.name,
                version=c.version,
                path=c.path,
                rel_path=c.rel_path,
                module_path=go.go_mod.module_path if go and go.go_mod else "",
                spec_source=c.raw,
                go_mod=go.go_mod if go else None,
                go_package=go.go_package if go else None,
            )
        )
    entries.sort(key=lambda e: (e.name, e.version))
    manifest = Manifest(policies_dir=discovery.root, policies=tuple(entries))
    return Validation(manifest=manifest, report=ValidationReport(tuple(reports)))
