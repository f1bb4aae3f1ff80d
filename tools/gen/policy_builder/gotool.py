"""The `go` the builder runs (under `bazel run`, the Go SDK MODULE.bazel pins; else the one
on PATH), how it is run, and the one reader of a go.mod on the Python side."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from policy_builder.bazel_run import bazel_go
from policy_builder.cache import cache_dir, digest, tree_digest
from policy_builder.errors import ToolFailed, ToolMissing


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


def run_tool(
    cmd: list[str],
    what: str,
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run cmd and return it finished, whatever its exit status; a program that cannot be
    started at all (removed, not executable, not a program) is a ToolFailed naming it."""
    try:
        return subprocess.run(
            cmd,
            cwd=cwd,
            env=None if env is None else dict(env),
            input=stdin,
            capture_output=True,
            text=True,
        )
    except OSError as error:
        raise ToolFailed(f"{what}: cannot run {cmd[0]}: {error.strerror or error}") from error


def run_go(
    args: list[str], what: str, *, cwd: Path | None = None, env: Mapping[str, str] | None = None
) -> str:
    """Stdout of `go ARGS`; a failure is a ToolFailed with Go's own message."""
    proc = run_tool([go_binary(), *args], what, cwd=cwd, env=env)
    if proc.returncode != 0:
        detail = proc.stderr.strip() or proc.stdout.strip() or f"exit status {proc.returncode}"
        raise ToolFailed(f"{what}: `go {' '.join(args)}` failed:\n{detail}")
    return proc.stdout


@dataclass(frozen=True)
class Requirement:
    path: str
    version: str
    # Marked `// indirect` in go.mod.
    indirect: bool = False


@dataclass(frozen=True)
class GoMod:
    """What a go.mod declares, as `go mod edit -json` reports it."""

    module_path: str
    go_version: str
    requires: tuple[Requirement, ...]

    @property
    def direct_requires(self) -> frozenset[str]:
        """Module paths required without `// indirect`: the module's own choices."""
        return frozenset(r.path for r in self.requires if not r.indirect)


def read_go_mod(module_dir: Path) -> GoMod:
    """module_dir/go.mod as Go itself parses it (`go mod edit -json`), read-only: GOWORK
    is off (the root go.work is a generated output, maybe stale) and the user's GOFLAGS
    cannot make a read edit go.mod."""
    what = f"reading {module_dir / 'go.mod'}"
    out = run_go(
        ["mod", "edit", "-json"],
        what,
        cwd=module_dir,
        env={**os.environ, "GOWORK": "off", "GOFLAGS": ""},
    )
    try:
        data = json.loads(out)
        return GoMod(
            module_path=data["Module"]["Path"],
            go_version=data.get("Go") or "",
            requires=tuple(
                sorted(
                    (
                        Requirement(r["Path"], r["Version"], bool(r.get("Indirect")))
                        for r in data.get("Require") or ()
                    ),
                    key=lambda r: r.path,
                )
            ),
        )
    except (ValueError, KeyError, TypeError) as error:
        raise ToolFailed(f"{what}: `go mod edit -json` answered unreadably: {error}") from error


# The settings of every `go` command that compiles for the builder: the engine's build,
# the type check's `go list -export` and the Go helper's own build. Identical settings give
# identical action keys, so what one compiles, the others find in Go's build cache (a
# first build compiles each package once). GOFLAGS and GOTOOLCHAIN are fixed so that the
# user's (say GOFLAGS=-mod=mod) cannot change a build.
BUILD_ENV = {"CGO_ENABLED": "0", "GOFLAGS": "", "GOTOOLCHAIN": "local"}
BUILD_FLAGS = ("-trimpath",)


def build_env(**extra: str) -> dict[str, str]:
    """The process environment with BUILD_ENV and extra on top."""
    return {**os.environ, **BUILD_ENV, **extra}


def go_source_id(src: Path, toolchain: str) -> str:
    """A hash of the Go sources under src (.go but tests, go.mod, go.sum, by relative
    path) and of the toolchain that builds them: what a binary built from src depends on."""
    return digest(toolchain, tree_digest(src, _binary_source))


def _binary_source(name: str) -> bool:
    # Test files are not part of the binary.
    return name.endswith((".go", ".mod", ".sum")) and not name.endswith("_test.go")


def cached_go_binary(src: Path, name: str, source_id: str, what: str) -> Path:
    """The main package in src built with the build's settings into the cache directory
    as NAME-<source_id prefix>, once per source_id; a concurrent build of the same one
    is harmless (each writes its own temporary file, then renames it into place)."""
    target = cache_dir() / f"{name}-{source_id[:16]}"
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + f".{os.getpid()}.tmp")
    proc = run_tool(
        [go_binary(), "build", *BUILD_FLAGS, "-buildvcs=false", "-o", str(tmp), "."],
        f"building {what}",
        cwd=src,
        env=build_env(GOWORK="off"),
    )
    if proc.returncode != 0:
        raise ToolFailed(f"cannot build {what} in {src}:\n{proc.stderr}")
    tmp.replace(target)
    _prune_binaries(target.parent, name)
    return target


# Binaries of a helper kept in the cache: one is built for every edit of its sources, and
# each is megabytes; a run whose binary was pruned builds it again.
KEPT_BINARIES = 3


def _prune_binaries(directory: Path, name: str) -> None:
    """Remove all but the KEPT_BINARIES most recently built binaries called NAME-*."""
    built = []
    for path in directory.glob(f"{name}-*"):
        if not path.name.endswith(".tmp"):
            try:
                built.append((path.stat().st_mtime_ns, path))
            except OSError:
                continue
    for _, path in sorted(built, reverse=True)[KEPT_BINARIES:]:
        path.unlink(missing_ok=True)
