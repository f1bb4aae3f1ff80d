"""Every exit code of docs/builder.md ("Exit codes"), through the installed CLI in a child
process, as CI sees it: the code, one plain error line on stderr and never a traceback,
including when `go` fails, is missing, or the Go helper crashes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from policy_builder.errors import (
    EXIT_INTERRUPTED,
    EXIT_INVALID,
    EXIT_OK,
    EXIT_STALE,
    EXIT_TOOL,
    EXIT_USAGE,
)
from policy_builder.gocheck import go_env, helper_id
from policy_builder.home import EngineSources

from tests.builder.policytree import write_monorepo, write_policy

REPO = Path(__file__).resolve().parents[2]


def cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`policy-builder ARGS` in a child process."""
    return subprocess.run(
        [sys.executable, "-m", "policy_builder", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def plain_failure(proc: subprocess.CompletedProcess[str], code: int, says: str) -> None:
    """The run exited with code and said `says` in its one error line, no traceback."""
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    errors = [line for line in proc.stderr.splitlines() if line.startswith("policy-builder:")]
    assert len(errors) == 1, proc.stderr
    assert says in proc.stderr, proc.stderr


def fake_go(tmp_path: Path, script: str) -> dict[str, str]:
    """An environment whose PATH has only a `go` running script (and the shell tools)."""
    bin_dir = tmp_path / "fake-bin"
    bin_dir.mkdir()
    go = bin_dir / "go"
    go.write_text("#!/bin/sh\n" + script)
    go.chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}:/usr/bin:/bin"}


@pytest.fixture
def policies(tmp_path: Path) -> Path:
    root = tmp_path / "policies"
    write_policy(root, "hello/v1.0.0", "hello", "v1.0.0")
    return root


def test_success_is_0(policies: Path, tmp_path: Path) -> None:
    proc = cli("discover", "--policies", str(policies), "--output", "out", cwd=tmp_path)
    assert proc.returncode == EXIT_OK, proc.stderr
    assert (tmp_path / "out" / "policies.json").is_file()


def test_stale_generated_files_are_1_and_print_the_diff(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    write_monorepo(repo)
    env = {**os.environ, "POLICY_BUILDER_CACHE": str(tmp_path / "cache")}
    proc = cli("generate", "--check", "--quiet", cwd=repo, env=env)
    plain_failure(proc, EXIT_STALE, "out of date")
    assert "+++ b/policies/hello/v1.0.0/BUILD.bazel" in proc.stdout
    assert cli("generate", "--quiet", cwd=repo, env=env).returncode == EXIT_OK
    assert cli("generate", "--check", "--quiet", cwd=repo, env=env).returncode == EXIT_OK


@pytest.mark.parametrize(
    "args",
    [
        ["frobnicate"],
        ["build", "--no-such-flag"],
        ["build", "--platform", "windows/amd64"],
        ["new", "bad name"],
    ],
)
def test_usage_errors_are_2(args: list[str], tmp_path: Path) -> None:
    plain_failure(cli(*args, cwd=tmp_path), EXIT_USAGE, "policy-builder: error: ")


def test_generate_outside_a_workspace_is_a_usage_error(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "POLICY_ENGINE_HOME"}
    plain_failure(cli("generate", cwd=tmp_path, env=env), EXIT_USAGE, "no MODULE.bazel")


def test_no_policies_is_invalid_input_3(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    proc = cli("discover", "--policies", "empty", "--output", "out", cwd=tmp_path)
    plain_failure(proc, EXIT_INVALID, "no policies found")


def test_an_invalid_policy_is_3(tmp_path: Path) -> None:
    write_policy(tmp_path / "policies", "bad/v1.0.0", "bad", "v1.0.0", go_text="")
    proc = cli("validate", "--quiet", "--output", "out", cwd=tmp_path)
    plain_failure(proc, EXIT_INVALID, "1 of 1 policies are invalid")


def test_a_failing_go_is_4(policies: Path, tmp_path: Path) -> None:
    env = fake_go(tmp_path, 'echo "go: something broke" >&2\nexit 1\n')
    proc = cli("validate", "--quiet", "--output", "out", cwd=tmp_path, env=env)
    plain_failure(proc, EXIT_TOOL, "go: something broke")


def test_a_go_that_cannot_be_started_is_4(policies: Path, tmp_path: Path) -> None:
    # Found on PATH and executable, but its interpreter does not exist: exec fails.
    bin_dir = tmp_path / "fake-bin"
    bin_dir.mkdir()
    (bin_dir / "go").write_text("#!/nonexistent/interpreter\n")
    (bin_dir / "go").chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:/usr/bin:/bin"}
    proc = cli("validate", "--quiet", "--output", "out", cwd=tmp_path, env=env)
    plain_failure(proc, EXIT_TOOL, f"cannot run {bin_dir / 'go'}")


def test_no_go_at_all_is_4(policies: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(tmp_path / "nothing")}
    proc = cli("build", "--quiet", "--output", "out", cwd=tmp_path, env=env)
    plain_failure(proc, EXIT_TOOL, "the Go toolchain (`go`) is not on PATH")


def test_generate_with_a_failing_go_is_4(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    write_monorepo(repo)
    env = fake_go(tmp_path, 'echo "go: no network" >&2\nexit 1\n')
    env["POLICY_BUILDER_CACHE"] = str(tmp_path / "cache")
    plain_failure(cli("generate", "--quiet", cwd=repo, env=env), EXIT_TOOL, "go: no network")


@pytest.mark.parametrize(
    ("helper", "says"),
    [
        ("echo 'panic: boom' >&2\nexit 2\n", "the Go helper failed:\npanic: boom"),
        ("echo 'not json'\n", "the Go helper answered unreadably"),
    ],
)
def test_a_crashing_go_helper_is_4(policies: Path, tmp_path: Path, helper: str, says: str) -> None:
    """The cached helper binary is replaced by a script that crashes or talks nonsense."""
    cache = tmp_path / "cache"
    env = {**os.environ, "POLICY_BUILDER_CACHE": str(cache)}
    sources = EngineSources(REPO)
    name = helper_id(sources, go_env("GOVERSION")["GOVERSION"])[:16]
    cache.mkdir()
    fake = cache / f"gocheck-{name}"
    fake.write_text("#!/bin/sh\n" + helper)
    fake.chmod(0o755)
    proc = cli("validate", "--quiet", "--output", "out", cwd=tmp_path, env=env)
    plain_failure(proc, EXIT_TOOL, says)


def test_an_unwritable_output_is_4(policies: Path, tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    # Root ignores permissions; a file where a directory must be stops everyone.
    proc = cli("discover", "--output", "a-file/out", cwd=tmp_path)
    plain_failure(proc, EXIT_TOOL, "a-file")


def test_ctrl_c_is_130(policies: Path, tmp_path: Path) -> None:
    started = tmp_path / "go-started"
    env = fake_go(tmp_path, f"touch {started}\nexec sleep 60\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "policy_builder", "validate", "--quiet", "--output", "out"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not started.exists():
            assert time.monotonic() < deadline, "the fake go never ran"
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == EXIT_INTERRUPTED, err
    assert err.strip().endswith("policy-builder: interrupted")
    assert "Traceback" not in err + out


def test_the_documented_table_matches_the_codes() -> None:
    doc = (REPO / "docs" / "builder.md").read_text()
    table = doc[doc.index("### Exit codes") :].split("\n\n")[1]
    rows = [line.split("|")[1].strip() for line in table.splitlines()[2:]]
    codes = (EXIT_OK, EXIT_STALE, EXIT_USAGE, EXIT_INVALID, EXIT_TOOL, EXIT_INTERRUPTED)
    assert rows == [str(c) for c in codes]
