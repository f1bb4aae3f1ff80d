"""Phase 3, generation of the Go files that go beside the engine's main.go.

Pure functions of the manifest: no clock, no absolute path, policies in manifest order
(sorted by name, version). Every value is escaped by `escape` before the template sees it.
"""

from __future__ import annotations

from dataclasses import dataclass

from policy_builder.escape import go_bytes, go_identifier, go_string
from policy_builder.home import EngineSources, find_engine_sources
from policy_builder.manifest import Manifest, PolicyEntry
from policy_builder.templates import render

PLUGIN_REGISTRY = "plugin_registry.go"
BUILD_INFO = "build_info.go"


@dataclass(frozen=True)
class GoPolicy:
    """One policy as the Go templates see it: every field is ready-to-paste Go."""

    alias: str
    name: str
    version: str
    key: str
    spec: str
    import_path: str
    source_path: str
    # gofmt sorts imports by path; the template lists them in that order.
    import_sort_key: str


def import_aliases(manifest: Manifest) -> dict[str, str]:
    """Import alias per policy key: readable, valid Go, unique even when two policies'
    package names (or sanitized names) collide."""
    aliases: dict[str, str] = {}
    taken: set[str] = set()
    for p in manifest.policies:
        base = go_identifier(f"{p.name}_{p.version}", prefix="policy_")
        alias, n = base, 2
        while alias in taken:
            alias, n = f"{base}_{n}", n + 1
        taken.add(alias)
        aliases[p.key] = alias
    return aliases


def go_policies(manifest: Manifest) -> list[GoPolicy]:
    aliases = import_aliases(manifest)
    return [_go_policy(p, aliases[p.key]) for p in manifest.policies]


def _go_policy(p: PolicyEntry, alias: str) -> GoPolicy:
    return GoPolicy(
        alias=alias,
        name=go_string(p.name),
        version=go_string(p.version),
        key=go_string(p.key),
        spec=go_bytes(p.spec_source),
        import_path=go_string(p.module_path),
        source_path=go_string(p.rel_path),
        import_sort_key=p.module_path,
    )


_TEMPLATES = {PLUGIN_REGISTRY: "plugin_registry.go.j2", BUILD_INFO: "build_info.go.j2"}
# The names of the generated files, in the order go_files returns them.
GO_FILES = tuple(_TEMPLATES)


def _render(name: str, policies: list[GoPolicy], sources: EngineSources | None) -> str:
    sources = sources or find_engine_sources()
    return render(sources.templates_dir, _TEMPLATES[name], policies=policies)


def plugin_registry(manifest: Manifest, sources: EngineSources | None = None) -> str:
    """plugin_registry.go: imports every policy package and registers its definition."""
    return _render(PLUGIN_REGISTRY, go_policies(manifest), sources)


def build_info(manifest: Manifest, sources: EngineSources | None = None) -> str:
    """build_info.go: LoadedPolicies and the PolicyMetadata map (name, version, module
    path and source path of each policy)."""
    return _render(BUILD_INFO, go_policies(manifest), sources)


def go_files(manifest: Manifest, sources: EngineSources | None = None) -> dict[str, str]:
    """Both generated Go files, keyed by their name beside main.go; the policies are
    escaped once for both."""
    policies = go_policies(manifest)
    return {name: _render(name, policies, sources) for name in _TEMPLATES}
