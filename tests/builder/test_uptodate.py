"""generate's no-change path: a stamp of what a successful run read answers the next run
when nothing changed, and anything that changed, or any doubt, runs the phases again.
The stamp's rules on small trees, then through the real CLI on a monorepo copy."""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from policy_builder import uptodate
from policy_builder.cache import CACHE_ENV, Store
from policy_builder.cli import main

from tests.builder.policytree import tree_state, write_monorepo, write_policy

RESULT: dict[str, Any] = {"output": "out", "written": []}


def _tree(root: Path) -> uptodate.Scope:
    (root / "policies" / "a").mkdir(parents=True)
    (root / "policies" / "a" / "policy.go").write_text("package a\n")
    (root / "MODULE.bazel").write_text('module(name = "m")\n')
    return uptodate.Scope((root / "policies",), (root / "MODULE.bazel", root / "go.work"))


def _age(root: Path, seconds: int = 60) -> None:
    """Make every file old enough for its time to be trusted (not racy)."""
    past = time.time() - seconds
    for path in [root, *root.rglob("*")]:
        os.utime(path, (past, past))


def _run_started(
    tmp_path: Path,
) -> tuple[uptodate.Stamps, uptodate.Scope, uptodate.Files, int]:
    """An aged tree and a run that has just started on it: its stamps, scope, the snapshot
    it took before its phases and when."""
    scope = _tree(tmp_path / "ws")
    _age(tmp_path / "ws")
    stamps = uptodate.Stamps(Store(tmp_path / "cache"))
    taken = time.time_ns()
    return stamps, scope, uptodate.snapshot(scope), taken


def _recorded(tmp_path: Path) -> tuple[uptodate.Stamps, uptodate.Scope]:
    stamps, scope, before, taken = _run_started(tmp_path)
    stamps.record("k", scope, before, [], RESULT, taken)
    return stamps, scope


def test_an_unchanged_tree_gives_the_recorded_result(tmp_path: Path) -> None:
    stamps, scope = _recorded(tmp_path)
    assert stamps.current("k", scope) == RESULT
    assert stamps.current("other key", scope) is None


@pytest.mark.parametrize(
    "change",
    [
        lambda ws: (ws / "policies/a/policy.go").write_text("package a // edited\n"),
        lambda ws: (ws / "policies/a/new.go").write_text("package a\n"),
        lambda ws: (ws / "policies/a/policy.go").unlink(),
        lambda ws: (ws / "policies/empty").mkdir(),
        lambda ws: (ws / "go.work").write_text("go 1.26\n"),
        lambda ws: (ws / "MODULE.bazel").unlink(),
    ],
    ids=["edited", "added", "removed", "new empty directory", "new single file", "gone"],
)
def test_any_change_runs_the_phases_again(tmp_path: Path, change: Any) -> None:
    stamps, scope = _recorded(tmp_path)
    change(tmp_path / "ws")
    assert stamps.current("k", scope) is None


