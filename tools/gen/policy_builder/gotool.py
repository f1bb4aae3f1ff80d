"""The `go` the builder runs: under `bazel run`, the Go SDK MODULE.bazel pins; else the
one on PATH."""

from __future__ import annotations

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
