"""`generate`'s no-change path: answer "up to date" without running the phases when
nothing it reads has changed since a run that succeeded.

`generate` is a pure function of the files it reads (the policies, the engine, the
templates, the Go helper, the builder itself, MODULE.bazel, go.work), its arguments, a
few environment variables and the `go` it runs; and a second run over its own output
changes nothing. So the files as a successful run left them are a fixed point: while
they stay so, a new run would write nothing and --check would find nothing.

A stamp in the cache records that state the way git's index does: each file's size,
modification time and content hash. A file whose size or time differs is read and hashed;
one modified too close to when the stamp was taken to trust its time ("racy", as git
calls it) is always hashed. Any difference, or any doubt (no stamp, an unreadable one, a
file that vanished), means the phases run as usual. A stamp is only recorded when every
file read is as it was when the run started, but for those the run wrote itself, so an
edit made while generate runs is never taken for its result. The reports in the output
directory are not part of it: only runs that do the work write them.

Paths inside the workspace are recorded relative to it, so another checkout with the same
content (a CI runner that restores the cache, a git worktree) is up to date too: there
every file is read, as another checkout's times say nothing, and the result's paths are
moved to the new place. Each checkout also keeps the stamp of its own last run, so two
worktrees used in turn do not undo each other's.
"""

from __future__ import annotations

import os
import stat
import sys
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from policy_builder import __version__
from policy_builder.cache import RACY_NS, Store, cache_dir, digest, file_hash

# Settings outside the arguments that can change what generate writes or validates.
_ENV_PREFIXES = ("GO", "CGO_", "POLICY_", "BUILD_", "GIT_")
_ENV_NAMES = ("POLICIES_DIR", "OUTPUT_DIR", "SOURCE_DATE_EPOCH")
_SKIP_DIRS = {".git", "__pycache__", "node_modules"}
_DIR = "dir"
_MISSING = "missing"

# name -> [size, mtime_ns, content hash ("dir" for a directory, "missing" if absent)];
# a name is a path relative to the scope's root, or absolute outside it.
Files = dict[str, list[Any]]


@dataclass(frozen=True)
class Scope:
    """What one generate run reads: directories walked whole, and single files. Paths
    inside root (the workspace) are named relative to it, so a stamp describes the tree,
    not where it is: another checkout with the same content is up to date too."""

    directories: tuple[Path, ...]
    files: tuple[Path, ...]
    root: Path = Path("/")

    def name(self, path: Path | str) -> str:
        """path's name in the scope's entries ("." for the root itself)."""
        text = str(path)
        return text[self._cut(text) :] or "."

    def _cut(self, path: str) -> int:
        """How many characters of path its name leaves out: the root and its slash, when
        path is in the root (the file system's root keeps every path absolute)."""
        root = str(self.root).rstrip("/")
        inside = root and (path == root or path.startswith(root + "/"))
        return len(root) + 1 if inside else 0

    def entries(self, known: Files | None = None) -> Iterator[tuple[str, list[Any]]]:
        """Every directory and file of the scope with its entry (in no set order: they
        are compared by name); directories count, so an added or removed (even empty)
        directory is a change.
        A file's hash is taken from known when its size and time agree and are not racy."""
        for top in self.directories:
            yield from _tree(str(top), self._cut(str(top)), known or {})
        for path in self.files:
            name = self.name(path)
            yield name, _entry(str(path), None, (known or {}).get(name))


def _tree(top: str, cut: int, known: Files) -> Iterator[tuple[str, list[Any]]]:
    """The name (the path without its first `cut` characters; "." for the root itself)
    and entry of every path under top, top included."""
    name = top[cut:] or "."
    try:
        st = os.stat(top)
    except OSError:
        yield name, [-1, -1, _MISSING]
        return
    if not stat.S_ISDIR(st.st_mode):
        yield name, _entry(top, st, known.get(name))
        return
    yield name, [0, 0, _DIR]
    try:
        with os.scandir(top) as it:
            children = list(it)
    except OSError:
        return
    for child in children:
        if child.is_dir(follow_symlinks=True):
            if child.name not in _SKIP_DIRS:
                yield from _tree(child.path, cut, known)
        else:
            name = child.path[cut:]
            try:
                child_stat = child.stat()
            except OSError:
                yield name, [-1, -1, _MISSING]
                continue
            yield name, _entry(child.path, child_stat, known.get(name))


def _entry(path: str, st: os.stat_result | None, known: list[Any] | None) -> list[Any]:
    """path's [size, mtime, hash]; the hash comes from known (a trusted earlier entry)
    when size and time agree, else from reading the file."""
    if st is None:
        try:
            st = os.stat(path)
        except OSError:
            return [-1, -1, _MISSING]
    if stat.S_ISDIR(st.st_mode):
        return [0, 0, _DIR]
    if known is not None and known[0] == st.st_size and known[1] == st.st_mtime_ns:
        return [st.st_size, st.st_mtime_ns, known[2]]
    try:
        sha = file_hash(path, st)
    except OSError:
        sha = _MISSING
    return [st.st_size, st.st_mtime_ns, sha]


def snapshot(scope: Scope) -> Files:
    """Every path of scope with its size, time and content hash."""
    return dict(scope.entries())


def _trusted(files: Files, taken: int) -> Files:
    """The entries of files whose time is old enough, at `taken`, to stand for content."""
    return {name: e for name, e in files.items() if e[1] < taken - RACY_NS}


def _go_identity(go: str) -> tuple[int, int] | None:
    """The `go` binary's size and time: a new Go release replaces the file."""
    try:
        st = os.stat(go) if go else None
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns) if st else None


def settings_key(argv: Sequence[str], environ: Mapping[str, str], go: str, where: str) -> str:
    """The arguments, the working directory (`where`: relative to the workspace when in
    it), the environment variables that matter, the builder's and Python's versions and
    the `go` binary (path, size, time), as one hash; the stamp is kept under it."""
    env = sorted(
        (k, v) for k, v in environ.items() if k.startswith(_ENV_PREFIXES) or k in _ENV_NAMES
    )
    return digest(
        __version__,
        sys.version,
        where,
        "\0".join(argv),
        repr(env),
        go,
        repr(_go_identity(go)),
    )


class Stamps:
    """The stamps of generate runs in the cache: per settings key, the last run's in any
    checkout and the last one's in each checkout (so two worktrees used in turn keep
    theirs)."""

    def __init__(self, store: Store | None = None) -> None:
        # A stamp lists every file generate reads: tens of them are plenty.
        self.store = store or Store(cache_dir() / "generate.sqlite", limit=32)
        # The last walk `current` made, and when it started: a snapshot as good as
        # `snapshot`'s, for a run that then does the work.
        self.walked: tuple[int, Files] | None = None

    def current(self, key: str, scope: Scope) -> dict[str, Any] | None:
        """The result recorded for key if no path of scope changed since; else None.
        When files had to be read to tell (racy, touched, or another checkout's stamp),
        the stamp is renewed so the next run can trust their times again."""
        started = time.time_ns()
        where = str(scope.root)
        stamps = [s for s in map(self._stamp, (_here(key, scope), key)) if s is not None]
        if not stamps:
            return None
        # One walk serves every stamp: only this checkout's file times stand for content
        # (another checkout's say nothing here), the other files are read.
        own = next((s for s in stamps if s.root == where), None)
        trusted = _trusted(own.files, own.taken) if own else {}
        now = dict(scope.entries(trusted))
        self.walked = (started, now)
        for stamp in stamps:
            if not _same_content(now, stamp.files):
                continue
            result = stamp.result
            if stamp.root != where:
                result = _relocated(result, stamp.root, where)
            # Renewed for this checkout only: the content, all another checkout uses,
            # is the same.
            if now != stamp.files or len(trusted) != len(stamp.files):
                self._put({_here(key, scope)}, scope, started, now, result)
            return result
        return None

    def _stamp(self, key: str) -> _Stamp | None:
        """The stamp stored under key, or None when there is none or it is unreadable."""
        stamp = self.store.get(key)
        try:
            return _Stamp(int(stamp["taken"]), stamp["files"], stamp["result"], str(stamp["root"]))
        except (KeyError, TypeError, ValueError):
            return None

    def _put(self, keys: set[str], scope: Scope, taken: int, files: Files, result: Any) -> None:
        stamp = {"taken": taken, "root": str(scope.root), "files": files, "result": result}
        self.store.put_many(dict.fromkeys(keys, stamp))

    def record(
        self,
        key: str,
        scope: Scope,
        before: Files,
        written: Iterable[Path],
        result: dict[str, Any],
        taken: int,
    ) -> None:
        """Remember that scope's paths give result, if they are as they were before the
        run (the `before` snapshot, taken at time `taken`) except those it wrote."""
        ours = {scope.name(path) for path in written}
        now = dict(scope.entries(_trusted(before, taken)))
        if set(before) - set(now):
            return
        for name, entry in now.items():
            if name not in ours and (name not in before or before[name][2] != entry[2]):
                return
        self._put({key, _here(key, scope)}, scope, taken, now, result)


@dataclass(frozen=True)
class _Stamp:
    taken: int
    files: Files
    result: dict[str, Any]
    # The workspace of the run that recorded it.
    root: str


def _same_content(now: Files, files: Files) -> bool:
    """Whether now names the same paths as files, each with the same content."""
    return now.keys() == files.keys() and all(now[n][2] == e[2] for n, e in files.items())


def _here(key: str, scope: Scope) -> str:
    """The key of the stamp of this checkout's last run."""
    return digest(key, str(scope.root))


def _relocated(value: Any, old: str, new: str) -> Any:
    """value (a result) with every path in the old root moved to the new one."""
    if isinstance(value, str):
        if value == old or value.startswith(old.rstrip("/") + "/"):
            return new + value[len(old) :]
        return value
    if isinstance(value, list):
        return [_relocated(v, old, new) for v in value]
    if isinstance(value, dict):
        return {k: _relocated(v, old, new) for k, v in value.items()}
    return value
