"""Which inputs decide the Go helper's answer for a policy, so answers can be kept.

The key of a policy's answer hashes
- the helper (its sources and the Go toolchain, as its binary is named) and the `go env`
  settings that decide which files and packages a build sees;
- the engine's Go sources, go.mod and go.sum (the SDK the type check reads);
- every policy's go.mod and go.sum with its place: together they decide the module
  versions every policy is checked with, and which module paths are duplicates;
- the policy itself: its place under the policies root, the phases its policy.yaml
  declares, and the name and content of every file in its directory, except the BUILD files
  `generate` writes there.

No absolute path is hashed, so a second checkout of the same tree (a CI runner, a git
worktree) finds the answers the first one kept.

An answer is kept only when it found no problem (a problem may come from the network or
the module cache, which no key sees, and an invalid policy stops the run anyway) and when
no Go source outside the policy's directory and the engine can change it: a policy with a
local `replace` (whose target the helper checks against the policies root), or importing
another policy's module, is checked every time.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from policy_builder.cache import digest, file_hash, tree_digest

# Bumped when the request the helper answers changes meaning.
FORMAT = "1"
# `go env` settings that decide which files and packages go list sees.
GO_ENV = (
    "GOVERSION",
    "GOOS",
    "GOARCH",
    "GOAMD64",
    "GOARM",
    "GOARM64",
    "GO386",
    "CGO_ENABLED",
    "GOEXPERIMENT",
)
# The files generate writes into a package directory.
BUILD_FILES = ("BUILD.bazel", "BUILD")


def _content(path: Path) -> str:
    """The hash of path's content; "" when it cannot be read (absent, say)."""
    try:
        return file_hash(str(path))
    except OSError:
        return ""


def _engine_source(name: str) -> bool:
    # Test files never reach another package's type check.
    return name in ("go.mod", "go.sum") or (name.endswith(".go") and not name.endswith("_test.go"))


def _not_generated(name: str) -> bool:
    return name not in BUILD_FILES


def answer_keys(
    engine_dir: Path,
    policies: Iterable[tuple[str, Path, bool, bool]],
    helper: str,
    go_env: Mapping[str, str],
) -> dict[str, str]:
    """The key of each policy's answer, by relative path. policies are (relative path,
    directory, request phase, response phase); helper identifies the helper binary."""
    policies = list(policies)
    workspace = digest(
        *(
            part
            for rel, path, _, _ in policies
            for part in (rel, _content(path / "go.mod"), _content(path / "go.sum"))
        )
    )
    shared = digest(
        FORMAT,
        helper,
        *(f"{name}={go_env.get(name, '')}" for name in GO_ENV),
        tree_digest(engine_dir, _engine_source),
        workspace,
    )
    return {
        rel: digest(shared, rel, str(request), str(response), tree_digest(path, _not_generated))
        for rel, path, request, response in policies
    }


def _is_directory(target: str) -> bool:
    # golang.org/x/mod/modfile.IsDirectoryPath: a replace target that is a local path.
    return target in (".", "..") or target.startswith(("./", "../", "/"))


def keepable(answer: Mapping[str, Any], modules: Counter[str]) -> bool:
    """Whether the helper's answer for one policy may be kept (see the module docstring);
    modules counts the module path of every policy, this one's included."""
    if answer.get("problems"):
        return False
    module = answer.get("module") or {}
    if any(_is_directory(new) for _, new in module.get("replaces", [])):
        return False
    own = module.get("path", "")
    # Every import list of the answer: `imports`, and those later fields add (for tests).
    for key, values in answer.items():
        if not key.endswith("imports"):
            continue
        for path in values:
            parts = path.split("/")
            for n in range(1, len(parts) + 1):
                prefix = "/".join(parts[:n])
                if modules[prefix] - (prefix == own) > 0:
                    return False
    return True
