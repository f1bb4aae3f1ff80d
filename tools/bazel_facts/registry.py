"""The Bazel Central Registry snapshot: published and yanked versions, each reachable
release's MODULE.bazel facts, and minimal version selection over those facts."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

from .errors import FactsError
from .gitfs import GitTree
from .model import Dep, ModuleFacts, Registry, Release
from .module_file import read_module_file
from .versions import Version

_GITHUB = re.compile(r"github\.com/([^/]+/[^/]+)/(?:releases/download|archive/refs/tags)/([^/]+)/")


def _json_line(text: str, needle: str) -> int:
    for number, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return number
    return 1


def _source(bcr: GitTree, name: str, version: str, metadata: dict[str, object]) -> tuple[str, str]:
    """(owner/repo, tag) of a release, from its source.json URL or metadata's repository."""
    path = f"modules/{name}/{version}/source.json"
    source = json.loads(bcr.must_read(path))
    match = _GITHUB.search(str(source.get("url", "")))
    if match:
        return match.group(1), match.group(2)
    repos = metadata.get("repository") or []
    assert isinstance(repos, list)
    for repo in repos:
        if str(repo).startswith("github:"):
            return str(repo)[len("github:") :], version
    return "", ""  # not on GitHub: no snapshot can hold its sources


def read_registry(bcr: GitTree, roots: Iterable[Dep]) -> Registry:
    """Facts for every module version reachable from `roots` through non-dev bazel_deps
    (every requested version, as Bazel's discovery reads them)."""
    commit, date = bcr.commit()
    pinned = GitTree(bcr.git_dir, commit, bcr.repo)
    modules: dict[str, ModuleFacts] = {}
    metadata: dict[str, dict[str, object]] = {}
    pending = [(d.name, d.version, d.provenance) for d in roots]
    releases: dict[str, dict[str, Release]] = {}
    while pending:
        name, version, wanted_by = pending.pop()
        if name not in metadata:
            path = f"modules/{name}/metadata.json"
            text = pinned.read(path)
            if text is None:
                raise FactsError(
                    f"{wanted_by}: {name} is not in the registry ({pinned.where(path)})"
                )
            metadata[name] = json.loads(text)
            yanked = metadata[name].get("yanked_versions") or {}
            assert isinstance(yanked, dict)
            versions = metadata[name].get("versions") or []
            assert isinstance(versions, list)
            modules[name] = ModuleFacts(
                versions=[str(v) for v in versions],
                provenance=pinned.where(path, _json_line(text, '"versions"')),
                yanked={str(k): str(v) for k, v in yanked.items()},
                releases={},
            )
            releases[name] = modules[name].releases
        if version in releases[name] or version not in modules[name].versions:
            continue  # known, or unpublished: the checks report the latter at its pin
        path = f"modules/{name}/{version}/MODULE.bazel"
        text = pinned.must_read(path)
        parsed = read_module_file(text, pinned.where(path))
        repository, tag = _source(pinned, name, version, metadata[name])
        deps = [
            Dep(d.name, d.version, pinned.where(path, d.line))
            for d in parsed.deps
            if not d.dev and d.version
        ]
        releases[name][version] = Release(
            provenance=pinned.where(path, parsed.module_line),
            compatibility_level=parsed.compatibility_level,
            bazel_compatibility=parsed.bazel_compatibility,
            deps=deps,
            repository=repository,
            tag=tag,
        )
        pending.extend((d.name, d.version, d.provenance) for d in deps)
    return Registry(
        commit=commit,
        date=date,
        provenance=f"{bcr.repo}@{commit}",
        modules=dict(sorted(modules.items())),
    )


def select(registry: Registry, roots: Iterable[Dep]) -> dict[str, str]:
    """Minimal version selection: the highest version of each module requested anywhere in
    the graph reachable from `roots`, then only what the selected versions still reach."""
    roots = list(roots)
    requested: dict[str, set[str]] = {}
    pending = [(d.name, d.version, d.provenance) for d in roots]
    while pending:
        name, version, wanted_by = pending.pop()
        if version in requested.setdefault(name, set()):
            continue
        requested[name].add(version)
        pending.extend(
            (d.name, d.version, d.provenance)
            for d in _release(registry, name, version, wanted_by).deps
        )
    chosen = {name: max(versions, key=Version) for name, versions in requested.items()}
    for name, versions in requested.items():
        levels = {_release(registry, name, v, "").compatibility_level for v in versions}
        if len(levels) > 1:
            raise FactsError(
                f"{name}: versions {sorted(versions, key=Version)} "
                f"span compatibility levels {sorted(levels)}"
            )
    reached: dict[str, str] = {}
    stack = [d.name for d in roots]
    while stack:
        name = stack.pop()
        if name in reached:
            continue
        reached[name] = chosen[name]
        stack.extend(d.name for d in _release(registry, name, chosen[name], "").deps)
    return dict(sorted(reached.items()))


def _release(registry: Registry, name: str, version: str, wanted_by: str) -> Release:
    module = registry.modules.get(name)
    if module is None or version not in module.releases:
        where = f"{wanted_by}: " if wanted_by else ""
        raise FactsError(f"{where}no registry facts for {name}@{version} ({registry.provenance})")
    return module.releases[version]


def requested_by(registry: Registry, roots: Iterable[Dep], name: str) -> list[Dep]:
    """Every request for `name` in the graph reachable from `roots` (for error messages)."""
    found: list[Dep] = []
    seen: set[tuple[str, str]] = set()
    pending = list(roots)
    while pending:
        dep = pending.pop()
        if dep.name == name:
            found.append(dep)
        if (dep.name, dep.version) in seen:
            continue
        seen.add((dep.name, dep.version))
        pending.extend(_release(registry, dep.name, dep.version, dep.provenance).deps)
    return found
