"""The Go helper's answers kept in the cache: which policies a validation asks the helper
about (none when nothing changed), what makes an answer unusable (a changed policy,
go.mod or engine SDK), and that a broken cache never breaks a run. Through the real CLI,
with the real helper; the helper is spied on, not replaced."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Mapping
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from policy_builder import gocheck
from policy_builder.cache import CACHE_ENV
from policy_builder.cli import main
from policy_builder.errors import EXIT_INVALID
from policy_builder.home import find_engine_sources

from tests.builder.policytree import (
    ENGINE_REQUIRE,
    copy_engine_sources,
    lib_policy_go,
    report_errors,
    write_lib,
    write_policy,
)


@pytest.fixture(scope="module")
def helpers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache directory holding the Go helper binary, built once per module."""
    directory = tmp_path_factory.mktemp("helpers")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(CACHE_ENV, str(directory))
        gocheck.build_helper(find_engine_sources(None))
    return directory


@pytest.fixture
def cache(helpers: Path, tmp_path: Path) -> Path:
    """An answer cache of the test's own (keys hash contents, not places, so tests with
    the same tree would otherwise see each other's answers) with the module's helper."""
    own = tmp_path / "cache"
    own.mkdir()
    for binary in helpers.iterdir():
        if binary.is_file():
            (own / binary.name).symlink_to(binary)
    return own


