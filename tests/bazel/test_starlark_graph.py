"""Evaluate MODULE.bazel, every BUILD file and rules/*.bzl with a real Starlark interpreter
against stand-ins built from the facts file (the pinned rule sets' own sources), then check the
target graph."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import pytest
from calls import Checker
from evaluator import EvalError, ModuleFile, Workspace, canonical, facts
from policy_builder.discover import discover
from policy_builder.manifest import Manifest
from tooling import REPO_ROOT
from tree import make_tree

GO_DEPS = ("@gazelle//:extensions.bzl", "go_deps")
OCI = ("@rules_oci//oci:extensions.bzl", "oci")
BUILDINFO = "github.com/policy-engine-builder/policy-engine/pkg/buildinfo"
EDGE_ATTRS = ("deps", "embed", "srcs", "tars", "images", "image", "actual", "base")


@pytest.fixture(scope="module")
def evaluated(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Workspace, ModuleFile, Manifest]:
    root = tmp_path_factory.mktemp("tree")
    manifest = make_tree(root)
    workspace = Workspace(root)
    module = workspace.load_module_file()
    workspace.load_all()
    return workspace, module, manifest


def edges(workspace: Workspace, label: str) -> list[str]:
    target = workspace.targets[label]
    package = label[2:].partition(":")[0]
    out: list[str] = []
    for key in EDGE_ATTRS:
        value = target.attrs.get(key)
        values = [value] if isinstance(value, str) else value or []
        out += [canonical(v, package) for v in values]
    return out


def reachable(workspace: Workspace, start: str) -> set[str]:
    seen = {start}
    stack = [start]
    while stack:
        for dep in edges(workspace, stack.pop()):
            if dep not in seen and dep in workspace.targets:
                seen.add(dep)
                stack.append(dep)
    return seen


def external_repos(labels: Iterable[str]) -> set[str]:
    return {label[1:].partition("//")[0] for label in labels if label.startswith("@")}


def test_every_package_and_rules_bzl_evaluates(
    evaluated: tuple[Workspace, ModuleFile, Manifest],
) -> None:
    workspace, _, _ = evaluated
    assert {"", "engine", "policies", "rules", "tools/gen"} <= workspace.packages
    for bzl in sorted((REPO_ROOT / "rules").glob("*.bzl")):
        assert f"//rules:{bzl.name}" in workspace._bzl, bzl.name


def test_module_pins_exact_versions(
    evaluated: tuple[Workspace, ModuleFile, Manifest],
) -> None:
    _, module, _ = evaluated
    for dep in ("rules_go", "gazelle", "rules_oci", "bazel_lib", "aspect_bazel_lib", "tar.bzl",
                "bazel_skylib", "platforms", "rules_python"):  # fmt: skip
        assert re.fullmatch(r"\d+\.\d+\.\d+", module.bazel_deps[dep]), dep
    (sdk,) = module.tags[("@rules_go//go:extensions.bzl", "go_sdk")]["download"]
    assert re.fullmatch(r"1\.\d+\.\d+", sdk["version"])
    (from_file,) = module.tags[GO_DEPS]["from_file"]
    assert from_file == {"go_work": "//:go.work"}


def test_go_work_needs_no_newer_go_than_the_sdk(
    evaluated: tuple[Workspace, ModuleFile, Manifest],
) -> None:
    workspace, module, _ = evaluated
    (sdk,) = module.tags[("@rules_go//go:extensions.bzl", "go_sdk")]["download"]
    go_line = re.search(r"^go (\S+)$", (workspace.root / "go.work").read_text(), re.MULTILINE)
    assert go_line is not None

    def key(v: str) -> tuple[int, ...]:
        return tuple(int(x) for x in v.split("."))

    assert key(go_line.group(1)) <= key(sdk["version"])


def test_use_repo_lists_exactly_the_go_repos_the_build_files_use(
    evaluated: tuple[Workspace, ModuleFile, Manifest],
) -> None:
    workspace, module, _ = evaluated
    used = external_repos(
        dep
        for target in workspace.targets.values()
        if target.kind in ("go_library", "go_binary")
        for dep in target.attrs.get("deps", [])
    )
    # The fixture policies' own repos; the engine's come from its go.mod and change with it.
    assert {"com_github_golang_jwt_jwt_v5", "org_golang_x_time"} <= used
    assert set(module.use_repo[GO_DEPS]) == used


def test_base_image_is_pinned_by_digest_for_both_platforms(
    evaluated: tuple[Workspace, ModuleFile, Manifest],
) -> None:
    workspace, module, _ = evaluated
    (pull,) = module.tags[OCI]["pull"]
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", pull["digest"])
    assert "tag" not in pull
    assert pull["image"] == "gcr.io/distroless/static-debian12"
    assert set(pull["platforms"]) == {"linux/amd64", "linux/arm64"}
    repos = {pull["name"], pull["name"] + "_linux_amd64", pull["name"] + "_linux_arm64"}
    assert repos <= set(module.use_repo[OCI])
    bases = {t.attrs["base"] for t in workspace.targets.values() if t.kind == "oci_image"}
    assert bases == {"@distroless_static_linux_amd64", "@distroless_static_linux_arm64"}


def _status_keys(workspace: Workspace) -> set[str]:
    """The keys tools/workspace_status.sh emits (what stamping can substitute)."""
    status = (workspace.root / "tools/workspace_status.sh").read_text()
    return set(re.findall(r'^echo "([A-Z_]+) ', status, re.MULTILINE))


def test_engine_binary_is_pure_static_and_stamped(
    evaluated: tuple[Workspace, ModuleFile, Manifest],
) -> None:
    workspace, _, _ = evaluated
    engine = workspace.targets["//:engine"]
    assert engine.kind == "go_binary"
    assert engine.attrs["pure"] == "on" and engine.attrs["static"] == "on"
    assert engine.attrs["out"] == "policy-engine"
    x_defs = engine.attrs["x_defs"]
    assert x_defs == {
        BUILDINFO + ".Version": "{STABLE_BUILD_VERSION}",
        BUILDINFO + ".Commit": "{STABLE_GIT_COMMIT}",
        BUILDINFO + ".BuildTime": "{STABLE_BUILD_TIME}",
    }
    emitted = _status_keys(workspace)
    # BUILD_HOST and BUILD_USER are Bazel's own keys, which the script only pins.
    assert {v.strip("{}") for v in x_defs.values()} == emitted - {"BUILD_HOST", "BUILD_USER"}
    source = (REPO_ROOT / "engine/pkg/buildinfo/buildinfo.go").read_text()
    for key in x_defs:
        assert re.search(rf"^\s+{key.rsplit('.', 1)[1]} = ", source, re.MULTILINE), key
    rc = (workspace.root / ".bazelrc").read_text()
    assert "build --nostamp" in rc
    assert "build:release --workspace_status_command=tools/workspace_status.sh" in rc


def test_every_policy_library_reaches_the_engine(
    evaluated: tuple[Workspace, ModuleFile, Manifest],
) -> None:
    workspace, _, manifest = evaluated
    policy_libs = {
        label for label, t in workspace.targets.items() if "policy" in t.attrs.get("tags", [])
    }
    assert len(policy_libs) == len(manifest.policies)
    assert policy_libs <= reachable(workspace, "//:engine")


def test_importpaths_are_unique_except_the_embedded_main_package(
    evaluated: tuple[Workspace, ModuleFile, Manifest],
) -> None:
    workspace, _, _ = evaluated
    engine = workspace.targets["//:engine"]
    embedded = {canonical(e, "") for e in engine.attrs["embed"]}
    seen: dict[str, str] = {}
    for label in sorted(reachable(workspace, "//:engine") - embedded - {"//:engine"}):
        target = workspace.targets[label]
        if target.kind != "go_library":
            continue
        path = target.attrs["importpath"]
        assert path not in seen, f"{label} and {seen[path]} share {path}"
        seen[path] = label
    assert {workspace.targets[e].attrs["importpath"] for e in embedded} == {
        "github.com/policy-engine-builder/policy-engine"
    }


def test_images_label_exactly_the_manifest_policies(
    evaluated: tuple[Workspace, ModuleFile, Manifest],
) -> None:
    workspace, _, manifest = evaluated
    expected = ", ".join(entry.key for entry in manifest.policies)
    images = [t for t in workspace.targets.values() if t.kind == "oci_image"]
    assert sorted(t.label for t in images) == [
        "//:engine_image_linux_amd64",
        "//:engine_image_linux_arm64",
    ]
    for image in images:
        labels = workspace.targets[canonical(image.attrs["labels"], "")]
        assert labels.kind == "expand_template"
        assert f"policy-engine.loaded-policies={expected}" in labels.attrs["template"]
        binary = workspace.targets["//:engine"].attrs["out"]
        assert image.attrs["entrypoint"] == ["/app/" + binary] == ["/app/policy-engine"]
        assert image.attrs["cmd"] == ["--config", "/etc/policy-engine/config.yaml"]
        assert image.attrs["exposed_ports"] == ["9001/tcp", "9002/tcp"]
        assert image.attrs["user"] == "65532:65532"


def test_image_labels_are_stamped_only_from_status_keys_the_script_emits(
    evaluated: tuple[Workspace, ModuleFile, Manifest],
) -> None:
    workspace, _, _ = evaluated
    labels = workspace.targets["//:engine_image_labels"]
    emitted = _status_keys(workspace)
    stamped = labels.attrs["stamp_substitutions"]
    assert {re.sub(r"[{}]", "", v) for v in stamped.values()} <= emitted
    assert set(stamped) == set(labels.attrs["substitutions"])
    lines = labels.attrs["template"]
    assert all(any(placeholder in line for line in lines) for placeholder in stamped)
    assert [line.split("=", 1)[0] for line in lines] == sorted(
        line.split("=", 1)[0] for line in lines
    )


def test_each_arch_image_carries_the_binary_built_for_that_platform(
    evaluated: tuple[Workspace, ModuleFile, Manifest],
) -> None:
    workspace, _, _ = evaluated
    index = workspace.targets["//:engine_image_index"]
    assert index.kind == "oci_image_index"
    for arch in ("amd64", "arm64"):
        image = workspace.targets[f"//:engine_image_linux_{arch}"]
        # os/architecture come from the base image (rules_oci refuses them beside `base`).
        assert "os" not in image.attrs and "architecture" not in image.attrs
        assert canonical(image.label, "") in {canonical(i, "") for i in index.attrs["images"]}
        (layer,) = image.attrs["tars"]
        tar = workspace.targets[canonical(layer, "")]
        (group,) = tar.attrs["srcs"]
        assert tar.kind == "tar" and "mutate" not in tar.attrs
        assert tar.attrs["mtree"] == [
            "app uid=0 gid=0 mode=0755 time=0 type=dir",
            "app/policy-engine uid=0 gid=0 mode=0755 time=0 type=file "
            f"content=$(execpath :{group})",
        ]
        transition = workspace.targets[canonical(group, "")]
        assert transition.kind == "platform_transition_filegroup"
        assert transition.attrs["srcs"] == [":engine"]
        assert transition.attrs["target_platform"] == f"//rules:linux_{arch}"
        platform = workspace.targets[f"//rules:linux_{arch}"]
        cpu = {"amd64": "x86_64", "arm64": "aarch64"}[arch]
        assert set(platform.attrs["constraint_values"]) == {
            f"@platforms//cpu:{cpu}",
            "@platforms//os:linux",
        }
    load = workspace.targets["//:engine_load"]
    assert load.kind == "oci_load" and canonical(load.attrs["image"], "") == "//:engine_image"
    assert workspace.targets["//:engine_image"].attrs["actual"] == "engine_image_linux_amd64"


def test_in_repo_labels_resolve_to_targets_or_files(
    evaluated: tuple[Workspace, ModuleFile, Manifest],
) -> None:
    workspace, _, _ = evaluated
    for label in workspace.targets:
        for dep in edges(workspace, label):
            if dep.startswith("@") or dep in workspace.targets:
                continue
            package, _, name = dep[2:].partition(":")
            assert (workspace.root / package / name).is_file(), f"{label} → {dep}"


def test_a_hand_written_test_beside_a_policy_survives_and_embeds_it(
    evaluated: tuple[Workspace, ModuleFile, Manifest],
) -> None:
    workspace, _, _ = evaluated
    test = workspace.targets["//policies/jwt-validation/v1.0.0:v1_0_0_test"]
    assert test.kind == "go_test" and test.attrs["embed"] == [":v1_0_0"]
    assert workspace.targets["//policies/jwt-validation/v1.0.0:v1_0_0"].kind == "go_library"


def test_generator_runs_as_a_py_binary(
    evaluated: tuple[Workspace, ModuleFile, Manifest],
) -> None:
    workspace, _, _ = evaluated
    binary = workspace.targets["//tools/gen:policy-builder"]
    assert binary.kind == "py_binary"
    alias = workspace.targets["//tools/gen:policy_builder"]
    assert alias.kind == "alias" and alias.attrs["actual"] == ":policy-builder"
    library = workspace.targets["//tools/gen:policy_builder_lib"]
    assert "policy_builder/bazel/outputs.py" in library.attrs["srcs"]


def test_generator_library_carries_its_package_data(
    evaluated: tuple[Workspace, ModuleFile, Manifest],
) -> None:
    """Files the package reads as resources (the policy.yaml schema) must be runfiles of
    the library, or `bazel run //tools/gen:policy_builder` fails to validate."""
    workspace, _, _ = evaluated
    package = workspace.root / "tools" / "gen"
    resources = {
        p.relative_to(package).as_posix()
        for p in (package / "policy_builder").rglob("*")
        if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts
    }
    library = workspace.targets["//tools/gen:policy_builder_lib"]
    assert resources, "the package ships no data files: the test would prove nothing"
    assert resources <= set(library.attrs.get("data", []))


# The stand-ins must be able to say no, or the checks above prove nothing.


GO_RULES = "@rules_go//go/private/rules:"


def test_stand_in_rejects_unknown_attribute() -> None:
    go_library = facts().rules[GO_RULES + "library.bzl%go_library"]
    with pytest.raises(
        EvalError,
        match=r"no attribute 'importpth' \(bazel-contrib/rules_go@v0\.62\.0:go/private/rules/library\.bzl:\d+\)",
    ):
        Checker(facts()).check_rule(go_library, {"name": "x", "importpth": "a"}, "//x")


def test_stand_in_rejects_wrong_type_missing_mandatory_and_bad_value() -> None:
    checker = Checker(facts())
    go_binary = facts().rules[GO_RULES + "binary.bzl%go_binary"]
    with pytest.raises(EvalError, match="must be string_list"):
        checker.check_rule(go_binary, {"name": "x", "gc_linkopts": "-s"}, "//x")
    with pytest.raises(EvalError, match="not in"):
        checker.check_rule(go_binary, {"name": "x", "linkmode": "static"}, "//x")
    transition = facts().rules["@bazel_lib//lib:transitions.bzl%platform_transition_filegroup"]
    with pytest.raises(
        EvalError,
        match=r"needs 'target_platform' \(bazel-contrib/bazel-lib@v3\.7\.1:lib/transitions\.bzl:\d+\)",
    ):
        checker.check_rule(transition, {"name": "x", "srcs": []}, "//x")


def test_build_dialect_refuses_def_and_fstrings(tmp_path: Path) -> None:
    (tmp_path / "MODULE.bazel").write_text("")
    for body in ("def f():\n    pass\n", 'x = f"{1}"\n'):
        (tmp_path / "BUILD.bazel").write_text(body)
        with pytest.raises(EvalError):
            Workspace(tmp_path).load_package("")


def test_a_policy_missing_from_the_registry_is_caught(tmp_path: Path) -> None:
    manifest = make_tree(tmp_path)
    registry = tmp_path / "policies/BUILD.bazel"
    text = registry.read_text()
    registry.write_text(text.replace('        "//policies/rate-limiting/v1.0.0:v1_0_0",\n', ""))
    workspace = Workspace(tmp_path)
    workspace.load_all()
    libs = {label for label, t in workspace.targets.items() if "policy" in t.attrs.get("tags", [])}
    assert len(libs) == len(manifest.policies)
    assert not libs <= reachable(workspace, "//:engine")


def test_the_committed_checkout_forms_the_graph_for_its_own_policies() -> None:
    """The fixture tree above proves the generator; this proves what is committed (kept
    current by `make check-generated`) links every policy in policies/ into the image."""
    workspace = Workspace(REPO_ROOT)
    workspace.load_module_file()
    workspace.load_all()
    found = discover(REPO_ROOT / "policies").candidates
    policy_libs = {
        label for label, t in workspace.targets.items() if "policy" in t.attrs.get("tags", [])
    }
    assert {label[2:].partition(":")[0] for label in policy_libs} == {
        (Path("policies") / c.path.relative_to(REPO_ROOT / "policies")).as_posix() for c in found
    }
    assert policy_libs <= reachable(workspace, "//:engine")
    keys = ", ".join(sorted(f"{c.name}:{c.version}" for c in found))
    labels = workspace.targets[canonical(workspace.targets["//:engine_image_linux_amd64"]
                                         .attrs["labels"], "")]  # fmt: skip
    assert f"policy-engine.loaded-policies={keys}" in labels.attrs["template"]
