"""A complete source tree to check: this repository's hand-written Bazel files and engine,
plus everything `policy-builder generate` would write for the fixture policies."""

from __future__ import annotations

import shutil
from pathlib import Path

import fixtures
from policy_builder.bazel import bazel_outputs, read_engine_module
from policy_builder.manifest import Manifest
from policy_builder.writer import write_files
from tooling import REPO_ROOT

# What a checkout contributes; generated files come from the generator below.
COPIED = (
    "MODULE.bazel",
    "WORKSPACE",
    "BUILD.bazel",
    ".bazelrc",
    ".bazelversion",
    ".bazelignore",
    "go.work",
    "rules",
    "engine",
    "tools/gen/BUILD.bazel",
    "tools/gen/requirements_lock.txt",
    "tools/gen/policy_builder",
    "tools/workspace_status.sh",
)


HAND_WRITTEN_TEST = """\
load("@rules_go//go:def.bzl", "go_test")

go_test(
    name = "v1_0_0_test",
    size = "small",
    srcs = ["jwt_test.go"],
    embed = [":v1_0_0"],
)
"""


def _copy(dest: Path, paths: tuple[str, ...]) -> None:
    for rel in paths:
        source = REPO_ROOT / rel
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target)


def copy_checkout(dest: Path) -> None:
    """The checkout as committed, example policies and their generated files included."""
    _copy(dest, (*COPIED, "policies"))


def make_tree(dest: Path) -> Manifest:
    """Fill `dest` and return the manifest its policies came from."""
    _copy(dest, COPIED)
    manifest = fixtures.manifest(dest / "policies")
    for entry in manifest.policies:
        assert entry.go_package is not None
        entry.path.mkdir(parents=True, exist_ok=True)
        for name in entry.go_package.go_files:
            (entry.path / name).write_text(f"package {entry.go_package.package_name}\n")
        (entry.path / "go.mod").write_text(f"module {entry.module_path}\n\ngo 1.26.0\n")
        (entry.path / "go.sum").write_text("")
        (entry.path / "policy.yaml").write_bytes(entry.spec_source)
    # A user's own test beside a policy: generation must keep it and it must stay valid.
    jwt = manifest.policies[0].path
    (jwt / "jwt_test.go").write_text("package jwt\n")
    (jwt / "BUILD.bazel").write_text(HAND_WRITTEN_TEST)
    outputs = bazel_outputs(
        manifest,
        engine=read_engine_module(REPO_ROOT),
        registry_go=fixtures.registry_go(manifest),
        build_info_go=fixtures.BUILD_INFO_GO,
        read_existing=lambda rel: (dest / rel).read_text() if (dest / rel).is_file() else "",
        file_exists=lambda rel: (dest / rel).is_file(),
    )
    write_files(dest, outputs)
    return manifest
