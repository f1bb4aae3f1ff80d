"""`policy-builder generate` in a monorepo, through the real CLI: what it writes, that a
second run writes nothing, `--check`, hand edits and `# keep`, MODULE.bazel comments, bad
input leaving the tree untouched, and how it finds the workspace it runs in (the enclosing
MODULE.bazel, `bazel run`'s BUILD_WORKSPACE_DIRECTORY)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from policy_builder.cli import main
from policy_builder.errors import EXIT_INVALID
from policy_builder.home import find_engine_sources

from tests.builder.policytree import copy_engine_sources, run_json, tree_state, write_policy

REPO = Path(__file__).resolve().parents[2]
POLICY = "policies/hello/v1.0.0"
POLICY_BUILD = f"{POLICY}/BUILD.bazel"
MODULE_USE_REPO = """\
go_deps = use_extension("@gazelle//:extensions.bzl", "go_deps")
go_deps.from_file(go_work = "//:go.work")

# Repos the generated BUILD files use.
use_repo(  # the generator owns this list
    go_deps,
    # Used by a hand-written target.
    "com_example_handwritten",  # keep
    "com_example_stale",
)

# After the list: stays too.
"""


@pytest.fixture(scope="session")
def engine_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("engine-copy")
    copy_engine_sources(root)
    return root


@pytest.fixture
def repo(engine_copy: Path, tmp_path: Path) -> Path:
    """A monorepo: the engine, templates and Go helper, MODULE.bazel and one policy."""
    root = tmp_path / "repo"
    shutil.copytree(engine_copy, root)
    (root / "MODULE.bazel").write_text('module(name = "mono")\n\n' + MODULE_USE_REPO)
    write_policy(root / "policies", "hello/v1.0.0", "hello", "v1.0.0")
    return root


def _args(root: Path, *extra: str, output: Path | None = None) -> list[str]:
    output = output or root.parent / "out"
    return [
        "generate",
        "--engine-dir",
        str(root),
        "--policies",
        str(root / "policies"),
        "--output",
        str(output),
        *extra,
    ]


def _generate(root: Path, *extra: str) -> int:
    return main([*_args(root, *extra), "--quiet"])


def test_generate_writes_the_monorepo_files(repo: Path) -> None:
    assert _generate(repo) == 0
    build = (repo / POLICY_BUILD).read_text()
    assert 'load("//rules:policy_library.bzl", "policy_library")' in build
    assert 'importpath = "example.com/test/hello/v1.0.0"' in build
    assert 'deps = ["//engine/worker/policies"]' in build
    registry = (repo / "policies" / "BUILD.bazel").read_text()
    assert f'"//{POLICY}:v1_0_0"' in registry
    assert "registry.Register(" in (repo / "policies" / "plugin_registry.go").read_text()
    assert 'LOADED_POLICIES = ["hello:v1.0.0"]' in (repo / "policies" / "policies.bzl").read_text()
    work = (repo / "go.work").read_text()
    assert f"\t./engine\n\t./{POLICY}\n" in work
    assert (
        "replace github.com/policy-engine-builder/policy-engine "
        "v0.0.0-00010101000000-000000000000 => ./engine\n"
    ) in work
    assert (repo / "engine" / "worker" / "policies" / "BUILD.bazel").is_file()


def test_second_generate_writes_nothing(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _generate(repo) == 0
    before = tree_state(repo)
    code, out = run_json(_args(repo), capsys)
    assert code == 0
    assert out["written"] == []
    assert tree_state(repo) == before


def test_check_is_quiet_when_current_and_fails_with_a_diff_when_stale(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _generate(repo) == 0
    assert _generate(repo, "--check") == 0
    # A new source file the BUILD file does not list yet, and a go.work edited by hand.
    (repo / POLICY / "more.go").write_text("package policy\n")
    work = repo / "go.work"
    work.write_text(work.read_text().replace("./engine\n", "./engine\n\t./elsewhere\n"))
    before = tree_state(repo)
    capsys.readouterr()
    untouched = repo.parent / "check-out"
    assert main(_args(repo, "--check", output=untouched)) == 1
    assert not untouched.exists()
    captured = capsys.readouterr()
    assert f"--- a/{POLICY_BUILD}\n+++ b/{POLICY_BUILD}\n" in captured.out
    assert '+        "more.go",\n' in captured.out
    assert "-\t./elsewhere\n" in captured.out
    assert "out of date" in captured.err
    assert tree_state(repo) == before


def test_check_reports_a_stale_use_repo(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _generate(repo) == 0
    module = repo / "MODULE.bazel"
    module.write_text(module.read_text().replace("go_deps,\n", 'go_deps,\n    "com_x_y",\n'))
    code, out = run_json(_args(repo, "--check"), capsys)
    assert code == 1
    assert out["phase"] == "check"
    assert '-    "com_x_y",\n' in str(out["diff"])


def test_hand_edits_and_keep_survive_regeneration(repo: Path) -> None:
    assert _generate(repo) == 0
    build = repo / POLICY_BUILD
    text = build.read_text().replace(
        'deps = ["//engine/worker/policies"],',
        'tags = ["team-auth"],\n    deps = [\n        "//engine/worker/policies",\n'
        '        "//third_party:extra",  # keep\n    ],',
    )
    build.write_text(text + '\nfilegroup(\n    name = "docs",\n    srcs = ["README.md"],\n)\n')
    (repo / POLICY / "more.go").write_text("package policy\n")
    assert _generate(repo) == 0
    after = build.read_text()
    assert 'tags = ["team-auth"],' in after
    assert '"//third_party:extra",  # keep' in after
    assert 'name = "docs",' in after
    assert '        "more.go",\n        "policy.go",\n' in after


def test_module_bazel_comments_and_keep_entries_are_preserved(repo: Path) -> None:
    assert _generate(repo) == 0
    module = (repo / "MODULE.bazel").read_text()
    assert module.startswith('module(name = "mono")\n\n')
    assert (
        "# Repos the generated BUILD files use.\nuse_repo(  # the generator owns this list\n"
        in (module)
    )
    assert (
        '    # Used by a hand-written target.\n    "com_example_handwritten",  # keep\n' in module
    )
    assert "com_example_stale" not in module
    assert module.endswith(")\n\n# After the list: stays too.\n")


def test_a_bad_policy_is_reported_and_nothing_is_written(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_policy(repo / "policies", "broken/v1.0.0", "broken", "v1.0.0", go_text="package x\n{")
    before = tree_state(repo)
    assert main(_args(repo)) == EXIT_INVALID
    assert "validation failed" in capsys.readouterr().err
    assert tree_state(repo) == before


def test_check_tells_the_findings_it_writes_no_report_of(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--check writes nothing, so its error cannot send the user to validation_report.json:
    under --quiet the findings are in the error itself."""
    write_policy(repo / "policies", "broken/v1.0.0", "broken", "v1.0.0", go_text="package x\n{")
    out = repo.parent / "out"
    assert main([*_args(repo, "--check", output=out), "--quiet"]) == EXIT_INVALID
    err = capsys.readouterr().err
    assert "validation_report.json" not in err
    assert "Validation failed for broken:v1.0.0" in err
    assert "policy.go:2: expected declaration" in err
    assert not out.exists()


