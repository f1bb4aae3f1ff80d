"""Running under `bazel run //tools/gen:policy_builder -- ...`.

Bazel starts the tool inside its runfiles tree, where neither the engine nor the user's
policies are, and names the workspace in BUILD_WORKSPACE_DIRECTORY. Working from there
makes relative paths (./policies, ./output) mean what they mean in the checkout, and the
workspace is the builder's home (see home.find_home).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from policy_builder.errors import UsageError

WORKSPACE_ENV = "BUILD_WORKSPACE_DIRECTORY"


def bazel_workspace(environ: Mapping[str, str] | None = None) -> Path | None:
    """The workspace `bazel run` names, or None outside `bazel run`."""
    value = (os.environ if environ is None else environ).get(WORKSPACE_ENV)
    return Path(value) if value else None


def enter_bazel_workspace() -> None:
    """Under `bazel run`, make the workspace the working directory."""
    workspace = bazel_workspace()
    if workspace is None:
        return
    try:
        os.chdir(workspace)
    except OSError as error:
        raise UsageError(f"{WORKSPACE_ENV}={workspace} cannot be entered: {error}") from error
