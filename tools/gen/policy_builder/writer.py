"""The one place generated files reach the disk.

Any generator's output ({relative path: content}) goes through `write_files`: each file
is written atomically (temp file in the same directory, then rename) and only when its
content changed, so unchanged files keep their mtimes and incremental builds stay
incremental. `check_files` runs the same comparison and writes nothing.
"""

from __future__ import annotations

import difflib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from policy_builder.errors import GenerateFailed


@dataclass(frozen=True)
class WriteResult:
    written: tuple[str, ...]
    unchanged: tuple[str, ...]


def _target(root: Path, rel: str) -> Path:
    parts = [p for p in rel.split("/") if p not in ("", ".")]
    if rel.startswith("/") or ".." in parts or not parts:
        raise GenerateFailed(f"refusing to write {rel!r}: generated paths must stay inside {root}")
    return root.joinpath(*parts)


def _temp_beside(path: Path, mode: int) -> tuple[int, str]:
    """A new file beside path, open for writing, with mode (whatever the umask says)."""
    tmp = str(path.parent / f".{path.name}.{os.getpid()}.tmp")
    try:
        # A name of our own is a tenth of mkstemp's cost, which shows over 500 files.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.fchmod(fd, mode)
    return fd, tmp


def _current(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def write_files(root: Path, files: dict[str, str], mode: int = 0o644) -> WriteResult:
    """Write files under root; return which were written and which were already current."""
    written: list[str] = []
    unchanged: list[str] = []
    made: set[Path] = set()
    for rel in sorted(files):
        path = _target(root, rel)
        data = files[rel].encode("utf-8")
        if _current(path) == data:
            unchanged.append(rel)
            continue
        if path.parent not in made:
            path.parent.mkdir(parents=True, exist_ok=True)
            made.add(path.parent)
        fd, tmp = _temp_beside(path, mode)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        written.append(rel)
    return WriteResult(tuple(written), tuple(unchanged))


def check_files(root: Path, files: dict[str, str]) -> str:
    """A unified diff from what is on disk to what would be written; "" when current."""
    chunks: list[str] = []
    for rel in sorted(files):
        current = _current(_target(root, rel))
        old = current.decode("utf-8", errors="replace") if current is not None else ""
        new = files[rel]
        if current is not None and old == new:
            continue
        chunks.extend(
            difflib.unified_diff(
                old.splitlines(keepends=True),
                new.splitlines(keepends=True),
                fromfile=f"a/{rel}" if current is not None else "/dev/null",
                tofile=f"b/{rel}",
            )
        )
    return "".join(chunks)
