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


class StarlarkEditError(BazelGenError):
    """An existing BUILD or MODULE.bazel file cannot be edited safely."""