def test_an_unreadable_build_file_stops_generate_before_any_write(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / POLICY_BUILD).write_text("policy_library(\n")
    before = tree_state(repo)
    assert main(_args(repo)) == EXIT_INVALID
    err = capsys.readouterr().err
    assert POLICY_BUILD in err or "BUILD" in err
    assert "Traceback" not in err
    assert tree_state(repo) == before


def test_policies_outside_the_workspace_are_a_usage_error(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outside = tmp_path / "elsewhere"
    write_policy(outside, "hello/v1.0.0", "hello", "v1.0.0")
    args = ["generate", "--engine-dir", str(repo), "--policies", str(outside)]
    assert main([*args, "--output", str(tmp_path / "o")]) == 2
    assert "not inside the workspace" in capsys.readouterr().err


def test_policies_at_the_workspace_root_are_a_usage_error(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = tree_state(repo)
    args = ["generate", "--engine-dir", str(repo), "--policies", str(repo)]
    assert main([*args, "--output", str(tmp_path / "o")]) == 2
    assert "is the workspace root itself" in capsys.readouterr().err
    assert tree_state(repo) == before


def test_bazel_run_works_in_the_workspace(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `bazel run` starts the tool in its runfiles; only the variable leads to the workspace.
    runfiles = tmp_path / "runfiles"
    runfiles.mkdir()
    monkeypatch.chdir(runfiles)
    monkeypatch.setenv("BUILD_WORKSPACE_DIRECTORY", str(repo))
    monkeypatch.setenv("POLICY_ENGINE_HOME", str(runfiles))
    assert main(["generate", "--quiet"]) == 0
    assert Path.cwd() == repo
    assert (repo / POLICY_BUILD).is_file()
    assert (repo / "output" / "policies.json").is_file()
    assert not any(runfiles.iterdir())
    assert main(["generate", "--check", "--quiet"]) == 0


def test_home_prefers_engine_dir_then_bazel_workspace(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BUILD_WORKSPACE_DIRECTORY", str(repo))
    monkeypatch.setenv("POLICY_ENGINE_HOME", str(REPO))
    assert find_engine_sources().root == repo.resolve()
    assert find_engine_sources(str(REPO)).root == REPO
    monkeypatch.delenv("BUILD_WORKSPACE_DIRECTORY")
    assert find_engine_sources().root == REPO


def test_an_unusable_bazel_workspace_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BUILD_WORKSPACE_DIRECTORY", str(tmp_path / "missing"))
    assert main(["generate", "--quiet"]) == 2
    assert "BUILD_WORKSPACE_DIRECTORY" in capsys.readouterr().err


@pytest.fixture
def no_named_workspace(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing but the current directory names the workspace."""
    monkeypatch.delenv("BUILD_WORKSPACE_DIRECTORY", raising=False)
    monkeypatch.delenv("POLICY_ENGINE_HOME", raising=False)
    monkeypatch.delenv("POLICIES_DIR", raising=False)
    monkeypatch.delenv("OUTPUT_DIR", raising=False)


@pytest.mark.usefixtures("no_named_workspace")
def test_generate_works_in_the_workspace_it_runs_in(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The tool comes from this checkout; the monorepo is another tree. From a
    # sub-directory, the defaults are the workspace's policies/ and output/.
    monkeypatch.chdir(repo / POLICY)
    assert main(["generate", "--quiet"]) == 0
    assert (repo / POLICY_BUILD).is_file()
    assert (repo / "output" / "policies.json").is_file()
    assert not (repo / POLICY / "output").exists()
    before = tree_state(repo)
    monkeypatch.chdir(repo)
    assert main(["generate", "--check", "--quiet"]) == 0
    assert main(["generate", "--quiet"]) == 0
    assert tree_state(repo) == before


@pytest.mark.usefixtures("no_named_workspace")
def test_bazel_workspace_wins_over_the_enclosing_module(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "other"
    (other / "sub").mkdir(parents=True)
    (other / "MODULE.bazel").write_text('module(name = "other")\n')
    monkeypatch.chdir(other / "sub")
    monkeypatch.setenv("BUILD_WORKSPACE_DIRECTORY", str(repo))
    assert main(["generate", "--quiet"]) == 0
    assert (repo / POLICY_BUILD).is_file()
    assert sorted(p.name for p in other.iterdir()) == ["MODULE.bazel", "sub"]


@pytest.mark.usefixtures("no_named_workspace")
def test_generate_outside_any_workspace_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    nowhere = tmp_path / "nowhere"
    nowhere.mkdir()
    monkeypatch.chdir(nowhere)
    assert main(["generate", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"no MODULE.bazel in {nowhere} or any directory above it" in err
    assert "--engine-dir" in err
    assert list(nowhere.iterdir()) == []


@pytest.mark.usefixtures("no_named_workspace")
def test_a_workspace_without_the_engine_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "MODULE.bazel").write_text('module(name = "bare")\n')
    write_policy(tmp_path / "policies", "hello/v1.0.0", "hello", "v1.0.0")
    monkeypatch.chdir(tmp_path / "policies")
    assert main(["generate", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"under {tmp_path} (the nearest directory holding MODULE.bazel)" in err
