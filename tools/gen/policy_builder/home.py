"""Where the builder finds the engine sources and templates it builds from.

In a checkout (editable install) that is the repository root, three levels above this
package; in the builder image it is POLICY_ENGINE_HOME; `--engine-dir` overrides both.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

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
    """The builder's home from --engine-dir, POLICY_ENGINE_HOME or the package location."""
    candidates: list[Path] = []
    if explicit:
        candidates.append(Path(explicit))
    elif os.environ.get("POLICY_ENGINE_HOME"):
        candidates.append(Path(os.environ["POLICY_ENGINE_HOME"]))
    else:
        candidates.append(Path(__file__).resolve().parents[3])
    for root in candidates:
        home = Home(root.resolve())
        if (home.engine_dir / "go.mod").is_file() and home.templates_dir.is_dir():
            return home
    raise UsageError(
        f"cannot find the engine sources and templates under {candidates[0]}; "
        "pass --engine-dir or set POLICY_ENGINE_HOME to the directory holding engine/ "
        "and templates/"
    )
