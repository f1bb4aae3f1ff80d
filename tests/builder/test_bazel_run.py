"""Under `bazel run //tools/gen:policy-builder`, the generator runs Go from the SDK that
MODULE.bazel pins (handed over as a runfiles path), so the machine needs no Go of its own."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest
from policy_builder.bazel_run import GO_ENV, bazel_go
from policy_builder.cache import CACHE_ENV
from policy_builder.cli import main
from policy_builder.errors import UsageError

from tests.builder.policytree import write_monorepo

RLOCATION = "rules_go~/go/tools/go_bin_runner/bin/go"


def _runfiles_go(runfiles: Path, log: Path) -> Path:
    """A `go` in a runfiles tree that records each call and runs the real one."""
    real = shutil.which("go")
    assert real is not None
    go = runfiles / RLOCATION
    go.parent.mkdir(parents=True)
    go.write_text(f'#!/bin/sh\necho "$*" >> {log}\nexec {real} "$@"\n')
    go.chmod(go.stat().st_mode | stat.S_IXUSR)
    return go


def test_the_pinned_go_is_found_in_the_runfiles(tmp_path: Path) -> None:
    go = _runfiles_go(tmp_path, tmp_path / "log")
    assert bazel_go({GO_ENV: RLOCATION, "RUNFILES_DIR": str(tmp_path)}) == go
    assert bazel_go({GO_ENV: RLOCATION}) is None  # not run from a runfiles tree
    assert bazel_go({"RUNFILES_DIR": str(tmp_path)}) is None
    with pytest.raises(UsageError, match="not in the runfiles"):
        bazel_go({GO_ENV: "rules_go~/missing/go", "RUNFILES_DIR": str(tmp_path)})


def test_generate_needs_no_go_on_path_under_bazel_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    write_monorepo(repo)
    log = tmp_path / "go-calls"
    runfiles = tmp_path / "runfiles"
    _runfiles_go(runfiles, log)
    go_dir = os.path.dirname(shutil.which("go") or "")
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if p != go_dir)
    monkeypatch.setenv("PATH", path)
    assert shutil.which("go") is None
    monkeypatch.chdir(runfiles)
    monkeypatch.setenv("BUILD_WORKSPACE_DIRECTORY", str(repo))
    monkeypatch.setenv("BUILD_WORKING_DIRECTORY", str(tmp_path))
    monkeypatch.setenv("RUNFILES_DIR", str(runfiles))
    monkeypatch.setenv(GO_ENV, RLOCATION)
    # A cache of its own: with results kept from other tests, no `go list` would run.
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    assert main(["generate", "--quiet"]) == 0
    assert (repo / "policies/hello/v1.0.0/BUILD.bazel").is_file()
    calls = log.read_text().splitlines()
    assert any(call.startswith("list") for call in calls), calls
    # rules_go's `go` would run in BUILD_WORKING_DIRECTORY rather than in the module.
    assert "BUILD_WORKING_DIRECTORY" not in os.environ
