"""The builder's cache directory, and content-addressed JSON entries in it.

The directory is POLICY_BUILDER_CACHE when set, else `policy-builder` under the user's
cache directory ($XDG_CACHE_HOME, else ~/.cache). An entry's key is a hash of every input
that can change its value, so an entry is never stale, only unused. The cache can only
make a run faster: an entry that is missing, unreadable or corrupt is a miss and a write
that fails is skipped. Entries live in SQLite databases, one file per kind: a validation
of hundreds of new policies keeps their answers in one transaction, where a file per
entry cost half a millisecond each to create, and a concurrent run never reads half an
entry.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Callable, Mapping
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


class Store:
    """JSON values by key in one SQLite database of the cache. Use one Store per thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                self._db = _open(self.path)
            except sqlite3.OperationalError:
                raise  # locked or unwritable: a miss this time, the file may be fine
            except sqlite3.DatabaseError:
                # Not a database, or a damaged one: start it again rather than miss forever.
                self.path.unlink()
                self._db = _open(self.path)
        return self._db

    def get(self, key: str) -> Any:
        """The value stored under key, or None."""
        try:
            row = (
                self._connect()
                .execute("SELECT value FROM entries WHERE key = ?", (key,))
                .fetchone()
            )
            return json.loads(row[0]) if row else None
        except (OSError, sqlite3.Error, ValueError, TypeError):
            return None

    def put(self, key: str, value: Any) -> None:
        """Store value under key; a cache that cannot be written only costs speed."""
        self.put_many({key: value})

    def put_many(self, values: Mapping[str, Any]) -> None:
        """Store every key's value in one transaction."""
        rows = [(key, json.dumps(value, separators=(",", ":"))) for key, value in values.items()]
        try:
            with self._connect() as db:
                db.executemany("INSERT OR REPLACE INTO entries (key, value) VALUES (?, ?)", rows)
        except (OSError, sqlite3.Error):
            return


def _open(path: Path) -> sqlite3.Connection:
    # A concurrent run holding the write lock makes this one wait, briefly, not fail.
    db = sqlite3.connect(path, timeout=10)
    db.execute("CREATE TABLE IF NOT EXISTS entries (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    return db
