"""The CLI surface: exit codes, --json, settings from env and flags (flags win)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from policy_builder.cli import main
from policy_builder.errors import EXIT_INVALID, UsageError
from policy_builder.settings import DISTROLESS_BASE, load_settings, split_go_build_flags

from tests.builder.policytree import run_json, tree_state, write_policy

REPO_ROOT = Path(__file__).resolve().parents[2]
ALPINE = "alpine@sha256:" + "4b" * 32


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["frobnicate"],
        ["build", "--no-such-flag"],
        ["build", "--platform", "windows/amd64"],
        ["new", "bad name"],
        ["new", "ok", "--version", "1.0"],
    ],
)
def test_usage_errors_exit_2(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main([*argv, "--policies", str(tmp_path / "p")] if argv[:1] == ["new"] else argv)
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("policy-builder: error: ")
    assert "Traceback" not in err


def test_help_and_version_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("policy-builder ")
    assert main(["build", "--help"]) == 0
    assert "--skip-compilation" in capsys.readouterr().out


def test_missing_policies_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run_json(
        ["discover", "--policies", str(tmp_path / "nope"), "--output", str(tmp_path / "o")], capsys
    )
    assert code == EXIT_INVALID
    assert out == {
        "ok": False,
        "phase": "discovery",
        "error": f"policies directory {tmp_path / 'nope'} does not exist",
    }


def test_discover_json_and_env_dirs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "pol"
    write_policy(root, "b/v1.0.0", "bee", "v1.0.0")
    write_policy(root, "a/v2.0.0", "ay", "v2.0.0")
    monkeypatch.setenv("POLICIES_DIR", str(root))
    monkeypatch.setenv("OUTPUT_DIR", str(tmp_path / "out"))
    code, out = run_json(["discover"], capsys)
    assert code == 0
    assert [(p["name"], p["rel_path"]) for p in out["policies"]] == [
        ("ay", "a/v2.0.0"),
        ("bee", "b/v1.0.0"),
    ]  # type: ignore[index, union-attr]
    written = json.loads((tmp_path / "out" / "policies.json").read_text())
    assert [p["name"] for p in written] == ["ay", "bee"]
    assert set(out["timings"]) == {"discover"}  # type: ignore[arg-type]


def test_package_settings_flags_win_over_env(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "pol"
    write_policy(root, "a/v1.0.0", "ay", "v1.0.0")
    monkeypatch.setenv("FINAL_IMAGE_BASE", ALPINE)
    monkeypatch.setenv("BUILD_VERSION", "v-from-env")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")
    before = tree_state(root)
    code, _ = run_json(
        [
            "package",
            "--policies",
            str(root),
            "--output",
            str(tmp_path / "o"),
            "--build-version",
            "v-from-flag",
        ],
        capsys,
    )
    assert code == 0
    text = (tmp_path / "o" / "Dockerfile").read_text()
    assert f"FROM {ALPINE}\n" in text
    assert 'LABEL org.opencontainers.image.version="v-from-flag"\n' in text
    assert 'LABEL org.opencontainers.image.created="1970-01-01T00:00:00Z"\n' in text
    assert 'LABEL policy-engine.loaded-policies="ay:v1.0.0"\n' in text
    assert tree_state(root) == before


def test_load_settings_precedence_and_checks() -> None:
    env = {
        "BUILD_VERSION": "v1",
        "ENABLE_UPX_COMPRESSION": "true",
        "GO_BUILD_FLAGS": "-v -tags=x",
        "TARGET_PLATFORM": "linux/arm64",
    }
    s = load_settings(env, {"build_version": "v2", "upx": None})
    assert (s.build_version, s.upx, s.go_build_flags, s.platform) == (
        "v2",
        True,
        ("-v", "-tags=x"),
        "linux/arm64",
    )
    assert load_settings(env, {"upx": False}).upx is False
    with pytest.raises(UsageError, match="BUILD_VERSION='v1 \"x'"):
        load_settings({"BUILD_VERSION": 'v1 "x'}, {})
    with pytest.raises(UsageError, match="ENABLE_UPX_COMPRESSION='maybe': use true or false"):
        load_settings({"ENABLE_UPX_COMPRESSION": "maybe"}, {})
    with pytest.raises(UsageError, match="is not an image reference"):
        load_settings({"FINAL_IMAGE_BASE": "alpine\nRUN rm -rf /"}, {})
    with pytest.raises(UsageError, match="is not pinned by digest"):
        load_settings({"FINAL_IMAGE_BASE": "alpine:3.22.2"}, {})
    assert load_settings({"TARGET_PLATFORM": "linux/amd64, linux/arm64"}, {}).platforms == (
        "linux/amd64",
        "linux/arm64",
    )


def test_distroless_default_is_the_bazel_pin() -> None:
    """The Dockerfile's default base is the image MODULE.bazel pulls, by the same digest."""
    module = (REPO_ROOT / "MODULE.bazel").read_text()
    name, _, digest = DISTROLESS_BASE.partition("@")
    assert f'image = "{name}"' in module
    assert f'digest = "{digest}"' in module


def test_go_build_flags_keep_the_defaults() -> None:
    assert split_go_build_flags("-race -ldflags '-X a.b=c' --ldflags=-linkmode=internal") == (
        ("-race",),
        "-X a.b=c -linkmode=internal",
    )
    with pytest.raises(UsageError, match="may not set -o"):
        split_go_build_flags("-o /tmp/x")


def test_new_refuses_to_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["new", "rateLimiting", "--policies", str(tmp_path), "--quiet"]) == 0
    created = tmp_path / "rate-limiting" / "v1.0.0"
    assert sorted(p.name for p in created.iterdir()) == [
        "README.md",
        "go.mod",
        "go.sum",
        "policy.go",
        "policy.yaml",
        "policy_test.go",
    ]
    before = tree_state(tmp_path)
    assert main(["new", "rateLimiting", "--policies", str(tmp_path)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert tree_state(tmp_path) == before


def test_validation_summary_on_the_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "pol"
    write_policy(root, "a/v1.0.0", "ay", "v1.0.0", yaml_text="name: ay\nversion: v1.0.0\n")
    assert (
        main(["validate", "--policies", str(root), "--output", str(tmp_path / "o")]) == EXIT_INVALID
    )
    err = capsys.readouterr().err
    assert (
        "FAILED Validation failed for ay:v1.0.0 (a/v1.0.0)\n  - policy.yaml:1: missing required field 'parameters'\n\nFix these errors and rebuild.\n"
        in err
    )
    assert "phase validate: failed in" in err


def test_summary_escapes_terminal_control_characters(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "pol"
    hostile = 'name: "\\e[2J\\rowned\\nline"\nversion: v1.0.0\nparameters: []\n'
    write_policy(root, "a/v1.0.0", "x", "v1.0.0", yaml_text=hostile)
    assert (
        main(["validate", "--policies", str(root), "--output", str(tmp_path / "o")]) == EXIT_INVALID
    )
    err = capsys.readouterr().err
    assert "\x1b" not in err
    assert "\r" not in err
    assert "FAILED Validation failed for \\x1b[2J\\x0downed\\nline:v1.0.0 (a/v1.0.0)" in err
