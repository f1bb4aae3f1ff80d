"""Small policy trees for tests, written into tmp_path, SDK-only Go code."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

from policy_builder.cli import main

REPO = Path(__file__).resolve().parents[2]
ENGINE = "github.com/policy-engine-builder/policy-engine"
ENGINE_REQUIRE = f"require {ENGINE} v0.0.0-00010101000000-000000000000\n"

REQUEST_GO = """package {pkg}

import "{engine}/worker/policies"

type policy struct{{}}

func GetPolicy(metadata policies.PolicyMetadata, params map[string]interface{{}}) (policies.Policy, error) {{
	return &policy{{}}, nil
}}

func (p *policy) Name() string {{ return "{name}" }}

func (p *policy) Validate(config map[string]interface{{}}) error {{ return nil }}

func (p *policy) ExecuteRequest(ctx *policies.RequestContext, config map[string]interface{{}}) *policies.RequestPolicyAction {{
	return nil
}}
"""

# A request policy whose Name() comes from a local module (pulled in by a replace).
LIB_POLICY_GO = """package {pkg}

import (
	"{lib}"
	"{engine}/worker/policies"
)

type p struct{{}}

func GetPolicy(metadata policies.PolicyMetadata, params map[string]interface{{}}) (policies.Policy, error) {{
	return p{{}}, nil
}}

func (p) Name() string {{ return {name_expr} }}

func (p) Validate(config map[string]interface{{}}) error {{ return nil }}

func (p) ExecuteRequest(ctx *policies.RequestContext, config map[string]interface{{}}) *policies.RequestPolicyAction {{
	return nil
}}
"""

RESPONSE_METHOD = """
func (p *policy) ExecuteResponse(ctx *policies.ResponseContext, config map[string]interface{}) *policies.ResponsePolicyAction {
	return nil
}
"""


def write_lib(directory: Path, module: str, pkg: str, go_text: str) -> None:
    """A local Go module (no policy) at directory: go.mod and pkg.go."""
    directory.mkdir(parents=True)
    (directory / "go.mod").write_text(f"module {module}\n\ngo 1.24\n")
    (directory / f"{pkg}.go").write_text(go_text)


def lib_policy_go(pkg: str, lib: str, name_expr: str) -> str:
    """LIB_POLICY_GO for package pkg importing lib, with Name() returning name_expr."""
    return LIB_POLICY_GO.format(pkg=pkg, lib=lib, engine=ENGINE, name_expr=name_expr)


def policy_yaml(name: str, version: str, extra: str = "") -> str:
    return (
        f"name: {name}\nversion: {version}\ndescription: test policy\n"
        f"supportsRequestPhase: true\n{extra}parameters:\n"
        "  - name: header\n    type: string\n    required: false\n"
    )


def write_policy(
    root: Path,
    rel: str,
    name: str,
    version: str,
    *,
    pkg: str = "policy",
    yaml_text: str | None = None,
    go_text: str | None = None,
    go_mod: str | None = None,
    response: bool = False,
) -> Path:
    """root/rel/{policy.yaml, policy.go, go.mod, go.sum}; None texts take working defaults.
    go.sum is empty, as for a policy whose only requirement is the in-repo engine."""
    d = root / rel
    d.mkdir(parents=True, exist_ok=True)
    extra = "supportsResponsePhase: true\n" if response else ""
    (d / "policy.yaml").write_text(
        yaml_text if yaml_text is not None else policy_yaml(name, version, extra)
    )
    if go_text is None:
        go_text = REQUEST_GO.format(pkg=pkg, engine=ENGINE, name=name)
        if response:
            go_text += RESPONSE_METHOD
    if go_text:
        (d / "policy.go").write_text(go_text)
    module = f"example.com/test/{rel}"
    (d / "go.mod").write_text(
        go_mod if go_mod is not None else f"module {module}\n\ngo 1.24\n\n{ENGINE_REQUIRE}"
    )
    (d / "go.sum").write_text("")
    return d


def copy_engine_sources(dest: Path) -> None:
    """The engine sources under dest: the engine, the templates, the image configuration,
    the Go helper and the image tool sources."""
    shutil.copytree(REPO / "engine", dest / "engine", ignore=shutil.ignore_patterns("*.test"))
    shutil.copytree(REPO / "templates", dest / "templates")
    (dest / "rules").mkdir()
    shutil.copy2(REPO / "rules" / "image_config.bzl", dest / "rules" / "image_config.bzl")
    shutil.copytree(REPO / "tools" / "gen" / "image", dest / "tools" / "gen" / "image")
    gocheck = dest / "tools" / "gen" / "gocheck"
    gocheck.mkdir(parents=True)
    for f in (REPO / "tools" / "gen" / "gocheck").iterdir():
        if f.suffix in (".go", ".mod", ".sum"):
            shutil.copy2(f, gocheck / f.name)


def write_monorepo(root: Path) -> None:
    """A monorepo `generate` runs in: the engine sources, a MODULE.bazel whose go_deps reads
    go.work, and one policy, hello/v1.0.0."""
    copy_engine_sources(root)
    (root / "MODULE.bazel").write_text(
        'module(name = "mono")\n\n'
        'go_deps = use_extension("@gazelle//:extensions.bzl", "go_deps")\n'
        'go_deps.from_file(go_work = "//:go.work")\n'
    )
    write_policy(root / "policies", "hello/v1.0.0", "hello", "v1.0.0")


def tree_state(root: Path) -> dict[str, tuple[str, int]]:
    """Every entry under root with a content hash and mtime: proof nothing was written."""
    state: dict[str, tuple[str, int]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            digest = ""
            if p.is_file() and not p.is_symlink():
                digest = hashlib.sha256(p.read_bytes()).hexdigest()
            state[str(p.relative_to(root))] = (digest, st.st_mtime_ns)
    return state


def run_json(argv: list[str], capsys: object) -> tuple[int, dict[str, object]]:
    """Run the real CLI in-process with --json; return exit code and parsed stdout."""
    code = main([*argv, "--json", "--quiet"])
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    return code, json.loads(out)


def report_errors(output: Path, rel: str) -> list[dict[str, object]]:
    report = json.loads((output / "validation_report.json").read_text())
    rows = [r for r in report["policies"] if r["path"] == rel]
    assert rows, f"{rel} not in report"
    errors: list[dict[str, object]] = rows[0]["errors"]
    return errors
