"""The Bazel Central Registry, read from a git snapshot of its repository.

`modules/` is exported once (`git archive HEAD modules`) into a scratch directory; lookups
then read plain files, which is much faster than one git call per module version.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bazel_real.gitsnap import Snapshot

# How the BCR's metadata.json names a repository on the code host the snapshots come from:
# "<prefix>owner/name". The snapshots are stored as <owner>+<name>/repo.
_REPO_PREFIX = "github:"
# Several rule sets moved between these two organisations; a snapshot under either will do.
_TWIN_ORGS = ("bazel-contrib", "bazelbuild")


@dataclass(frozen=True)
class SourceSpec:
    """The parts of a module version's source.json that say how to rebuild its tree."""

    url: str
    strip_prefix: str
    overlay: tuple[str, ...]
    patches: tuple[str, ...]
    patch_strip: int


@dataclass(frozen=True)
class Bcr:
    """An exported copy of the BCR's modules/ directory."""

    modules: Path  # <export>/modules

    @classmethod
    def export(cls, snapshot: Snapshot, scratch: Path) -> Bcr:
        shutil.rmtree(scratch, ignore_errors=True)
        modules = scratch / "modules"
        modules.mkdir(parents=True)
        if snapshot.extract("HEAD", "modules", modules).missing:
            raise RuntimeError(f"{snapshot.name}: the snapshot lacks some of modules/")
        return cls(modules)

    def names(self) -> list[str]:
        return sorted(p.name for p in self.modules.iterdir() if p.is_dir())

    def versions(self, name: str) -> list[str]:
        """Every version the BCR publishes (a directory holding a MODULE.bazel)."""
        return sorted(
            p.name for p in (self.modules / name).iterdir() if (p / "MODULE.bazel").is_file()
        )

    def version_dir(self, name: str, version: str) -> Path:
        return self.modules / name / version

    def metadata(self, name: str) -> dict[str, Any]:
        p = self.modules / name / "metadata.json"
        return dict(json.loads(p.read_text())) if p.is_file() else {}

    def source(self, name: str, version: str) -> SourceSpec:
        raw = json.loads((self.version_dir(name, version) / "source.json").read_text())
        return SourceSpec(
            url=str(raw.get("url", "")),
            strip_prefix=str(raw.get("strip_prefix") or ""),
            overlay=tuple(raw.get("overlay") or {}),
            patches=tuple(raw.get("patches") or {}),
            patch_strip=int(raw.get("patch_strip", 0)),
        )

    def repositories(self, name: str) -> list[str]:
        return repositories_of(self.metadata(name))


def repositories_of(metadata: dict[str, Any]) -> list[str]:
    """The "owner/name" of every source repository a module's metadata.json lists."""
    return [
        r[len(_REPO_PREFIX) :]
        for r in metadata.get("repository", [])
        if isinstance(r, str) and r.startswith(_REPO_PREFIX)
    ]


def snapshots_for(repositories: list[str], mirror: Path) -> list[Snapshot]:
    """The snapshots under MIRROR of these repositories, each also under its twin org."""
    found: list[Snapshot] = []
    for repo in repositories:
        owner, name = repo.split("/", 1)
        for org in [owner, *(o for o in _TWIN_ORGS if o != owner)]:
            gitdir = mirror / f"{org}+{name}" / "repo"
            if gitdir.is_dir() and all(s.gitdir != gitdir for s in found):
                found.append(Snapshot(gitdir, f"{org}/{name}"))
    return found
