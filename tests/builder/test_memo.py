"""Results kept by content (cache.Memo), file hashes taken once a run (cache.file_hash),
and what they buy: a second checkout of a tree generated before parses no policy.yaml
and no BUILD or MODULE.bazel file, so it imports neither jsonschema nor libcst."""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from policy_builder import cache
from policy_builder.cache import CACHE_ENV, Memo, Store, file_hash
from policy_builder.cli import main
from policy_builder.discover import discover
from policy_builder.validate import schema_problems

from tests.builder.policytree import policy_yaml, report_errors, write_monorepo, write_policy

# What names a workspace or the policies for the CLI; these tests name neither.
_NAMING_ENV = ("POLICY_ENGINE_HOME", "BUILD_WORKSPACE_DIRECTORY", "POLICIES_DIR", "OUTPUT_DIR")


def _memo(tmp_path: Path) -> Memo:
    return Memo(Store(tmp_path / "memo.sqlite"))


def test_a_kept_result_is_not_computed_again(tmp_path: Path) -> None:
    calls: list[str] = []

    def compute() -> str:
        calls.append("x")
        return "result"

    with _memo(tmp_path) as memo:
        assert memo("thing", compute, "input") == "result"
    with _memo(tmp_path) as memo:
        memo.prefetch("thing", [("input",)])
        assert memo("thing", compute, "input") == "result"
        assert memo("thing", compute, "other input") == "result"
        assert memo("other thing", compute, "input") == "result"
    assert calls == ["x", "x", "x"]


def test_a_result_keep_refuses_is_computed_every_time(tmp_path: Path) -> None:
    calls: list[int] = []

    def compute() -> int:
        calls.append(1)
        return len(calls)

    for _ in range(2):
        with _memo(tmp_path) as memo:
            memo("thing", compute, "input", keep=lambda _: False)
    assert calls == [1, 1]


def test_a_changed_builder_computes_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with _memo(tmp_path) as memo:
        memo("thing", lambda: "old code's answer", "input")
    monkeypatch.setattr(cache, "builder_id", lambda: "another builder")
    with _memo(tmp_path) as memo:
        assert memo("thing", lambda: "new code's answer", "input") == "new code's answer"


def test_a_damaged_entry_is_computed_again(tmp_path: Path) -> None:
    with _memo(tmp_path) as memo:
        memo("thing", lambda: "answer", "input")
    store = Store(tmp_path / "memo.sqlite")
    (key,) = store.get_many([cache.digest("thing", cache.builder_id(), "input")])
    store.put(key, ["not", "an", "entry"])
    with _memo(tmp_path) as memo:
        assert memo("thing", lambda: "answer again", "input") == "answer again"


def test_a_file_changed_within_the_racy_margin_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_text("one")
    first = file_hash(str(path))
    # Same size, same time, same inode: only reading tells the content changed.
    st = path.stat()
    with open(path, "r+") as f:
        f.write("two")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert file_hash(str(path)) != first


