"""A policy must not silently upgrade the engine's own dependencies: the build stops and
names the module, both versions and the policy. The engine here is a copy of the real
one whose go.mod requires an older xid than the policy does (xid is outside the real
engine's module graph, so only this test's requirement brings it in), and imports it
where the test says: in its main package (the engine links it: the core), or only in a
library package for policies, as the SDK's jwtauth needs its JWT libraries (a warning)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from policy_builder.errors import EXIT_INVALID

from tests.builder.policytree import ENGINE_REQUIRE, copy_engine_sources, run_json, write_policy

CMP = "github.com/rs/xid"


def _go_mod_sum(version: str, scratch: Path) -> str:
    scratch.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        ["go", "mod", "download", "-json", f"{CMP}@{version}"],
        cwd=scratch,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "GOWORK": "off", "GOFLAGS": "-mod=mod"},
    )
    if proc.returncode != 0:
        pytest.skip(f"module proxy unreachable: {proc.stderr.strip()}")
    sums = json.loads(proc.stdout)
    return f"{CMP} {version} {sums['Sum']}\n{CMP} {version}/go.mod {sums['GoModSum']}\n"


def _setup(tmp_path: Path, engine_comment: str, importer: str) -> tuple[Path, Path]:
    """importer: the engine directory (relative) whose package imports xid, or ""."""
    home = tmp_path / "home"
    copy_engine_sources(home)
    with (home / "engine" / "go.mod").open("a") as f:
        f.write(f"\nrequire {CMP} v1.5.0{engine_comment}\n")
    with (home / "engine" / "go.sum").open("a") as f:
        f.write(_go_mod_sum("v1.5.0", tmp_path / "q"))
    if importer:
        package = "main" if importer == "." else Path(importer).name
        (home / "engine" / importer).mkdir(parents=True, exist_ok=True)
        (home / "engine" / importer / "xid_use.go").write_text(
            f'package {package}\n\nimport _ "{CMP}"\n'
        )
    root = tmp_path / "policies"
    d = write_policy(
        root,
        "conflict/v1.0.0",
        "conflict",
        "v1.0.0",
        go_mod=f"module example.com/conflict\n\ngo 1.24\n\n{ENGINE_REQUIRE}require {CMP} v1.6.0\n",
    )
    (d / "go.sum").write_text(_go_mod_sum("v1.6.0", tmp_path / "q"))
    return home, root


def _build(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], engine_comment: str, importer: str
) -> tuple[int, dict[str, object], Path]:
    """Build the conflicting policy against the engine copy; exit code, result, output."""
    home, root = _setup(tmp_path, engine_comment, importer)
    out = tmp_path / "out"
    code, result = run_json(
        ["build", "--engine-dir", str(home), "--policies", str(root), "--output", str(out)],
        capsys,
    )
    return code, result, out


UPGRADE = f"{CMP}: the engine uses v1.5.0, the build would use v1.6.0 (required by conflict:v1.0.0)"


def test_policy_cannot_upgrade_a_direct_engine_dependency(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, result, out = _build(tmp_path, capsys, "", ".")
    assert code == EXIT_INVALID
    assert result["phase"] == "compilation"
    assert f"\n  {UPGRADE}\n" in str(result["error"])
    assert not (out / "policy-engine").exists()
    error = json.loads((out / "build_error.json").read_text())
    assert error["phase"] == "compilation"
    assert error["error"] == (
        "policies would change the versions of the engine's direct dependencies:"
    )


def test_indirect_engine_dependency_upgrade_is_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, result, out = _build(tmp_path, capsys, " // indirect", "")
    assert code == 0, result
    assert result["warnings"] == [f"engine dependency upgraded by policies: {UPGRADE}"]
    assert (out / "policy-engine").is_file()


def test_upgrading_what_only_a_library_for_policies_needs_is_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A direct requirement of the engine that only a package for policies imports (as
    # jwtauth imports the JWT libraries): the engine itself links none of it.
    code, result, out = _build(tmp_path, capsys, "", "worker/policies/xidlib")
    assert code == 0, result
    assert result["warnings"] == [f"engine dependency upgraded by policies: {UPGRADE}"]
    assert (out / "policy-engine").is_file()