@pytest.fixture
def asked(cache: Path, monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The policies each helper run was asked to check, run by run."""
    monkeypatch.setenv(CACHE_ENV, str(cache))
    runs: list[list[str]] = []
    real = gocheck._ask

    def spy(
        helper: Path,
        home: Any,
        engine: Any,
        root: Path,
        inputs: list[gocheck.GoCheckInput],
        toolchain: str,
        known: Mapping[str, Any],
    ) -> dict[str, dict[str, Any]]:
        runs.append(sorted(i.rel_path for i in inputs if i.rel_path not in known))
        return real(helper, home, engine, root, inputs, toolchain, known)

    monkeypatch.setattr(gocheck, "_ask", spy)
    return runs


def _validate(root: Path, *extra: str) -> int:
    out = root.parent / "out"
    return main(["validate", "--policies", str(root), "--output", str(out), "--quiet", *extra])


def _tree(root: Path) -> None:
    for name in ("alpha", "beta", "gamma"):
        write_policy(root, f"{name}/v1.0.0", name, "v1.0.0")


def _validated_tree(tmp_path: Path) -> Path:
    """Three valid policies, validated once (so their answers are in the cache)."""
    root = tmp_path / "policies"
    _tree(root)
    assert _validate(root) == 0
    return root


def test_nothing_changed_asks_the_helper_nothing(tmp_path: Path, asked: list[list[str]]) -> None:
    root = _validated_tree(tmp_path)
    report = (tmp_path / "out" / "validation_report.json").read_text()
    assert _validate(root) == 0
    assert asked == [["alpha/v1.0.0", "beta/v1.0.0", "gamma/v1.0.0"]]
    assert (tmp_path / "out" / "validation_report.json").read_text() == report


def test_a_second_checkout_elsewhere_asks_the_helper_nothing(
    tmp_path: Path, asked: list[list[str]]
) -> None:
    # Keys hash what the policies contain, not where they are: a CI runner's or a git
    # worktree's copy of the same tree finds the answers the first checkout kept.
    first, second = tmp_path / "a" / "policies", tmp_path / "b" / "policies"
    _tree(first)
    _tree(second)
    assert _validate(first) == 0
    assert _validate(second) == 0
    assert asked == [["alpha/v1.0.0", "beta/v1.0.0", "gamma/v1.0.0"]]
    reports = [(r.parent / "out" / "policies.json").read_text() for r in (first, second)]
    assert reports[0] == reports[1].replace(str(tmp_path / "b"), str(tmp_path / "a"))


def test_a_changed_policy_source_is_checked_again(tmp_path: Path, asked: list[list[str]]) -> None:
    root = _validated_tree(tmp_path)
    go = root / "beta" / "v1.0.0" / "policy.go"
    go.write_text(go.read_text().replace("return &policy{}, nil", "return undefinedThing, nil"))
    assert _validate(root) == EXIT_INVALID
    assert asked[1:] == [["beta/v1.0.0"]]
    errors = report_errors(tmp_path / "out", "beta/v1.0.0")
    assert [e["code"] for e in errors] == ["go-type"]
    # The answer with a problem is not kept: the policy is asked about until it is fixed.
    assert _validate(root) == EXIT_INVALID
    assert asked[2:] == [["beta/v1.0.0"]]


def test_a_new_file_and_a_changed_phase_are_new_inputs(
    tmp_path: Path, asked: list[list[str]]
) -> None:
    root = _validated_tree(tmp_path)
    (root / "alpha" / "v1.0.0" / "more.go").write_text("package policy\n\nconst more = 1\n")
    yaml = root / "gamma" / "v1.0.0" / "policy.yaml"
    yaml.write_text(
        yaml.read_text().replace(
            "supportsRequestPhase: true\n",
            "supportsRequestPhase: true\nsupportsResponsePhase: true\n",
        )
    )
    assert _validate(root) == EXIT_INVALID
    assert asked[1:] == [["alpha/v1.0.0", "gamma/v1.0.0"]]
    assert [e["code"] for e in report_errors(tmp_path / "out", "gamma/v1.0.0")] == [
        "interface-missing"
    ]
    policies = json.loads((tmp_path / "out" / "policies.json").read_text())
    assert len(policies) == 3


def test_a_changed_go_mod_checks_every_policy_again(tmp_path: Path, asked: list[list[str]]) -> None:
    # Every go.mod decides the versions all policies build with, and duplicates.
    root = _validated_tree(tmp_path)
    mod = root / "gamma" / "v1.0.0" / "go.mod"
    mod.write_text(mod.read_text().replace("example.com/test/gamma", "example.com/test/alpha"))
    assert _validate(root) == EXIT_INVALID
    assert asked[1:] == [["alpha/v1.0.0", "beta/v1.0.0", "gamma/v1.0.0"]]
    codes = [e["code"] for e in report_errors(tmp_path / "out", "gamma/v1.0.0")]
    assert codes == ["gomod-duplicate-module"]


def test_a_changed_engine_sdk_checks_every_policy_again(
    tmp_path: Path, asked: list[list[str]]
) -> None:
    home = tmp_path / "home"
    copy_engine_sources(home)
    root = tmp_path / "policies"
    _tree(root)
    assert _validate(root, "--engine-dir", str(home)) == 0
    sdk = home / "engine" / "worker" / "policies" / "interface.go"
    sdk.write_text(
        sdk.read_text().replace(
            "type Policy interface {\n", "type Policy interface {\n\tVersion() string\n"
        )
    )
    assert _validate(root, "--engine-dir", str(home)) == EXIT_INVALID
    assert asked[1:] == [["alpha/v1.0.0", "beta/v1.0.0", "gamma/v1.0.0"]]
    for name in ("alpha", "beta", "gamma"):
        errors = report_errors(tmp_path / "out", f"{name}/v1.0.0")
        assert any("missing method Version" in str(e["message"]) for e in errors), errors


def _entries(cache: Path) -> dict[str, str]:
    with closing(sqlite3.connect(cache / gocheck.ANSWERS)) as db:
        return dict(db.execute("SELECT key, value FROM entries").fetchall())


def test_a_corrupt_cache_entry_is_ignored(
    tmp_path: Path, cache: Path, asked: list[list[str]]
) -> None:
    root = tmp_path / "policies"
    _tree(root)
    assert _validate(root) == 0
    keys = sorted(_entries(cache))
    assert len(keys) == 3
    with closing(sqlite3.connect(cache / gocheck.ANSWERS)) as db, db:
        db.execute("UPDATE entries SET value = ? WHERE key = ?", ("\x00not json", keys[0]))
        db.execute(
            "UPDATE entries SET value = ? WHERE key = ?",
            ('{"id": "alpha/v1.0.0", "problems": 7}', keys[1]),
        )
        db.execute("UPDATE entries SET value = '[]' WHERE key = ?", (keys[2],))
    report = (tmp_path / "out" / "validation_report.json").read_text()
    assert _validate(root) == 0
    assert asked[1:] == [["alpha/v1.0.0", "beta/v1.0.0", "gamma/v1.0.0"]]
    assert (tmp_path / "out" / "validation_report.json").read_text() == report
    assert all(json.loads(v)["problems"] == [] for v in _entries(cache).values())


def test_a_damaged_cache_database_is_started_again(
    tmp_path: Path, cache: Path, asked: list[list[str]]
) -> None:
    root = tmp_path / "policies"
    _tree(root)
    (cache / gocheck.ANSWERS).write_bytes(b"\x00 not a database " * 100)
    assert _validate(root) == 0
    assert _validate(root) == 0
    assert asked == [["alpha/v1.0.0", "beta/v1.0.0", "gamma/v1.0.0"]]
    assert len(_entries(cache)) == 3


def test_an_unusable_cache_only_costs_speed(
    tmp_path: Path, cache: Path, asked: list[list[str]]
) -> None:
    # Neither readable nor replaceable: a directory where the database should be.
    (cache / gocheck.ANSWERS).mkdir()
    root = tmp_path / "policies"
    _tree(root)
    assert _validate(root) == 0
    assert _validate(root) == 0
    assert asked == [["alpha/v1.0.0", "beta/v1.0.0", "gamma/v1.0.0"]] * 2
    assert (cache / gocheck.ANSWERS).is_dir()


def test_policies_using_local_sources_elsewhere_are_always_checked(
    tmp_path: Path, asked: list[list[str]]
) -> None:
    # A local replace target and another policy's module are Go sources outside the
    # policy's directory, so no key covers them.
    root = tmp_path / "policies"
    write_policy(root, "plain/v1.0.0", "plain", "v1.0.0")
    write_lib(
        root / "lib" / "greeting",
        "example.com/greeting",
        "greeting",
        'package greeting\n\n// Word is used by a policy.\nfunc Word() string { return "hi" }\n',
    )
    write_policy(
        root,
        "uses-lib/v1.0.0",
        "usesLib",
        "v1.0.0",
        go_text=lib_policy_go("uses", "example.com/greeting", "greeting.Word()"),
        go_mod="module example.com/test/uses-lib\n\ngo 1.24\n\n"
        f"{ENGINE_REQUIRE}require example.com/greeting v0.0.0\n\n"
        "replace example.com/greeting => ../../lib/greeting\n",
    )
    write_policy(
        root,
        "uses-plain/v1.0.0",
        "usesPlain",
        "v1.0.0",
        go_text=lib_policy_go("other", "example.com/test/plain/v1.0.0", "policy.Marker"),
    )
    plain = root / "plain" / "v1.0.0" / "policy.go"
    plain.write_text(
        plain.read_text() + '\n// Marker is used by another policy.\nconst Marker = "m"\n'
    )
    assert _validate(root) == 0
    assert _validate(root) == 0
    assert asked[1:] == [["uses-lib/v1.0.0", "uses-plain/v1.0.0"]]
    lib = root / "lib" / "greeting" / "greeting.go"
    lib.write_text(lib.read_text().replace("func Word() string", "func Word() int"))
    assert _validate(root) == EXIT_INVALID
    errors = report_errors(tmp_path / "out", "uses-lib/v1.0.0")
    assert [e["code"] for e in errors] == ["go-type"]


def test_helper_built_ahead_with_the_standard_library_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`python -m policy_builder.gocheck` (what `make build` runs while pip installs the
    virtualenv) needs no third-party package, and builds the binary validation then uses."""
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    package_parent = str(Path(gocheck.__file__).resolve().parents[1])
    # -S: no site-packages, so only the standard library and policy_builder are importable.
    proc = subprocess.run(
        [sys.executable, "-S", "-m", "policy_builder.gocheck"],
        env={**os.environ, "PYTHONPATH": package_parent},
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    built = [p.name for p in tmp_path.iterdir()]
    assert len(built) == 1 and built[0].startswith("gocheck-")
    assert gocheck.build_helper(find_engine_sources()).name == built[0]
