"""Two places the builder works with: the engine sources it builds from, and the
workspace `generate` writes into.

The engine sources (engine/, templates/, the Go helper) are, in a checkout (editable
install), the repository root three levels above this package; under `bazel run` the
workspace (BUILD_WORKSPACE_DIRECTORY: the package sits in runfiles there); in the builder
image POLICY_ENGINE_HOME; `--engine-dir` overrides them all.

The workspace is the monorepo `generate` runs in, not the checkout the tool came from: it
is named the same way, else it is the nearest directory at or above the current one
holding MODULE.bazel, as for Bazel itself. Its engine sources are its own engine/ and
templates/.
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
MODULE_FILE = "MODULE.bazel"


@dataclass(frozen=True)
class EngineSources:
    """The engine sources, templates and Go helper the builder uses, under root."""

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

    @property
    def image_tool_dir(self) -> Path:
        return self.root / "tools" / "gen" / "image"


def _named_root(explicit: str | None) -> Path | None:
    """The directory --engine-dir, `bazel run`'s workspace or POLICY_ENGINE_HOME names, in
    that order; None when none does."""
    if explicit:
        return Path(explicit)
    workspace = bazel_workspace()
    if workspace is not None:
        return workspace
    env = os.environ.get("POLICY_ENGINE_HOME")
    return Path(env) if env else None


def _checked(root: Path, found: str = "") -> EngineSources:
    sources = EngineSources(root.resolve())
    if (sources.engine_dir / "go.mod").is_file() and sources.templates_dir.is_dir():
        return sources
    raise UsageError(
        f"cannot find the engine sources and templates under {root}{found}; "
        "pass --engine-dir or set POLICY_ENGINE_HOME to the directory holding engine/ "
        "and templates/"
    )


def find_engine_sources(explicit: str | None = None) -> EngineSources:
    """The engine sources from --engine-dir, `bazel run`'s workspace, POLICY_ENGINE_HOME or
    the package location, in that order."""
    return _checked(_named_root(explicit) or Path(__file__).resolve().parents[3])


def enclosing_module(start: Path) -> Path | None:
    """The nearest directory at or above start that holds MODULE.bazel, or None."""
    start = start.resolve()
    return next((d for d in (start, *start.parents) if (d / MODULE_FILE).is_file()), None)


def find_workspace(explicit: str | None = None, cwd: Path | None = None) -> Path:
    """`generate`'s workspace from --engine-dir, `bazel run`'s workspace or
    POLICY_ENGINE_HOME, else the Bazel module enclosing cwd (default: the current
    directory); checked to hold engine sources."""
    root = _named_root(explicit)
    if root is not None:
        return _checked(root).root
    here = cwd or Path.cwd()
    module = enclosing_module(here)
    if module is None:
        raise UsageError(
            f"no {MODULE_FILE} in {here} or any directory above it: `generate` writes the "
            "Bazel files of the workspace it runs in; run it inside one, or name the "
            "workspace with --engine-dir (or POLICY_ENGINE_HOME)"
        )
    return _checked(module, f" (the nearest directory holding {MODULE_FILE})").root
