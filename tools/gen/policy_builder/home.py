"""Where the builder finds the engine sources and templates it builds from.

In a checkout (editable install) that is the repository root, three levels above this
package; under `bazel run` it is the workspace (BUILD_WORKSPACE_DIRECTORY: the package sits
in runfiles there); in the builder image it is POLICY_ENGINE_HOME; `--engine-dir`
overrides them all. `generate` treats the home as the monorepo's workspace root.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from policy_builder.bazel_run import bazel_workspace
from policy_builder.errors import UsageError

ENGINE_MODULE = "github.com/policy-engine-builder/policy-engine"
SDK_PACKAGE = ENGINE_MODULE + "/worker/policies"
BUILDINFO_PACKAGE = ENGINE_MODULE + "/pkg/buildinfo"


@dataclass(frozen=True)
class Home:
    """The engine sources, templates and Go helper the builder uses."""

    root: Path

    @property
    def engine_dir(self) -> Path:
        return self.root / "engine"

    @property
    def templates_dir(self) -> Path:
        return self.root / "templates"

    @property
    def gocheck_dir(self) -> Path:
        return self.root / "tools" / "gen" / "gocheck"


def find_home(explicit: str | None = None) -> Home:
    """The builder's home from --engine-dir, `bazel run`'s workspace, POLICY_ENGINE_HOME or
    the package location, in that order."""
    workspace = bazel_workspace()
    if explicit:
        root = Path(explicit)
    elif workspace is not None:
        root = workspace
    elif os.environ.get("POLICY_ENGINE_HOME"):
        root = Path(os.environ["POLICY_ENGINE_HOME"])
    else:
        root = Path(__file__).resolve().parents[3]
    home = Home(root.resolve())
    if (home.engine_dir / "go.mod").is_file() and home.templates_dir.is_dir():
        return home
    raise UsageError(
        f"cannot find the engine sources and templates under {root}; "
        "pass --engine-dir or set POLICY_ENGINE_HOME to the directory holding engine/ "
        "and templates/"
    )
