"""The `go` the builder runs: under `bazel run`, the Go SDK MODULE.bazel pins; else the
one on PATH."""

from __future__ import annotations

import os
import shutil

from policy_builder.bazel_run import bazel_go
from policy_builder.errors import ToolMissing


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