def test_a_same_size_edit_within_the_file_time_is_caught(tmp_path: Path) -> None:
    """A file modified right around the stamp ("racy") is read, not trusted by its time."""
    scope = _tree(tmp_path / "ws")
    stamps = uptodate.Stamps(Store(tmp_path / "cache"))
    go = tmp_path / "ws/policies/a/policy.go"
    taken = time.time_ns()
    stamps.record("k", scope, uptodate.snapshot(scope), [], RESULT, taken)
    stat = go.stat()
    go.write_text("package b\n")  # same size
    os.utime(go, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # and the same time
    assert stamps.current("k", scope) is None


def test_a_touched_file_with_the_same_bytes_is_current_and_the_stamp_renewed(
    tmp_path: Path,
) -> None:
    stamps, scope = _recorded(tmp_path)
    go = tmp_path / "ws/policies/a/policy.go"
    os.utime(go)
    assert stamps.current("k", scope) == RESULT
    # Renewed as this checkout's own stamp.
    renewed = stamps.store.get(uptodate._here("k", scope))
    assert renewed["files"][scope.name(go)][1] == go.stat().st_mtime_ns


def _rooted(root: Path) -> uptodate.Scope:
    return uptodate.Scope((root / "policies",), (root / "MODULE.bazel", root / "go.work"), root)


def test_a_copy_elsewhere_with_the_same_content_is_current_with_its_own_paths(
    tmp_path: Path,
) -> None:
    first, second = tmp_path / "a" / "ws", tmp_path / "b" / "ws"
    _tree(first)
    _age(first)
    stamps = uptodate.Stamps(Store(tmp_path / "cache"))
    taken = time.time_ns()
    result = {"output": str(first / "out"), "policies": [{"path": str(first / "policies/a")}]}
    stamps.record("k", _rooted(first), uptodate.snapshot(_rooted(first)), [], result, taken)
    shutil.copytree(first, second)
    assert stamps.current("k", _rooted(second)) == {
        "output": str(second / "out"),
        "policies": [{"path": str(second / "policies/a")}],
    }


def test_a_copy_elsewhere_is_read_not_trusted_by_its_file_times(tmp_path: Path) -> None:
    first, second = tmp_path / "a" / "ws", tmp_path / "b" / "ws"
    _tree(first)
    _age(first)
    stamps = uptodate.Stamps(Store(tmp_path / "cache"))
    taken = time.time_ns()
    stamps.record("k", _rooted(first), uptodate.snapshot(_rooted(first)), [], RESULT, taken)
    shutil.copytree(first, second)
    # Same size and time as in the first checkout, other bytes (a tool that sets times).
    go = second / "policies/a/policy.go"
    st = go.stat()
    go.write_text("package b\n")
    os.utime(go, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert stamps.current("k", _rooted(second)) is None
    assert stamps.current("k", _rooted(first)) == RESULT


def test_two_checkouts_used_in_turn_keep_their_own_stamps(tmp_path: Path) -> None:
    first, second = tmp_path / "a" / "ws", tmp_path / "b" / "ws"
    for ws in (first, second):
        _tree(ws)
    (second / "policies/a/policy.go").write_text("package a // another commit\n")
    _age(tmp_path)
    stamps = uptodate.Stamps(Store(tmp_path / "cache"))
    taken = time.time_ns()
    for ws in (first, second):
        stamps.record("k", _rooted(ws), uptodate.snapshot(_rooted(ws)), [], RESULT, taken)
    assert stamps.current("k", _rooted(first)) == RESULT
    assert stamps.current("k", _rooted(second)) == RESULT


def test_an_input_changed_during_the_run_is_never_recorded(tmp_path: Path) -> None:
    stamps, scope, before, taken = _run_started(tmp_path)
    (tmp_path / "ws/policies/a/policy.go").write_text("package a // edited meanwhile\n")
    stamps.record("k", scope, before, [], RESULT, taken)
    assert stamps.store.get("k") is None


def test_what_the_run_wrote_itself_is_recorded_as_written(tmp_path: Path) -> None:
    stamps, scope, before, taken = _run_started(tmp_path)
    build = tmp_path / "ws/policies/a/BUILD.bazel"
    build.write_text("# generated\n")
    stamps.record("k", scope, before, [build], RESULT, taken)
    assert stamps.current("k", scope) == RESULT


def test_a_corrupt_stamp_is_a_miss(tmp_path: Path) -> None:
    stamps, scope = _recorded(tmp_path)
    with closing(sqlite3.connect(tmp_path / "cache")) as db, db:
        # The stamp under the settings key, and the same under the key with its place.
        assert db.execute("UPDATE entries SET value = '{not json'").rowcount == 2
    assert stamps.current("k", scope) is None


def test_the_settings_key_covers_arguments_environment_and_go(tmp_path: Path) -> None:
    go = tmp_path / "go"
    go.write_text("#!/bin/sh\n")
    key = uptodate.settings_key(["generate"], {"GOFLAGS": ""}, str(go), ".")
    assert key == uptodate.settings_key(["generate"], {"GOFLAGS": "", "HOME": "/x"}, str(go), ".")
    assert key != uptodate.settings_key(["generate", "--check"], {"GOFLAGS": ""}, str(go), ".")
    assert key != uptodate.settings_key(["generate"], {"GOFLAGS": "-tags=x"}, str(go), ".")
    assert key != uptodate.settings_key(["generate"], {"GOFLAGS": ""}, str(go), "policies")
    go.write_text("#!/bin/sh\n# a new release\n")
    assert key != uptodate.settings_key(["generate"], {"GOFLAGS": ""}, str(go), ".")


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "repo"
    write_monorepo(root)
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.chdir(root)
    return root


def test_generate_twice_answers_from_the_stamp_and_writes_nothing(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["generate"]) == 0
    capsys.readouterr()
    state = tree_state(repo)
    assert main(["generate"]) == 0
    err = capsys.readouterr().err
    assert "up to date" in err and "phase validate" not in err
    assert tree_state(repo) == state
    assert main(["generate", "--check"]) == 0  # its own stamp: a real check first
    assert main(["generate", "--check"]) == 0
    assert "up to date" in capsys.readouterr().err


def test_an_edited_policy_is_generated_again(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["generate", "--quiet"]) == 0
    assert main(["generate", "--check", "--quiet"]) == 0
    write_policy(repo / "policies", "second/v1.0.0", "second", "v1.0.0")
    assert main(["generate", "--check", "--quiet"]) == 1
    assert "policies/second/v1.0.0/BUILD.bazel" in capsys.readouterr().out
    assert main(["generate"]) == 0
    assert "phase validate" in capsys.readouterr().err
    assert (repo / "policies/second/v1.0.0/BUILD.bazel").is_file()


def test_a_second_checkout_of_a_generated_tree_is_up_to_date(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["generate", "--json"]) == 0
    other = repo.parent / "other-checkout"
    shutil.copytree(repo, other)
    monkeypatch.chdir(other)
    capsys.readouterr()
    assert main(["generate", "--json"]) == 0
    captured = capsys.readouterr()
    assert "up to date" in captured.err
    assert str(repo) not in captured.out and str(other) in captured.out


def test_a_removed_file_is_noticed(repo: Path) -> None:
    write_policy(repo / "policies", "second/v1.0.0", "second", "v1.0.0")
    assert main(["generate", "--quiet"]) == 0
    build = repo / "policies/hello/v1.0.0/BUILD.bazel"
    text = build.read_text()
    build.unlink()
    assert main(["generate", "--quiet"]) == 0
    assert build.read_text() == text
    assert "hello" in (repo / "go.work").read_text()
    shutil.rmtree(repo / "policies" / "hello")
    assert main(["generate", "--quiet"]) == 0
    assert "hello" not in (repo / "go.work").read_text()
