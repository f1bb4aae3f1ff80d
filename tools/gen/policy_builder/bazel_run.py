"""Running under `bazel run //tools/gen:policy-builder -- ...`.

Bazel starts the tool inside its runfiles tree, where neither the engine nor the user's
policies are, and names the workspace in BUILD_WORKSPACE_DIRECTORY. Working from there
makes relative paths (./policies, ./output) mean what they mean in the checkout, and the
workspace holds the engine sources (see home.find_engine_sources). The py_binary also
hands over the Go SDK that MODULE.bazel pins, so the machine needs no Go of its own.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from policy_builder.errors import UsageError

WORKSPACE_ENV = "BUILD_WORKSPACE_DIRECTORY"
# Set by tools/gen/BUILD.bazel to the runfiles path of rules_go's `go` (@rules_go//go).
GO_ENV = "POLICY_BUILDER_GO"


def bazel_workspace(environ: Mapping[str, str] | None = None) -> Path | None:
    """The workspace `bazel run` names, or None outside `bazel run`."""
    value = (os.environ if environ is None else environ).get(WORKSPACE_ENV)
    return Path(value) if value else None


def enter_bazel_workspace() -> None:
    """Under `bazel run`, make the workspace the working directory, and prepare the
    environment of the programs started from here for rules_go's `go`: it finds the Go
    SDK through RUNFILES_DIR, which the py_binary's launcher does not export, and it would
    run in BUILD_WORKING_DIRECTORY instead of the module the builder runs it in."""
    workspace = bazel_workspace()
    if workspace is None:
        return
    runfiles = runfiles_dir()
    if runfiles is not None:
        os.environ["RUNFILES_DIR"] = str(runfiles)
    os.environ.pop("BUILD_WORKING_DIRECTORY", None)
    try:
        os.chdir(workspace)
    except OSError as error:
        raise UsageError(f"{WORKSPACE_ENV}={workspace} cannot be entered: {error}") from error


def runfiles_dir(environ: Mapping[str, str] | None = None) -> Path | None:
    """The runfiles tree this package runs from: RUNFILES_DIR, else the `*.runfiles`
    folder that holds this file; None outside Bazel."""
    env = os.environ if environ is None else environ
    if env.get("RUNFILES_DIR"):
        return Path(env["RUNFILES_DIR"])
    return next((p for p in Path(__file__).parents if p.name.endswith(".runfiles")), None)


def bazel_go(environ: Mapping[str, str] | None = None) -> Path | None:
    """The pinned Go SDK's `go` under `bazel run`, or None elsewhere.

    POLICY_BUILDER_GO is a path in the runfiles tree (see runfiles_dir)."""
    env = os.environ if environ is None else environ
    rlocation = env.get(GO_ENV)
    runfiles = runfiles_dir(env)
    if not rlocation or runfiles is None:
        return None
    go = runfiles / rlocation
    if not go.is_file():
        raise UsageError(f"{GO_ENV}={rlocation} is not in the runfiles at {runfiles}")
    return go
