"""Checks of a project's pins against the facts alone (no snapshot needed): each pin is
published and not yanked, minimal version selection keeps every pin, the Bazel version meets
every selected module's bazel_compatibility, and the facts were made for these pins."""

from __future__ import annotations

from collections.abc import Mapping

from .errors import FactsError
from .model import Dep, Facts
from .registry import requested_by, select
from .versions import satisfies


def check_published(facts: Facts, pins: Mapping[str, Dep]) -> None:
    registry = facts.registry
    for dep in pins.values():
        module = registry.modules.get(dep.name)
        if module is None:
            raise FactsError(
                f"{dep.provenance}: {dep.name} is not in the registry ({registry.provenance})"
            )
        if dep.version not in module.versions:
            raise FactsError(
                f"{dep.provenance}: {dep.name} {dep.version} is not published; the registry has "
                f"{', '.join(module.versions[-5:])} … ({module.provenance})"
            )
        if dep.version in module.yanked:
            raise FactsError(
                f"{dep.provenance}: {dep.name} {dep.version} is yanked: "
                f"{module.yanked[dep.version]} ({module.provenance})"
            )


def check_selection(facts: Facts, pins: Mapping[str, Dep]) -> dict[str, str]:
    """The selected versions; an error if MVS moves any pin (the pin is not what builds)."""
    selection = select(facts.registry, pins.values())
    for dep in pins.values():
        if selection[dep.name] != dep.version:
            raisers = [
                d.provenance
                for d in requested_by(facts.registry, pins.values(), dep.name)
                if d.version == selection[dep.name]
            ]
            raise FactsError(
                f"{dep.provenance}: {dep.name} is pinned at {dep.version}, but minimal version "
                f"selection picks {selection[dep.name]} (asked for by {', '.join(sorted(raisers))})"
            )
    return selection


def check_bazel_version(facts: Facts, selection: Mapping[str, str], bazel_version: str) -> None:
    for name, version in selection.items():
        release = facts.registry.modules[name].releases[version]
        for constraint in release.bazel_compatibility:
            if not satisfies(bazel_version, constraint):
                raise FactsError(
                    f".bazelversion:1: Bazel {bazel_version} does not meet {name} {version}'s "
                    f"bazel_compatibility {constraint} ({release.provenance})"
                )


def check_current(facts: Facts, pins: Mapping[str, Dep]) -> None:
    """The facts describe these pins (a pin changed without a refresh is caught here)."""
    made_for = {d.name: d.version for d in facts.pins.values()}
    now = {d.name: d.version for d in pins.values()}
    for name in sorted(set(made_for) | set(now)):
        if made_for.get(name) != now.get(name):
            where = pins[name].provenance if name in pins else "MODULE.bazel"
            raise FactsError(
                f"{where}: {name} is pinned at {now.get(name, '(nothing)')}, but "
                f"tests/bazel/facts.json was made for {made_for.get(name, '(nothing)')}; "
                f"refresh it: {facts.command}"
            )
