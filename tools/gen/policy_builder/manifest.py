"""The typed, immutable model that flows through the phases.

Discovery produces a `Manifest`; validation annotates it with a `ValidationReport`;
every generator is a pure function of the manifest. Nothing here touches the disk.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


def policy_key(name: str, version: str) -> str:
    """A policy's identity as reports, image labels and the engine print it: name:version."""
    return f"{name}:{version}"


@dataclass(frozen=True)
class GoModInfo:
    """What go.mod says, as read by Go's own modfile parser (the Go helper)."""

    module_path: str
    go_version: str = ""
    # (module path, version), sorted.
    requires: tuple[tuple[str, str], ...] = ()
    # (old path[@version], new path[@version]), in file order.
    replaces: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class GoPackageInfo:
    """The policy's Go package, as seen by Go's parser and type checker."""

    package_name: str
    # Non-test .go file names in the policy directory, sorted.
    go_files: tuple[str, ...] = ()
    # Unique import paths of those files, sorted.
    imports: tuple[str, ...] = ()
    # The _test.go files (of the package and of its external test package), sorted, and
    # their unique imports, sorted: what Bazel's go_test compiles.
    test_go_files: tuple[str, ...] = ()
    test_imports: tuple[str, ...] = ()
    # The directory has a testdata/ folder, which tests may read.
    testdata: bool = False


@dataclass(frozen=True)
class PolicyEntry:
    """One discovered policy version (a row of policies.json)."""

    name: str
    version: str
    # Directory of the policy version, absolute, as found on disk.
    path: Path
    # The same directory relative to the policies root, POSIX separators. Only this
    # form may enter generated files (no absolute paths in output).
    rel_path: str
    # Module path from the `module` line of go.mod; "" when go.mod is missing or broken.
    module_path: str
    # policy.yaml bytes as read, embedded in the engine for run-time parameter checks.
    spec_source: bytes
    # Filled in by validation from the Go helper; None before validation.
    go_mod: GoModInfo | None = None
    go_package: GoPackageInfo | None = None

    @property
    def key(self) -> str:
        return policy_key(self.name, self.version)


@dataclass(frozen=True)
class Manifest:
    """Every policy under one policies root, sorted by (name, version)."""

    policies_dir: Path
    policies: tuple[PolicyEntry, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Problem:
    """One finding about one policy; file is relative to the policy directory."""

    code: str
    message: str
    file: str = ""
    line: int = 0

    def where(self) -> str:
        if not self.file:
            return ""
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass(frozen=True)
class PolicyReport:
    """Validation result of one policy directory (a row of validation_report.json)."""

    name: str
    version: str
    rel_path: str
    errors: tuple[Problem, ...] = ()
    warnings: tuple[Problem, ...] = ()

    @property
    def key(self) -> str:
        return policy_key(self.name, self.version)

    @property
    def valid(self) -> bool:
        return not self.errors


@dataclass(frozen=True)
class ValidationReport:
    """Every problem of every policy, sorted by policy path."""

    policies: tuple[PolicyReport, ...] = ()

    @property
    def valid(self) -> bool:
        return all(p.valid for p in self.policies)