def test_an_old_file_is_read_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "f"
    path.write_text("content")
    # Older than the process (the memo trusts only files unchanged since it started).
    old = cache._STARTED_NS - 3 * cache.RACY_NS
    os.utime(path, ns=(old, old))
    first = file_hash(str(path))
    opened: list[object] = []
    real_open = open

    def spy(*args: object, **kwargs: object) -> object:
        opened.append(args[0])
        return real_open(*args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr("builtins.open", spy)
    assert file_hash(str(path)) == first
    # Only this file counts: a thread an earlier test left running may open others.
    assert str(path) not in opened


def test_a_policy_yaml_that_json_cannot_keep_loads_the_same_every_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    root = tmp_path / "policies"
    yaml_text = policy_yaml("dated", "v1.0.0") + "released: 2026-12-02\n"
    write_policy(root, "dated/v1.0.0", "dated", "v1.0.0", yaml_text=yaml_text)
    loads = [discover(root).candidates[0].loaded for _ in range(2)]
    for loaded in loads:
        assert loaded is not None
        assert loaded.data["released"] == datetime.date(2026, 12, 2)


def test_kept_schema_problems_keep_their_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    root = tmp_path / "policies"
    bad = policy_yaml("bad", "v1.0.0").replace("type: string", "type: integr")
    write_policy(root, "bad/v1.0.0", "bad", "v1.0.0", yaml_text=bad)
    out = tmp_path / "out"
    reports = []
    for _ in range(2):
        main(["validate", "--policies", str(root), "--output", str(out), "--quiet"])
        reports.append(report_errors(out, "bad/v1.0.0"))
    assert reports[0] == reports[1]
    (problem,) = [p for p in schema_problems(discover(root).candidates[0]) if p.code == "schema"]
    assert problem.line == bad.splitlines().index("    type: integr") + 1
    assert [e["line"] for e in reports[1] if e["code"] == "schema"] == [problem.line]


def _generate_in(workspace: Path, cache_dir: Path) -> tuple[int, list[str]]:
    """Run generate in workspace in a new interpreter; its exit code and which of the
    heavy libraries it imported."""
    env = {k: v for k, v in os.environ.items() if k not in _NAMING_ENV}
    env[CACHE_ENV] = str(cache_dir)
    script = (
        "import json, sys\n"
        "from policy_builder.cli import main\n"
        "code = main(['generate', '--quiet'])\n"
        "print(json.dumps([code, sorted(m for m in ('jsonschema', 'libcst') if m in sys.modules)]))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        cwd=workspace,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    code, imported = json.loads(proc.stdout.splitlines()[-1])
    return code, imported


def test_a_second_checkout_imports_no_parser(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    write_monorepo(first)
    write_monorepo(second)
    cache_dir = tmp_path / "cache"
    assert _generate_in(first, cache_dir) == (0, ["jsonschema", "libcst"])
    assert _generate_in(second, cache_dir) == (0, [])
    generated = [p.relative_to(first) for p in first.rglob("BUILD.bazel")]
    for rel in generated:
        assert (second / rel).read_text() == (first / rel).read_text()
    assert (second / "MODULE.bazel").read_text() == (first / "MODULE.bazel").read_text()


def test_a_store_keeps_the_entries_written_last(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite", limit=3)
    for n in range(5):
        store.put(f"k{n}", n)
    store.put("k2", "rewritten")
    store.put_many({"k5": 5})
    assert store.get_many([f"k{n}" for n in range(6)]) == {"k2": "rewritten", "k4": 4, "k5": 5}


def test_old_helper_binaries_are_pruned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from policy_builder import gotool

    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    src = tmp_path / "src"
    src.mkdir()
    (src / "go.mod").write_text("module example.com/tiny\n\ngo 1.21\n")
    (src / "main.go").write_text("package main\n\nfunc main() {}\n")
    built = [gotool.cached_go_binary(src, "tiny", f"{n:016d}", "a test binary") for n in range(5)]
    left = sorted(p.name for p in (tmp_path / "cache").iterdir())
    assert left == sorted(p.name for p in built[-gotool.KEPT_BINARIES :])


def test_the_engine_listing_is_kept_until_an_engine_file_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from policy_builder import monorepo

    listed: list[Path] = []
    real = monorepo.go_list

    def spy(module_dir: Path, repo_root: Path) -> object:
        listed.append(repo_root)
        return real(module_dir, repo_root)

    monkeypatch.setattr(monorepo, "go_list", spy)
    for name in _NAMING_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    first, second = tmp_path / "a", tmp_path / "b"
    write_monorepo(first)
    write_monorepo(second)
    monkeypatch.chdir(first)
    assert main(["generate", "--quiet"]) == 0
    monkeypatch.chdir(second)
    assert main(["generate", "--quiet"]) == 0
    assert listed == [first]
    (second / "engine" / "worker" / "policies" / "extra.go").write_text("package policies\n")
    assert main(["generate", "--quiet"]) == 0
    assert listed == [first, second]


def test_the_builder_id_covers_the_libraries_versions(monkeypatch: pytest.MonkeyPatch) -> None:
    found = {module: cache._installed(module, dist) for module, dist in cache._LIBRARIES}
    assert all(name.endswith(".dist-info") for name in found.values()), found
    before = cache.builder_id()
    monkeypatch.setattr(
        cache,
        "_installed",
        lambda module, dist: f"{dist}-0.0.1.dist-info" if dist == "libcst" else found[module],
    )
    assert cache.builder_id() != before
