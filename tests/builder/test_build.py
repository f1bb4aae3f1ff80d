"""A real build of a small policy tree through the CLI: the binary, its outputs,
reproducibility, and the policies directory left alone."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from policy_builder.cli import main
from policy_builder.errors import EXIT_TOOL
from policy_builder.settings import DISTROLESS_BASE

from tests.builder.conftest import EPOCH_TEXT, Built
from tests.builder.policytree import run_json, tree_state

KEYS = "bothPhases:v1.0.0, clash:v1.0.0, hello:v1.0.0, usesLib:v1.0.0"


def _build(built: Built, output: Path, *flags: str) -> list[str]:
    """`policy-builder build` of the test policies into `output`, with `flags`."""
    return ["build", "--policies", str(built.policies), "--output", str(output), *flags]


def _version(output: Path) -> subprocess.CompletedProcess[str]:
    """`policy-engine --version` of the binary built into `output`."""
    return subprocess.run(
        [str(output / "policy-engine"), "--version"], capture_output=True, text=True
    )


def test_binary_lists_the_policies(built: Built) -> None:
    out = _version(built.output)
    assert out.returncode == 0
    assert out.stdout == (
        f"policy-engine v9.9.9 (commit abc123, built {EPOCH_TEXT})\npolicies: {KEYS}\n"
    )


def test_outputs(built: Built) -> None:
    names = sorted(p.name for p in built.output.iterdir())
    assert names == [
        "Dockerfile",
        "generated",
        "image",
        "policies.json",
        "policy-engine",
        "policy-engine.tar",
        "sbom.cdx.json",
        "validation_report.json",
    ]
    rows = json.loads((built.output / "policies.json").read_text())
    hello = next(r for r in rows if r["name"] == "hello")
    assert hello == {
        "name": "hello",
        "version": "v1.0.0",
        "path": str(built.policies / "hello" / "v1.0.0"),
        "yaml_file": str(built.policies / "hello" / "v1.0.0" / "policy.yaml"),
        "go_mod_file": str(built.policies / "hello" / "v1.0.0" / "go.mod"),
        "module_path": "example.com/policies/hello/v1.0.0",
        "rel_path": "hello/v1.0.0",
    }
    report = json.loads((built.output / "validation_report.json").read_text())
    assert report["valid"] is True
    assert [p["status"] for p in report["policies"]] == ["valid"] * 4


def test_reproducible_from_another_directory(built: Built) -> None:
    first = (built.output / "policy-engine").read_bytes()
    second = (built.other_output / "policy-engine").read_bytes()
    assert first == second
    assert (built.output / "Dockerfile").read_text() == (
        built.other_output / "Dockerfile"
    ).read_text()
    for name in ("plugin_registry.go", "build_info.go"):
        a = (built.output / "generated" / name).read_text()
        assert a == (built.other_output / "generated" / name).read_text()


def test_policies_dir_untouched(built: Built) -> None:
    assert tree_state(built.policies) == built.state_before


def test_dockerfile(built: Built) -> None:
    text = (built.output / "Dockerfile").read_text()
    lines = text.splitlines()
    assert f"FROM {DISTROLESS_BASE}" in lines
    assert "COPY policy-engine /app/policy-engine" in lines
    assert 'LABEL org.opencontainers.image.version="v9.9.9"' in lines
    assert 'LABEL org.opencontainers.image.revision="abc123"' in lines
    assert f'LABEL org.opencontainers.image.created="{EPOCH_TEXT}"' in lines
    assert f'LABEL policy-engine.loaded-policies="{KEYS}"' in lines
    assert "USER 65532:65532" in lines
    assert "EXPOSE 9001 9002" in lines
    assert 'ENTRYPOINT ["/app/policy-engine"]' in lines
    assert 'CMD ["--config", "/etc/policy-engine/config.yaml"]' in lines


def test_second_generate_phase_rewrites_nothing(built: Built) -> None:
    gen = built.output / "generated"
    before = {p.name: p.stat().st_mtime_ns for p in gen.iterdir()}
    assert main(_build(built, built.output, "--quiet", "--skip-compilation", "--skip-package")) == 0
    assert {p.name: p.stat().st_mtime_ns for p in gen.iterdir()} == before


def test_skip_phases(built: Built, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = tmp_path / "o"
    code, out = run_json(_build(built, out_dir, "--skip-compilation", "--skip-package"), capsys)
    assert code == 0
    assert sorted(p.name for p in out_dir.iterdir()) == [
        "generated",
        "policies.json",
        "validation_report.json",
    ]
    assert set(out["timings"]) == {"discover", "validate", "generate"}  # type: ignore[arg-type]


def test_go_build_flags_are_appended(
    built: Built, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "GO_BUILD_FLAGS",
        "-ldflags='-X github.com/policy-engine-builder/policy-engine/pkg/buildinfo.Commit=fromenv'",
    )
    assert (
        main(_build(built, tmp_path, "--quiet", "--build-version", "v1.2.3", "--skip-package")) == 0
    )
    out = _version(tmp_path)
    # Our -X (version) survives; the user's -X is applied after ours.
    assert out.stdout.startswith("policy-engine v1.2.3 (commit fromenv,")


def test_upx(built: Built, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = _build(built, tmp_path, "--upx")
    if shutil.which("upx") or shutil.which("upx-ucl"):
        assert main([*args, "--quiet"]) == 0
        out = _version(tmp_path)
        assert f"policies: {KEYS}" in out.stdout
        assert (tmp_path / "policy-engine").stat().st_size < (
            built.output / "policy-engine"
        ).stat().st_size
    else:
        code, out = run_json(args, capsys)
        assert code == EXIT_TOOL
        assert str(out["error"]).startswith("ENABLE_UPX_COMPRESSION is on but upx is not installed")
        error = json.loads((tmp_path / "build_error.json").read_text())
        assert error["phase"] == "build"


def test_cross_compile_arm64(built: Built, tmp_path: Path) -> None:
    assert main(_build(built, tmp_path, "--quiet", "--platform", "linux/arm64")) == 0
    header = (tmp_path / "policy-engine").read_bytes()[:20]
    assert header[:4] == b"\x7fELF"
    assert int.from_bytes(header[18:20], "little") == 183  # EM_AARCH64
    assert 'LABEL policy-engine.platform="linux/arm64"' in (tmp_path / "Dockerfile").read_text()


def test_closing_summary(built: Built, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(_build(built, tmp_path, "--skip-compilation")) == 0
    err = capsys.readouterr().err
    listed = "".join(f"  - {key}\n" for key in KEYS.split(", "))
    assert f"Loaded policies: 4\n{listed}Dockerfile: {tmp_path / 'Dockerfile'}\n" in err
    assert f"next: cd {tmp_path} && docker build -t policy-engine:custom .\n" in err


def test_go_build_error_is_shown_plainly(
    built: Built, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(built.output / "generated", tmp_path / "generated")
    registry = tmp_path / "generated" / "plugin_registry.go"
    registry.write_text(registry.read_text() + "\nfunc broken() { return 1 }\n")
    code, out = run_json(_build(built, tmp_path, "--skip-generate"), capsys)
    assert code == EXIT_TOOL
    assert out["phase"] == "compilation"
    message = str(out["error"])
    assert message.startswith("go build failed:\n")
    assert "plugin_registry.go" in message
    assert "too many return values" in message
    error = json.loads((tmp_path / "build_error.json").read_text())
    assert error["details"]["message"] == message
    assert not (tmp_path / "policy-engine").exists()
