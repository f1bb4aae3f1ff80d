"""Runs the Go helper (tools/gen/gocheck) that answers Go questions with Go's own tools.

The helper is built once per source content into the user cache directory, so repeated
validations pay only for running it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from policy_builder.bazel_run import bazel_go
from policy_builder.errors import ToolMissing
from policy_builder.home import SDK_PACKAGE, Home
from policy_builder.manifest import GoModInfo, GoPackageInfo, Problem


@dataclass(frozen=True)
class GoCheckInput:
    rel_path: str
    path: Path
    request: bool
    response: bool


@dataclass(frozen=True)
class GoCheckResult:
    go_mod: GoModInfo | None
    go_package: GoPackageInfo | None
    problems: tuple[Problem, ...]


def go_binary() -> str:
    """The `go` to run: under `bazel run`, the Go SDK MODULE.bazel pins; else the PATH's."""
    pinned = bazel_go()
    if pinned is not None:
        return str(pinned)
    go = shutil.which("go")
    if go is None:
        raise ToolMissing(
            "the Go toolchain (`go`) is not on PATH; install the Go release the engine's "
            "go.mod names on its `go` line, or a newer one"
        )
    return go


def _helper_env() -> dict[str, str]:
    """The helper's go/packages runs `go` from PATH: make that the builder's own `go`."""
    go_dir = str(Path(go_binary()).parent)
    return {**os.environ, "PATH": os.pathsep.join([go_dir, os.environ.get("PATH", "")])}


def go_version() -> str:
    """The installed toolchain's version, e.g. "go1.26.8"."""
    out = subprocess.run(
        [go_binary(), "env", "GOVERSION"], capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "policy-builder"


def helper_binary(home: Home, toolchain: str) -> Path:
    """The helper binary for the helper sources under home and the toolchain version,
    built if needed."""
    digest = hashlib.sha256(toolchain.encode())
    for f in sorted(home.gocheck_dir.iterdir()):
        if f.suffix in (".go", ".mod", ".sum"):
            digest.update(f.name.encode() + b"\0" + f.read_bytes())
    target = _cache_dir() / f"gocheck-{digest.hexdigest()[:16]}"
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + f".{os.getpid()}.tmp")
    env = dict(os.environ, GOWORK="off", GOFLAGS="", CGO_ENABLED="0", GOTOOLCHAIN="local")
    proc = subprocess.run(
        [go_binary(), "build", "-trimpath", "-o", str(tmp), "."],
        cwd=home.gocheck_dir,
        env=env,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise ToolMissing(f"cannot build the Go helper in {home.gocheck_dir}:\n{proc.stderr}")
    tmp.replace(target)
    return target


def run_gocheck(home: Home, root: Path, inputs: list[GoCheckInput]) -> dict[str, GoCheckResult]:
    """Results keyed by rel_path; one helper process for all policies."""
    if not inputs:
        return {}
    toolchain = go_version()
    helper = helper_binary(home, toolchain)
    with tempfile.TemporaryDirectory(prefix="policy-builder-gocheck-") as work:
        request = {
            "engine_dir": str(home.engine_dir),
            "sdk_package": SDK_PACKAGE,
            "work_dir": work,
            "policies_dir": str(root),
            "go_version": toolchain,
            "policies": [
                {"id": i.rel_path, "dir": str(i.path), "request": i.request, "response": i.response}
                for i in inputs
            ],
        }
        proc = subprocess.run(
            [str(helper)],
            input=json.dumps(request),
            capture_output=True,
            text=True,
            cwd=work,
            env=_helper_env(),
        )
    if proc.returncode != 0:
        raise ToolMissing(f"the Go helper failed:\n{proc.stderr.strip()}")
    answer: dict[str, Any] = json.loads(proc.stdout)
    return {r["id"]: _result(r) for r in answer["results"]}


def _result(r: dict[str, Any]) -> GoCheckResult:
    mod = r.get("module")
    go_mod = None
    if mod:
        go_mod = GoModInfo(
            module_path=mod["path"],
            go_version=mod["go"],
            requires=tuple((a, b) for a, b in mod["requires"]),
            replaces=tuple((a, b) for a, b in mod["replaces"]),
        )
    go_package = None
    if r["package_name"]:
        go_package = GoPackageInfo(
            package_name=r["package_name"],
            go_files=tuple(r["go_files"]),
            imports=tuple(r["imports"]),
            test_go_files=tuple(r["test_go_files"]),
            test_imports=tuple(r["test_imports"]),
            testdata=r["testdata"],
        )
    problems = tuple(
        Problem(code=p["code"], message=p["message"], file=p["file"], line=p["line"])
        for p in r["problems"]
    )
    return GoCheckResult(go_mod, go_package, problems)
