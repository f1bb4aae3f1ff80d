"""The errors the builder reports to its user: one base class, printed without traceback.

Each error carries the exit code the CLI returns for it, so `cli.main` needs no table.
The codes (docs/builder.md, "Exit codes"): 1 is kept for "generated files differ", as
`diff`, `git diff --exit-code` and `gazelle -mode=diff` use it, so a CI guard can tell
"run generate" from every other failure; 2 is a usage error, as argparse and most Unix
tools exit; 3 and 4 split "fix your input" from "a tool failed or the builder broke".
"""

from __future__ import annotations

EXIT_OK = 0
# `generate --check` found generated files that differ from a fresh run.
EXIT_STALE = 1
# The command line, a setting or the place the tool runs in is wrong.
EXIT_USAGE = 2
# The policies (or a BUILD file, MODULE.bazel) are invalid: the user fixes the input.
EXIT_INVALID = 3
# A tool (go, the Go helper, upx) failed or is missing, a file could not be written, or
# the builder itself failed: nothing the input could fix.
EXIT_TOOL = 4
# Ctrl-C, as shells report a process ended by SIGINT (128 + 2).
EXIT_INTERRUPTED = 130


class BuilderError(Exception):
    """Base of every error meant for the user; the message is the whole story."""

    exit_code = EXIT_TOOL
    phase = "build"


class UsageError(BuilderError):
    """The command line or a setting is wrong."""

    exit_code = EXIT_USAGE
    phase = "usage"


class InputError(BuilderError):
    """The policies directory cannot be read as policies (empty, unsafe, unreadable)."""

    exit_code = EXIT_INVALID
    phase = "discovery"


class ValidationFailed(InputError):
    """At least one policy is invalid; the report has every problem."""

    phase = "validation"


class GenerateInputError(InputError):
    """`generate` cannot produce the workspace's files from what it found: a policy's
    import no module provides, a missing go.sum, a BUILD file or MODULE.bazel it cannot
    edit."""

    phase = "generation"


class EngineDependencyConflict(InputError):
    """A policy would change the version of a module the engine requires directly."""

    phase = "compilation"


class ToolFailed(BuilderError):
    """A program the builder runs (go, the Go helper, upx) failed; the message holds its
    own words."""


class ToolMissing(ToolFailed):
    """A program the requested command needs (go, upx) is not installed."""


class CompileFailed(ToolFailed):
    """`go build` or a step around it failed; the message holds Go's own words."""

    phase = "compilation"


class GenerateFailed(ToolFailed):
    """Generation could not run: the engine's packages could not be listed, a generated
    path would leave its directory, or an earlier run's files are missing."""

    phase = "generation"


class GenerateStale(BuilderError):
    """`generate --check` found committed generated files that differ from a fresh run
    (like `gazelle -mode=diff`); `diff` is the unified diff that says how."""

    exit_code = EXIT_STALE
    phase = "check"

    def __init__(self, message: str, diff: str) -> None:
        super().__init__(message)
        self.diff = diff
