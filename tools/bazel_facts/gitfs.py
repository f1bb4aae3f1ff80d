"""Files of a git snapshot at one commit or tag, read with `git show` (bare repositories
work), each with the provenance prefix `owner/repo@ref:path`."""

from __future__ import annotations

import subprocess
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path

from .errors import FactsError


class SourceTree(ABC):
    """Files of one version of a repository, each named `owner/repo@ref:path`."""

    ref: str
    # "owner/repo", as provenance names it.
    repo: str

    @abstractmethod
    def read(self, path: str) -> str | None:
        """The file's text, or None if there is no such file."""

    @abstractmethod
    def _origin(self) -> str:
        """Where the files are read from, for the error on a missing one."""

    def must_read(self, path: str) -> str:
        text = self.read(path)
        if text is None:
            raise FactsError(f"{self.where(path)}: no such file {self._origin()}")
        return text

    def where(self, path: str, line: int | None = None) -> str:
        return f"{self.repo}@{self.ref}:{path}" + (f":{line}" if line is not None else "")


@dataclass
class GitTree(SourceTree):
    git_dir: Path
    ref: str
    repo: str
    _cache: dict[str, str | None] = field(default_factory=dict, repr=False)

    def _git(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["git", f"--git-dir={self.git_dir}", *args],
            capture_output=True,
            text=True,
            check=False,
        )

    def read(self, path: str) -> str | None:
        """The file's text at `ref`, or None if it has no such file."""
        if path not in self._cache:
            result = self._git("show", f"{self.ref}:{path}")
            self._cache[path] = result.stdout if result.returncode == 0 else None
        return self._cache[path]

    def _origin(self) -> str:
        return f"in the snapshot {self.git_dir}"

    def has_ref(self) -> bool:
        return (
            self._git("rev-parse", "--verify", "--quiet", f"{self.ref}^{{commit}}").returncode == 0
        )

    def commit(self) -> tuple[str, str]:
        """The full commit id and its committer date (ISO 8601) of `ref`."""
        result = self._git("log", "-1", "--format=%H %cI", self.ref)
        if result.returncode != 0:
            raise FactsError(f"{self.git_dir}: cannot read {self.ref}: {result.stderr.strip()}")
        commit, date = result.stdout.split()
        return commit, date


@dataclass
class DirTree(SourceTree):
    """A source directory (Bazel's own sources), read like a snapshot at `ref`."""

    root: Path
    ref: str
    repo: str

    def read(self, path: str) -> str | None:
        file = self.root / path
        return file.read_text() if file.is_file() else None

    def _origin(self) -> str:
        return f"under {self.root}"
