"""Where the external tools the Bazel tests drive are found. Missing tools fail the tests
(with how to install them) instead of skipping: `make lint-bazel` installs buildifier."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def buildifier() -> str:
    """The buildifier binary: $BUILDIFIER, the copy `make` installs into .tools/, or PATH."""
    candidates = [
        os.environ.get("BUILDIFIER", ""),
        str(REPO_ROOT / ".tools/node_modules/.bin/buildifier"),
        shutil.which("buildifier") or "",
    ]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return candidate
    pytest.fail("buildifier not found: run `make lint-bazel` (installs it into .tools/)")


def buildifier_check(paths: list[Path]) -> subprocess.CompletedProcess[str]:
    """`buildifier --mode=check --lint=warn` over files; returncode 0 means clean."""
    return subprocess.run(
        [buildifier(), "--mode=check", "--lint=warn", *map(str, paths)],
        capture_output=True,
        text=True,
        check=False,
    )


def buildifier_format(text: str, path: str) -> str:
    """What buildifier would make of `text` as the file `path` (its type decides rules)."""
    result = subprocess.run(
        [buildifier(), f"--path={path}", "--type=auto"],
        input=text,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout
