"""The builder's cache directory, and content-addressed JSON entries in it.

The directory is POLICY_BUILDER_CACHE when set, else `policy-builder` under the user's
cache directory ($XDG_CACHE_HOME, else ~/.cache). An entry's key is a hash of every input
that can change its value, so an entry is never stale, only unused. The cache can only
make a run faster: an entry that is missing, unreadable or corrupt is a miss, a write that
fails is skipped, and writes are atomic (a temporary file renamed into place), so a
concurrent run never reads half an entry.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CACHE_ENV = "POLICY_BUILDER_CACHE"


def cache_dir() -> Path:
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "policy-builder"


def digest(*parts: str | bytes) -> str:
    """A hash of parts that no other sequence of parts shares (each is length-prefixed)."""
    h = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        h.update(len(data).to_bytes(8, "big"))
        h.update(data)
    return h.hexdigest()


def tree_digest(root: Path, include: Callable[[str], bool]) -> str:
    """A hash of the relative path and bytes of every file under root whose name include
    accepts, in a fixed order; an unreadable file hashes as its error."""
    parts: list[str | bytes] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        here = Path(dirpath)
        for name in sorted(filenames):
            if not include(name):
                continue
            path = here / name
            parts.append(path.relative_to(root).as_posix())
            try:
                parts.append(path.read_bytes())
            except OSError as error:
                parts.append(f"unreadable: {error.strerror}")
    return digest(*parts)


@dataclass(frozen=True)
class Store:
    """JSON values by key in one directory of the cache."""

    directory: Path

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def get(self, key: str) -> Any:
        """The value stored under key, or None."""
        try:
            return json.loads(self._path(key).read_bytes())
        except (OSError, ValueError):
            return None

    def put(self, key: str, value: Any) -> None:
        """Store value under key; a cache that cannot be written only costs speed."""
        path = self._path(key)
        text = json.dumps(value, separators=(",", ":"))
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{key[:8]}.", suffix=".tmp")
        except OSError:
            return
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.replace(tmp, path)
        except BaseException as error:
            Path(tmp).unlink(missing_ok=True)
            if not isinstance(error, OSError):
                raise
