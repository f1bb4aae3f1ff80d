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
import importlib.util
import json
import os
import sqlite3
import stat
import time
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

CACHE_ENV = "POLICY_BUILDER_CACHE"
# File times are only as fine as the file system's clock: a file modified within this
# margin of when the process started could change again without its time changing.
RACY_NS = 2_000_000_000
_STARTED_NS = time.time_ns()
# (path, size, mtime, inode) -> sha256 of the content, for files older than the margin.
_file_hashes: dict[tuple[str, int, int, int], str] = {}


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


def file_hash(path: str, st: os.stat_result | None = None) -> str:
    """The sha256 of path's content (st: its stat, when the caller has it). One run reads
    a file once: the no-change stamp and the Go helper's answer keys hash the same files,
    so the hash is remembered under the file's size, time and inode, unless the file was
    modified too close to the start to trust its time. Raises OSError."""
    if st is None:
        st = os.stat(path)
    key = (path, st.st_size, st.st_mtime_ns, st.st_ino)
    known = _file_hashes.get(key)
    if known is not None:
        return known
    with open(path, "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    if st.st_mtime_ns < _STARTED_NS - RACY_NS:
        _file_hashes[key] = sha
    return sha


def tree_digest(root: Path, include: Callable[[str], bool]) -> str:
    """A hash of the relative path and content hash of every file under root whose name
    include accepts, in a fixed order; an unreadable file hashes as its error."""
    parts: list[str] = []
    _digest_parts(str(root), "", include, parts)
    return digest(*parts)


def _digest_parts(
    directory: str, rel: str, include: Callable[[str], bool], parts: list[str]
) -> None:
    try:
        with os.scandir(directory) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError:
        return
    # Files first, then each directory's: the order os.walk gave, top-down.
    for entry in entries:
        if entry.is_dir() or not include(entry.name):
            continue
        parts.append(rel + entry.name)
        try:
            st = entry.stat()
            parts.append(file_hash(entry.path, st) if stat.S_ISREG(st.st_mode) else "not a file")
        except OSError as error:
            parts.append(f"unreadable: {error.strerror}")
    for entry in entries:
        if entry.is_dir() and not entry.is_symlink():
            _digest_parts(entry.path, f"{rel}{entry.name}/", include, parts)


# The libraries whose versions can change a kept result, by module and distribution name.
_LIBRARIES = (("yaml", "pyyaml"), ("jsonschema", "jsonschema"), ("libcst", "libcst"))


def builder_id() -> str:
    """A hash of the builder's own files (its code, schema and templates) and of the
    versions of the libraries it computes with: the key of a result its code computes
    includes it (not the Go helper's: its binary has its own id)."""
    return digest(_own_files(), *(_installed(module, dist) for module, dist in _LIBRARIES))


@cache
def _own_files() -> str:
    # Once per process: every Memo of a run asks, and the files do not change under it.
    return tree_digest(Path(__file__).resolve().parent, lambda name: not name.endswith(".pyc"))


@cache
def _installed(module: str, dist: str) -> str:
    """The dist-info directory beside module's package (it names the version), found
    without importing the module; "" when there is none."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.origin:
        return ""
    site = Path(spec.origin).parent.parent
    try:
        names = os.listdir(site)
    except OSError:
        return ""
    prefix = dist + "-"
    found = [n for n in names if n.endswith(".dist-info") and n.lower().startswith(prefix)]
    return ",".join(sorted(found))


# The database of Memo's results.
MEMO = "memo.sqlite"
T = TypeVar("T")


class Memo:
    """Results of the builder's own pure functions (a policy.yaml's checks, the edits of
    BUILD and MODULE.bazel files), kept by the content of their inputs and the builder's
    files. Use one Memo per thread, as a context manager: new results are stored when it
    closes, in one transaction."""

    def __init__(self, store: Store | None = None) -> None:
        self.store = store or Store(cache_dir() / MEMO)
        self._builder = builder_id()
        self._new: dict[str, Any] = {}
        self._fetched: dict[str, Any] = {}

    def prefetch(self, what: str, calls: Iterable[tuple[str | bytes, ...]]) -> None:
        """Read the kept results of the calls of `what` (each its inputs) in one query,
        for the calls that follow: a query each costs more than the result saves."""
        keys = [digest(what, self._builder, *inputs) for inputs in calls]
        found = self.store.get_many(keys)
        # A key asked for and not found is a miss already: no second query for it.
        self._fetched.update({key: found.get(key) for key in keys})

    def __enter__(self) -> Memo:
        return self

    def __exit__(self, *exc: object) -> None:
        # Results computed before an error are as good as any: keep them too.
        self.store.put_many(self._new)
        self._new.clear()

    def __call__(
        self,
        what: str,
        compute: Callable[[], T],
        *inputs: str | bytes,
        keep: Callable[[T], bool] = lambda _: True,
    ) -> T:
        """compute()'s result, kept under `what` and inputs (every input it reads, whole)
        when keep accepts it; it must come back from JSON unchanged."""
        key = digest(what, self._builder, *inputs)
        kept = self._fetched[key] if key in self._fetched else self.store.get(key)
        if isinstance(kept, dict) and "value" in kept:
            found: T = kept["value"]
            return found
        value = compute()
        if keep(value):
            self._new[key] = {"value": value}
        return value


class Store:
    """JSON values by key in one SQLite database of the cache: those among the last
    `limit` written (an entry rewritten counts as new), so the cache cannot grow without
    bound. Use one Store per thread."""

    def __init__(self, path: Path, limit: int = 50_000) -> None:
        self.path = path
        self.limit = limit
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

    def get_many(self, keys: Iterable[str]) -> dict[str, Any]:
        """The values stored under those of keys that have one."""
        found: dict[str, Any] = {}
        wanted = list(keys)
        try:
            db = self._connect()
            # SQLite allows 32766 parameters a statement.
            for start in range(0, len(wanted), 30000):
                chunk = wanted[start : start + 30000]
                marks = ",".join("?" * len(chunk))
                query = f"SELECT key, value FROM entries WHERE key IN ({marks})"
                for key, value in db.execute(query, chunk):
                    found[key] = json.loads(value)
        except (OSError, sqlite3.Error, ValueError, TypeError):
            return {}
        return found

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
                # REPLACE deletes a key's old row, so rowids run in order of writing.
                db.executemany("INSERT OR REPLACE INTO entries (key, value) VALUES (?, ?)", rows)
                db.execute(
                    "DELETE FROM entries WHERE rowid <= (SELECT max(rowid) FROM entries) - ?",
                    (self.limit,),
                )
        except (OSError, sqlite3.Error):
            return


def _open(path: Path) -> sqlite3.Connection:
    # A concurrent run holding the write lock makes this one wait, briefly, not fail.
    db = sqlite3.connect(path, timeout=10)
    db.execute("CREATE TABLE IF NOT EXISTS entries (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    return db
