"""Bazel 4.2.3 (Debian's bazel-bootstrap) runs loading and analysis of //:engine_image on a
copy of the tree, offline, with every external rule set replaced by a local stand-in
(standins.py). This proves the BUILD files, rules/ macros and generated files form a valid
target graph for a real Bazel; it does not compile Go or pull images (docs/bazel.md).

Enabled by `make test-bazel` (POLICY_BUILDER_BAZEL4=1); it fails when bazel is missing.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from evaluator import Workspace, canonical, facts
from standins import write_standins
from tree import copy_checkout, make_tree

TARGETS = ("//:engine_image", "//:engine_image_index", "//:engine_load",
           "//tools/gen:policy_builder", "//policies/...")  # fmt: skip


def _bazel() -> str:
    path = shutil.which("bazel")
    if path is None:
        pytest.fail("bazel not found: `apt-get install bazel-bootstrap` (.ci/run does)")
    return path


def _bazel_version() -> str:
    """Debian's bazel-bootstrap reports `no_version`; its package version is the truth."""
    dpkg = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", "bazel-bootstrap"],
        capture_output=True,
        text=True,
        check=False,
    )
    return f"bazel-bootstrap {dpkg.stdout.strip()}" if dpkg.returncode == 0 else "bazel"


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


def _prepare(root: Path, fill: Callable[[Path], object] = make_tree) -> Path:
    """The tree `fill` writes, with a WORKSPACE that maps every external repo to a stand-in."""
    ws = root / "ws"
    fill(ws)
    workspace = Workspace(ws)
    workspace.load_all()
    external = [
        canonical(value, label[2:].partition(":")[0])
        for label, target in workspace.targets.items()
        for key in ("deps", "base")
        for value in ([target.attrs[key]] if isinstance(target.attrs.get(key), str)
                      else target.attrs.get(key) or [])
        if value.startswith("@")
    ]  # fmt: skip
    go = [label for label in external if not label.startswith(("@pypi//", "@distroless"))]
    oci = sorted({label[1:].partition("//")[0] for label in external if "distroless" in label})
    pypi = sorted({label.split("//")[1].split(":")[0] for label in external if "@pypi" in label})
    # Targets of the rule sets themselves that BUILD files use (`data = ["@rules_go//go"]`).
    rule_sets = {label[1:].partition("//")[0] for label in facts().files}
    used = sorted({
        canonical(value, label[2:].partition(":")[0])
        for label, target in workspace.targets.items()
        for value in _strings(target.attrs)
        if value.startswith("@") and value[1:].partition("//")[0] in rule_sets
    })  # fmt: skip
    (ws / "WORKSPACE").write_text(write_standins(root / "standins", facts(), go, oci, pypi, used))
    # Debian's `bazel` wrapper would look for the modern Bazel that .bazelversion names.
    (ws / ".bazelversion").unlink()
    return ws


def _run(ws: Path, user_root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [
        _bazel(),
        "--batch",
        "--noworkspace_rc",
        "--nohome_rc",  # /etc/bazel/bazelrc stays: it names the Debian install base
        f"--output_user_root={user_root}",
        "--host_jvm_args=-Xmx1g",
        *args,
    ]
    return subprocess.run(command, cwd=ws, capture_output=True, text=True, check=False)


def test_bazel4_queries_and_analyzes_the_engine_image(tmp_path: Path) -> None:
    ws = _prepare(tmp_path)
    version = _bazel_version()

    query = _run(ws, tmp_path / "root", "query", "deps(//:engine_image)", "--output=label")
    assert query.returncode == 0, query.stderr[-4000:]
    deps = set(query.stdout.split())
    for expected in ("//:engine", "//policies:registry", "//engine:policy-engine_lib",
                     "//policies/jwt-validation/v1.0.0:v1_0_0",
                     "//policies/rate-limiting/v1.0.0:v1_0_0",
                     "//rules:linux_amd64", "@distroless_static_linux_amd64//:distroless_static_linux_amd64",
                     "@com_github_golang_jwt_jwt_v5//:jwt"):  # fmt: skip
        assert expected in deps, expected

    build = _run(ws, tmp_path / "root", "build", "--nobuild", "--jobs=2", *TARGETS)
    assert build.returncode == 0, build.stderr[-4000:]
    assert "Analyzed" in build.stderr
    print(
        f"verified with {version}: query deps(//:engine_image) "
        f"({len(deps)} targets) and analysis (--nobuild) of {' '.join(TARGETS)}"
    )


def test_bazel4_analyzes_the_committed_checkout(tmp_path: Path) -> None:
    """The example policies as committed (BUILD files and registry from `generate`)."""
    ws = _prepare(tmp_path, copy_checkout)
    build = _run(ws, tmp_path / "root", "build", "--nobuild", "--jobs=2", *TARGETS)
    assert build.returncode == 0, build.stderr[-4000:]
    query = _run(ws, tmp_path / "root", "query", "kind(go_library, deps(//:engine))")
    assert query.returncode == 0, query.stderr[-4000:]
    policies = sorted(p.parent for p in (ws / "policies").glob("*/*/policy.yaml"))
    assert policies
    for policy in policies:
        package = policy.relative_to(ws).as_posix()
        assert f"//{package}:" in query.stdout, package


def test_bazel4_analysis_fails_on_an_import_path_conflict(tmp_path: Path) -> None:
    """The same check fails when two linked packages share an import path."""
    ws = _prepare(tmp_path)
    build_file = ws / "policies/rate-limiting/v1.0.0/BUILD.bazel"
    text = build_file.read_text()
    build_file.write_text(
        text.replace("policies/rate-limiting/v1.0.0", "policies/jwt-validation/v1.0.0")
    )
    build = _run(ws, tmp_path / "root", "build", "--nobuild", "//:engine")
    assert build.returncode != 0
    assert "package conflict" in build.stderr


def test_bazel4_analysis_runs_the_real_rules_preconditions(tmp_path: Path) -> None:
    """rules_oci's own fail() on os/architecture beside base, run by Bazel from the facts."""
    ws = _prepare(tmp_path)
    image = ws / "rules/engine_image.bzl"
    text = image.read_text()
    old = '            base = "%s_%s" % (base, platform),\n'
    assert old in text
    image.write_text(
        text.replace(old, old + '            os = "linux",\n            architecture = arch,\n')
    )
    build = _run(ws, tmp_path / "root", "build", "--nobuild", "//:engine_image")
    assert build.returncode != 0
    assert "come from the image provided by 'base' and cannot be overridden" in build.stderr
