"""The errors the builder reports to its user: one base class, printed without traceback.

Each error carries the exit code the CLI returns for it, so `cli.main` needs no table.
"""

from __future__ import annotations


class BuilderError(Exception):
    """Base of every error meant for the user; the message is the whole story."""

    exit_code = 1
    phase = "build"


class UsageError(BuilderError):
    """The command line or a setting is wrong (exit 2)."""

    exit_code = 2
    phase = "usage"


class InputError(BuilderError):
    """The policies directory cannot be read as policies (empty, unsafe, unreadable)."""

    phase = "discovery"


class ValidationFailed(BuilderError):
    """At least one policy is invalid; the report has every problem."""

    phase = "validation"


class ToolMissing(BuilderError):
    """A program the requested build needs (go, upx) is not installed."""


class CompileFailed(BuilderError):
    """`go build` or a step around it failed; the message holds Go's own words."""

    phase = "compilation"


class GenerateFailed(BuilderError):
    """Generated files are missing or stale (`generate --check`)."""

    phase = "generation"


class GenerateStale(GenerateFailed):
    """`generate --check` found committed generated files that differ from a fresh run
    (exit 1, like `gazelle -mode=diff`); `diff` is the unified diff that says how."""

    phase = "check"

    def __init__(self, message: str, diff: str) -> None:
        super().__init__(message)
        self.diff = diff
