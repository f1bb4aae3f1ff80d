"""How policies are wired into the scratch build: absolute replace targets inside the
policies directory point at the copy, and a scaffolded policy's own test passes."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from policy_builder.cli import main
from policy_builder.gotool import read_go_mod
from policy_builder.home import find_engine_sources

from tests.builder.policytree import (
    ENGINE_REQUIRE,
    lib_policy_go,
    run_json,
    tree_state,
    write_lib,
    write_policy,
)

REPO = Path(__file__).resolve().parents[2]


def test_absolute_replace_inside_policies_dir(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "policies"
    lib = root / "shared" / "util"
    write_lib(
        lib,
        "example.com/util",
        "util",
        'package util\n\n// Name is used by the policy.\nconst Name = "abs"\n',
    )
    go = lib_policy_go("abs", "example.com/util", "util.Name")
    write_policy(
        root,
        "abs/v1.0.0",
        "abs",
        "v1.0.0",
        go_text=go,
        go_mod=f"module example.com/abs\n\ngo 1.24\n\n{ENGINE_REQUIRE}require example.com/util v0.0.0\n\n"
        f"replace example.com/util => {lib}\n",
    )
    before = tree_state(root)
    build_dir = tmp_path / "scratch"
    code, out = run_json(
        [
            "build",
            "--policies",
            str(root),
            "--output",
            str(tmp_path / "out"),
            "--skip-package",
            "--build-dir",
            str(build_dir),
        ],
        capsys,
    )
    assert code == 0, out
    copy_mod = (build_dir / "policies" / "abs" / "v1.0.0" / "go.mod").read_text()
    assert "replace example.com/util => ../../shared/util" in copy_mod
    assert str(root) not in copy_mod
    assert tree_state(root) == before
    version = subprocess.run(
        [str(tmp_path / "out" / "policy-engine"), "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert version.stdout.endswith("policies: abs:v1.0.0\n")


def test_scaffolded_policy_passes_its_own_test(tmp_path: Path) -> None:
    root = tmp_path / "policies"
    assert main(["new", "greeter", "--version", "v2.1.0", "--policies", str(root), "--quiet"]) == 0
    policy = root / "greeter" / "v2.1.0"
    work = tmp_path / "go.work"
    # The engine's own go directive: a workspace may not declare an older Go than a module.
    go = read_go_mod(find_engine_sources().engine_dir).go_version
    work.write_text(
        f"go {go}\n\nuse (\n\t{REPO / 'engine'}\n\t{policy}\n)\n\n"
        "replace github.com/policy-engine-builder/policy-engine "
        f"v0.0.0-00010101000000-000000000000 => {REPO / 'engine'}\n"
    )
    proc = subprocess.run(
        ["go", "test", "-v", "./..."],
        cwd=policy,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "GOWORK": str(work), "GOFLAGS": ""},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # The scaffold carries the policy.yaml check (policytest), not only a behaviour test.
    assert "--- PASS: TestPolicyYAMLMatchesCode" in proc.stdout, proc.stdout
    fmt = subprocess.run(["gofmt", "-l", str(policy)], capture_output=True, text=True, check=True)
    assert fmt.stdout == "", f"scaffolded Go files are not gofmt-clean: {fmt.stdout}"
    assert "module example.com/policies/greeter/v2.1.0" in (policy / "go.mod").read_text()
