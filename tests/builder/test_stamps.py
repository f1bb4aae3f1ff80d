"""What a build stamps when no --build-version/--git-commit (or BUILD_VERSION/GIT_COMMIT)
is given: git's description and commit of the policies' work tree, else the engine's,
else dev/unknown; and two clones of one commit build byte-identical binaries."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from policy_builder.cli import main
from policy_builder.settings import git_stamps, load_settings

from tests.builder.policytree import write_policy

EPOCH = "1700000000"
EPOCH_TEXT = "2023-11-14T22:13:20Z"
# No user config, no signing, a fixed identity: the test's commits are its own.
GIT_ENV = {
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
}

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def git(repo: Path, *args: str) -> str:
    out = subprocess.run(
        ["git", "-C", str(repo), *args],
        env={**os.environ, **GIT_ENV},
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def policies_repo(root: Path, tag: str | None = "v1.2.3") -> str:
    """A git repository at root holding one policy, committed (and tagged); its commit."""
    write_policy(root, "hello/v1.0.0", "hello", "v1.0.0")
    git(root, "init", "-q")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "policies")
    if tag:
        git(root, "tag", tag)
    return git(root, "rev-parse", "HEAD")


def test_git_stamps_describe_and_commit(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    commit = policies_repo(repo)
    assert git_stamps([repo]) == ("v1.2.3", commit)
    # A sub-directory is in the same work tree.
    assert git_stamps([repo / "hello" / "v1.0.0"]) == ("v1.2.3", commit)
    # Changes to tracked files mark the version; the commit stays.
    (repo / "hello" / "v1.0.0" / "policy.yaml").write_text("changed\n")
    assert git_stamps([repo]) == ("v1.2.3-dirty", commit)


def test_git_stamps_untagged_and_outside_git(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    commit = policies_repo(repo, tag=None)
    plain = tmp_path / "plain"
    plain.mkdir()
    assert git_stamps([plain]) is None
    assert git_stamps([tmp_path / "missing"]) is None
    # The first directory in a work tree decides; without a tag, the short commit.
    version, found = git_stamps([plain, repo])  # type: ignore[misc]
    assert found == commit
    assert commit.startswith(version) and len(version) >= 7


def test_load_settings_flags_then_env_then_git(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    commit = policies_repo(repo)
    s = load_settings({}, {}, [repo])
    assert (s.build_version, s.git_commit) == ("v1.2.3", commit)
    s = load_settings({"BUILD_VERSION": "v-env"}, {}, [repo])
    assert (s.build_version, s.git_commit) == ("v-env", commit)
    s = load_settings({"GIT_COMMIT": "c-env"}, {"build_version": "v-flag"}, [repo])
    assert (s.build_version, s.git_commit) == ("v-flag", "c-env")
    # No git directory given, or none in a work tree: the defaults.
    s = load_settings({}, {})
    assert (s.build_version, s.git_commit) == ("dev", "unknown")
    s = load_settings({}, {}, [tmp_path / "elsewhere"])
    assert (s.build_version, s.git_commit) == ("dev", "unknown")


def test_a_tag_no_stamp_can_carry_keeps_the_default(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    commit = policies_repo(repo, tag="v1#odd")
    s = load_settings({}, {}, [repo])
    assert (s.build_version, s.git_commit) == ("dev", commit)


def test_package_labels_come_from_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "repo"
    commit = policies_repo(repo)
    for var in ("BUILD_VERSION", "GIT_COMMIT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    args = ["package", "--policies", str(repo), "--output", str(tmp_path / "o"), "--quiet"]
    assert main(args) == 0
    text = (tmp_path / "o" / "Dockerfile").read_text()
    assert 'LABEL org.opencontainers.image.version="v1.2.3"\n' in text
    assert f'LABEL org.opencontainers.image.revision="{commit}"\n' in text


def test_binaries_of_two_clones_of_one_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A binary built from a git clone reports its commit, and the same commit with the
    same SOURCE_DATE_EPOCH builds the same bytes wherever it is cloned."""
    repo = tmp_path / "repo"
    commit = policies_repo(repo)
    clone = tmp_path / "elsewhere" / "clone"
    subprocess.run(["git", "clone", "-q", str(repo), str(clone)], check=True)
    for var in ("BUILD_VERSION", "GIT_COMMIT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    binaries = []
    for policies, out in ((repo, tmp_path / "o1"), (clone, tmp_path / "o2")):
        args = ["build", "--policies", str(policies), "--output", str(out), "--quiet"]
        assert main([*args, "--skip-package"]) == 0
        binaries.append(out / "policy-engine")
    version = subprocess.run(
        [str(binaries[0]), "--version"], capture_output=True, text=True, check=True
    ).stdout
    assert version.splitlines()[0] == f"policy-engine v1.2.3 (commit {commit}, built {EPOCH_TEXT})"
    assert binaries[0].read_bytes() == binaries[1].read_bytes()
