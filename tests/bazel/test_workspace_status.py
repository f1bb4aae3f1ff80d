"""tools/workspace_status.sh: the lines Bazel's --workspace_status_command expects, and a
build time that depends on the inputs only (SOURCE_DATE_EPOCH, else the commit)."""

from __future__ import annotations

import os
import subprocess

from tooling import REPO_ROOT

SCRIPT = REPO_ROOT / "tools/workspace_status.sh"


def run(**env: str) -> dict[str, str]:
    result = subprocess.run(
        ["bash", str(SCRIPT)],
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    pairs = [line.split(" ", 1) for line in result.stdout.splitlines()]
    assert all(len(pair) == 2 and pair[0].isupper() for pair in pairs), result.stdout
    return {key: value for key, value in pairs}


def test_status_keys_and_reproducible_time() -> None:
    status = run(SOURCE_DATE_EPOCH="86400", BUILD_VERSION="v1.2.3")
    assert status["STABLE_BUILD_VERSION"] == "v1.2.3"
    assert status["STABLE_BUILD_TIME"] == "1970-01-02T00:00:00Z"
    assert len(status["STABLE_GIT_COMMIT"]) in (40, len("unknown"))
    # Bazel's own machine-specific stable keys, pinned so a stamped link is one per commit.
    assert status["BUILD_HOST"] == status["BUILD_USER"] == "redacted"
    assert set(status) == {
        "STABLE_BUILD_VERSION",
        "STABLE_GIT_COMMIT",
        "STABLE_BUILD_TIME",
        "BUILD_HOST",
        "BUILD_USER",
    }


def test_without_source_date_epoch_the_time_is_the_commit_time() -> None:
    env = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
    first = subprocess.run(["bash", str(SCRIPT)], cwd=REPO_ROOT, env=env, capture_output=True,
                           text=True, check=True).stdout  # fmt: skip
    second = subprocess.run(["bash", str(SCRIPT)], cwd=REPO_ROOT, env=env, capture_output=True,
                            text=True, check=True).stdout  # fmt: skip
    assert first == second
