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

# path -> [size, mtime_ns, content hash ("dir" for a directory, "missing" if absent)]
Files = dict[str, list[Any]]


@dataclass(frozen=True)
class Scope:
    """What one generate run reads: directories walked whole, and single files."""

    directories: tuple[Path, ...]
    files: tuple[Path, ...]

    def entries(self, known: Files | None = None) -> Iterator[tuple[str, list[Any]]]:
        """Every directory and file of the scope with its entry (in no set order: they
        are compared by path); directories count, so an added or removed (even empty)
        directory is a change.
        A file's hash is taken from known when its size and time agree and are not racy."""
        for top in self.directories:
            yield from _tree(str(top), known or {})
        for path in self.files:
            name = str(path)
            yield name, _entry(name, None, (known or {}).get(name))


def _tree(top: str, known: Files) -> Iterator[tuple[str, list[Any]]]:
    try:
        st = os.stat(top)
    except OSError:
        yield top, [-1, -1, _MISSING]
        return
    if not stat.S_ISDIR(st.st_mode):
        yield top, _entry(top, st, known.get(top))
        return
    yield top, [0, 0, _DIR]
    try:
        with os.scandir(top) as it:
            children = list(it)
    except OSError:
        return
    for child in children:
        if child.is_dir(follow_symlinks=True):
            if child.name not in _SKIP_DIRS:
                yield from _tree(child.path, known)
        else:
            try:
                child_stat = child.stat()
            except OSError:
                yield child.path, [-1, -1, _MISSING]
                continue
            yield child.path, _entry(child.path, child_stat, known.get(child.path))


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


def settings_key(argv: Sequence[str], environ: Mapping[str, str], go: str) -> str:
    """The arguments, the working directory, the environment variables that matter, the
    builder's and Python's versions and the `go` binary (path, size, time), as one hash;
    the stamp is kept under it."""
    env = sorted(
        (k, v) for k, v in environ.items() if k.startswith(_ENV_PREFIXES) or k in _ENV_NAMES
    )
    return digest(
        __version__,
        sys.version,
        os.getcwd(),
        "\0".join(argv),
        repr(env),
        go,
        repr(_go_identity(go)),
    )


class Stamps:
    """The stamps of generate runs, one per settings key, in the cache."""

    def __init__(self, store: Store | None = None) -> None:
        # A stamp lists every file generate reads: tens of them are plenty.
        self.store = store or Store(cache_dir() / "generate.sqlite", limit=32)

    def current(self, key: str, scope: Scope) -> dict[str, Any] | None:
        """The result recorded for key if no path of scope changed since; else None.
        When files had to be read to tell (racy or touched), the stamp is renewed so the
        next run can trust their times again."""
        started = time.time_ns()
        stamp = self.store.get(key)
        try:
            taken = int(stamp["taken"])
            files: Files = stamp["files"]
            result: dict[str, Any] = stamp["result"]
        except (KeyError, TypeError, ValueError):
            return None
        trusted = _trusted(files, taken)
        now = dict(scope.entries(trusted))
        if now.keys() != files.keys():
            return None
        if any(now[name][2] != entry[2] for name, entry in files.items()):
            return None
        # Files were read (racy, or touched): renew, so the next run can trust their times.
        if now != files or len(trusted) != len(files):
            self.store.put(key, {"taken": started, "files": now, "result": result})
        return result

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
        ours = {str(path) for path in written}
        now = dict(scope.entries(_trusted(before, taken)))
        if set(before) - set(now):
            return
        for name, entry in now.items():
            if name not in ours and (name not in before or before[name][2] != entry[2]):
                return
        self.store.put(key, {"taken": taken, "files": now, "result": result})
