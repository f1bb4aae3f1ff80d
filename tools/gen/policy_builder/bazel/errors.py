"""Errors raised while generating Bazel files. One base class so the CLI can print any of
them plainly, without a traceback."""

from __future__ import annotations


class BazelGenError(Exception):
    """Base class of every error the Bazel generators raise."""


class UnresolvedImportError(BazelGenError):
    """A Go import matches no in-repo module, no `require` of go.mod and no standard package."""

    def __init__(self, package_dir: str, importpath: str) -> None:
        super().__init__(
            f"{package_dir}: import {importpath!r} is not provided by any module in go.work "
            "or any `require` in go.mod; add it with `go get` in that module"
        )
        self.package_dir = package_dir
        self.importpath = importpath


class MissingGoSumError(BazelGenError):
    """Modules in go.work that have `require` lines but no go.sum."""

    SHOWN = 10

    def __init__(self, go_sums: list[str]) -> None:
        listed = "\n  ".join(go_sums[: self.SHOWN])
        if len(go_sums) > self.SHOWN:
            listed += f"\n  … and {len(go_sums) - self.SHOWN} more"
        super().__init__(
            "Bazel's go_deps reads the go.sum of every module in go.work that has a `require`, "
            f"and these are missing:\n  {listed}\n"
            "Create each one (empty is right when every requirement is an in-repo module, "
            "such as the engine; otherwise run `go mod download` in that module)"
        )
        self.go_sums = go_sums


class StarlarkEditError(BazelGenError):
    """An existing BUILD or MODULE.bazel file cannot be edited safely."""
