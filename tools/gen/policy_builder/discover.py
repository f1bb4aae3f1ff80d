"""Phase 1, discovery: find every policy.yaml under the policies root and read it safely.

Discovery never fails on one bad policy: a policy.yaml that cannot be read becomes a
candidate with a load problem, so validation can report all problems at once. Only a
root that is missing, empty or unsafe as a whole (a symlink leading out) stops here.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from policy_builder.cache import Memo
from policy_builder.errors import InputError
from policy_builder.manifest import Problem
from policy_builder.safe_yaml import LoadedYaml, YamlProblem, load_yaml, too_large

POLICY_FILE = "policy.yaml"
# The cache's name for a policy.yaml's loaded data (cache.Memo).
_LOADED = "policy.yaml"


@dataclass(frozen=True)
class Candidate:
    """A directory holding a policy.yaml, read but not yet validated."""

    # Policy directory, absolute, and relative to the root with POSIX separators.
    path: Path
    rel_path: str
    raw: bytes
    # The parsed document, or None with load_problem set.
    loaded: LoadedYaml | None
    load_problem: Problem | None

    @property
    def yaml_file(self) -> Path:
        return self.path / POLICY_FILE

    @property
    def go_mod_file(self) -> Path:
        return self.path / "go.mod"

    def _field(self, key: str) -> str:
        data: Any = self.loaded.data if self.loaded else None
        value = data.get(key) if isinstance(data, dict) else None
        return value if isinstance(value, str) else ""

    @property
    def name(self) -> str:
        """`name` from the YAML, else the directory above the version directory."""
        return self._field("name") or self.path.parent.name

    @property
    def version(self) -> str:
        """`version` from the YAML, else the version directory's name."""
        return self._field("version") or self.path.name


@dataclass(frozen=True)
class Discovery:
    root: Path
    candidates: tuple[Candidate, ...]


def _skip_dir(name: str) -> bool:
    # Hidden directories (.git) and Go's testdata never hold policies.
    return name.startswith(".") or name == "testdata"


def _check_symlink(root: Path, link: Path) -> None:
    target = link.resolve()
    if not target.is_relative_to(root):
        rel = link.relative_to(root).as_posix()
        raise InputError(
            f"{rel}: symlink leads outside the policies directory (to {os.readlink(link)}); "
            "copy the file into the policies directory instead"
        )


def discover(policies_dir: Path) -> Discovery:
    """Every policy.yaml under policies_dir, sorted by relative path."""
    if not policies_dir.exists():
        raise InputError(f"policies directory {policies_dir} does not exist")
    if not policies_dir.is_dir():
        raise InputError(f"policies directory {policies_dir} is not a directory")
    root = policies_dir.resolve()
    read = [(d, _read(d)) for d in _policy_dirs(root)]
    if not read:
        raise InputError(
            f"no policies found: {policies_dir} holds no policy.yaml; lay policies out as "
            "<policies>/<name>/<version>/policy.yaml (or create one with `policy-builder new NAME`)"
        )
    with Memo() as memo:
        memo.prefetch(_LOADED, [(raw,) for _, raw in read if isinstance(raw, bytes)])
        found = [_candidate(root, d, raw, memo) for d, raw in read]
    found.sort(key=lambda c: c.rel_path)
    return Discovery(root=root, candidates=tuple(found))


def _policy_dirs(root: Path) -> list[Path]:
    """Every directory under root that holds a policy.yaml."""
    found: list[Path] = []
    pending = [str(root)]
    while pending:
        here = pending.pop()
        holds_policy = False
        try:
            with os.scandir(here) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            continue  # as os.walk does: an unreadable directory holds nothing
        for entry in entries:
            # is_dir follows a symlink: a link to a directory is one, as os.walk has it.
            is_dir = entry.is_dir()
            if is_dir and _skip_dir(entry.name):
                continue
            link = entry.is_symlink()
            if link:
                _check_symlink(root, Path(entry.path))
            if is_dir and not link:
                pending.append(entry.path)
            elif not is_dir and entry.name == POLICY_FILE:
                holds_policy = True
        if holds_policy:
            found.append(Path(here))
    return found


def _json_exact(data: Any) -> bool:
    """Whether data comes back from JSON as it is (no dates, no non-string keys)."""
    try:
        return bool(json.loads(json.dumps(data)) == data)
    except (TypeError, ValueError):
        return False


def _load(raw: bytes, memo: Memo) -> LoadedYaml:
    """raw loaded; a document loaded before is taken from the cache (memo), parsing being
    most of discovery's time."""
    data = memo(_LOADED, lambda: load_yaml(raw).data, raw, keep=_json_exact)
    # The cache keeps only documents that load_yaml loaded, so raw is UTF-8.
    return LoadedYaml(data, raw.decode("utf-8").removeprefix("\ufeff"))


def _read(directory: Path) -> bytes | Problem:
    """The bytes of directory's policy.yaml, or why they cannot be had."""
    yaml_path = directory / POLICY_FILE
    try:
        # Reported without reading: a huge file must cost neither time nor memory.
        huge = too_large(yaml_path.stat().st_size)
        if huge is not None:
            return Problem(huge.code, huge.message, POLICY_FILE)
        return yaml_path.read_bytes()
    except OSError as exc:
        return Problem("yaml-unreadable", f"cannot read policy.yaml: {exc.strerror}", POLICY_FILE)


def _candidate(root: Path, directory: Path, raw: bytes | Problem, memo: Memo) -> Candidate:
    rel = directory.relative_to(root).as_posix()
    if isinstance(raw, Problem):
        return Candidate(directory, rel, b"", None, raw)
    try:
        loaded = _load(raw, memo)
    except YamlProblem as exc:
        problem = Problem(exc.code, exc.message, POLICY_FILE, exc.line)
        return Candidate(directory, rel, raw, None, problem)
    return Candidate(directory, rel, raw, loaded, None)
