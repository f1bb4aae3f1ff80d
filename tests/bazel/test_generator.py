"""The Bazel generators: deterministic, buildifier-clean, and merging instead of
overwriting (hand edits and `# keep` survive, like Gazelle)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import fixtures
import pytest
from policy_builder.bazel import (
    BazelGenError,
    StarlarkEditError,
    UnresolvedImportError,
    bazel_outputs,
    edit_module_bazel,
    merge_build_file,
    read_engine_module,
)
from policy_builder.bazel.goimports import go_imports
from policy_builder.bazel.naming import library_name, repo_name
from policy_builder.bazel.rules import go_library_rule
from policy_builder.bazel.starlark import string_literal
from policy_builder.manifest import Manifest
from tooling import REPO_ROOT, buildifier_check, buildifier_format

STARLARK_SUFFIXES = ("BUILD.bazel", ".bzl", "MODULE.bazel")


def generate(tmp_path: Path, existing: dict[str, str] | None = None) -> dict[str, str]:
    files = {"MODULE.bazel": (REPO_ROOT / "MODULE.bazel").read_text()}
    files.update(existing or {})
    manifest = fixtures.manifest(tmp_path / "policies")
    return bazel_outputs(
        manifest,
        engine=fixtures.engine_module(),
        registry_go=fixtures.registry_go(manifest),
        build_info_go=fixtures.BUILD_INFO_GO,
        read_existing=lambda path: files.get(path, ""),
    )


def test_same_input_gives_same_output_and_a_second_run_changes_nothing(
    tmp_path: Path,
) -> None:
    first = generate(tmp_path)
    assert generate(tmp_path) == first
    assert generate(tmp_path, first) == first


def test_starlark_outputs_are_buildifier_clean(tmp_path: Path) -> None:
    out = generate(tmp_path)
    paths = []
    for rel, content in out.items():
        if rel.endswith(STARLARK_SUFFIXES):
            path = tmp_path / "tree" / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
            paths.append(path)
            assert buildifier_format(content, rel) == content, rel
    assert len(paths) >= 8
    result = buildifier_check(paths)
    assert result.returncode == 0, result.stdout + result.stderr


def test_policy_library_resolves_sdk_and_third_party_by_go_deps_names(
    tmp_path: Path,
) -> None:
    build = generate(tmp_path)["policies/jwt-validation/v1.0.0/BUILD.bazel"]
    assert (
        'importpath = "github.com/policy-engine-builder/policies/jwt-validation/v1.0.0"'
        in build
    )
    assert '"//engine/worker/policies",' in build
    assert '"@com_github_golang_jwt_jwt_v5//:jwt",' in build
    assert "fmt" not in build.split("deps")[1]


def test_module_bazel_lists_exactly_the_repos_used(tmp_path: Path) -> None:
    module = generate(tmp_path)["MODULE.bazel"]
    block = module[module.index("use_repo(\n    go_deps") :]
    block = block[: block.index(")")]
    assert [line.strip(' ",') for line in block.splitlines()[2:]] == [
        "com_github_golang_jwt_jwt_v5",
        "in_gopkg_yaml_v3",
        "org_golang_google_grpc",
        "org_golang_x_time",
    ]


def test_go_work_uses_engine_and_every_policy_sorted(tmp_path: Path) -> None:
    assert generate(tmp_path)["go.work"].endswith(
        "go 1.26.0\n\nuse (\n\t./engine\n"
        "\t./policies/jwt-validation/v1.0.0\n\t./policies/rate-limiting/v1.0.0\n)\n"
    )


@pytest.mark.parametrize("policies_dir", ["", "/abs/policies", "../outside", "a//b"])
def test_policies_outside_the_workspace_are_refused(
    tmp_path: Path, policies_dir: str
) -> None:
    manifest = fixtures.manifest(tmp_path)
    with pytest.raises(BazelGenError, match="sub-directory"):
        bazel_outputs(
            manifest,
            engine=fixtures.engine_module(),
            registry_go="package main\n",
            build_info_go="package main\n",
            read_existing=lambda path: MODULE if path == "MODULE.bazel" else "",
            policies_dir=policies_dir,
        )


def test_longest_require_wins(tmp_path: Path) -> None:
    manifest = fixtures.manifest(tmp_path)
    entry = manifest.policies[0]
    assert entry.go_mod is not None and entry.go_package is not None
    entry = replace(
        entry,
        go_mod=replace(
            entry.go_mod,
            requires=(
                ("github.com/golang-jwt", "v1.0.0"),
                ("github.com/golang-jwt/jwt/v5", "v5"),
            ),
        ),
        go_package=replace(
            entry.go_package, imports=("github.com/golang-jwt/jwt/v5/request",)
        ),
    )
    out = bazel_outputs(
        replace(manifest, policies=(entry,)),
        engine=fixtures.engine_module(),
        registry_go="package main\n",
        build_info_go="package main\n",
        read_existing=lambda path: MODULE if path == "MODULE.bazel" else "",
    )
    assert (
        '"@com_github_golang_jwt_jwt_v5//request"'
        in out["policies/jwt-validation/v1.0.0/BUILD.bazel"]
    )


def test_an_import_no_module_provides_is_an_error(tmp_path: Path) -> None:
    manifest = fixtures.manifest(tmp_path)
    entry = manifest.policies[1]
    assert entry.go_package is not None
    entry = replace(
        entry, go_package=replace(entry.go_package, imports=("example.com/missing",))
    )
    with pytest.raises(UnresolvedImportError, match="example.com/missing"):
        bazel_outputs(
            replace(manifest, policies=(entry,)),
            engine=fixtures.engine_module(),
            registry_go="package main\n",
            build_info_go="package main\n",
            read_existing=lambda path: MODULE if path == "MODULE.bazel" else "",
        )


HAND_EDITED = """\
# My own header comment.

load("//rules:policy_library.bzl", "policy_library")
load("@rules_go//go:def.bzl", "go_test")

# Why this library is special.
policy_library(
    name = "v1_0_0",
    srcs = ["old.go"],
    gc_goopts = ["-N"],  # debugging
    importpath = "example.com/old",
    visibility = ["//visibility:private"],
    deps = [
        "//engine/worker/policies",
        "@com_github_extra//:extra",  # keep
        "@com_github_stale//:stale",
    ],
)

go_test(
    name = "v1_0_0_test",
    srcs = ["jwt_test.go"],
    embed = [":v1_0_0"],
)
"""


def test_hand_edits_outside_generated_attributes_survive(tmp_path: Path) -> None:
    path = "policies/jwt-validation/v1.0.0/BUILD.bazel"
    merged = generate(tmp_path, {path: HAND_EDITED})[path]
    assert merged.startswith("# My own header comment.\n")
    assert "# Why this library is special.\npolicy_library(" in merged
    assert 'gc_goopts = ["-N"],  # debugging' in merged
    assert 'visibility = ["//visibility:private"]' in merged
    assert 'name = "v1_0_0_test"' in merged
    assert '"claims.go",\n        "jwt.go",' in merged
    assert "old.go" not in merged and "stale" not in merged
    assert '"@com_github_extra//:extra",  # keep' in merged
    assert '"@com_github_golang_jwt_jwt_v5//:jwt",' in merged
    assert generate(tmp_path, {path: merged})[path] == merged


def test_keep_on_attribute_and_rule_is_a_veto() -> None:
    rule = go_library_rule(
        kind="go_library",
        load="@rules_go//go:def.bzl",
        name="lib",
        srcs=["new.go"],
        importpath="example.com/lib",
        deps=["//new"],
    )
    attr_kept = merge_build_file(
        'load("@rules_go//go:def.bzl", "go_library")\n\n'
        'go_library(\n    name = "lib",\n    srcs = ["old.go"],  # keep\n'
        '    importpath = "example.com/lib",\n)\n',
        [rule],
    )
    assert 'srcs = ["old.go"],  # keep' in attr_kept
    assert '"//new"' in attr_kept
    rule_kept = (
        'load("@rules_go//go:def.bzl", "go_library")\n\n'
        'go_library(  # keep\n    name = "lib",\n    srcs = ["old.go"],\n)\n'
    )
    assert merge_build_file(rule_kept, [rule]) == rule_kept


def test_a_library_renamed_by_a_new_module_path_leaves_no_stale_rule() -> None:
    rule = go_library_rule(
        kind="policy_library",
        load="//rules:policy_library.bzl",
        name="v2_0_0",
        srcs=["a.go"],
        importpath="example.com/p/v2.0.0",
        deps=[],
    )
    existing = (
        'load("//rules:policy_library.bzl", "policy_library")\n\n'
        "# Old name.\n"
        'policy_library(\n    name = "v1_0_0",\n    srcs = ["a.go"],\n'
        '    importpath = "example.com/p/v1.0.0",\n)\n\n'
        'policy_library(\n    name = "mine",\n    srcs = ["other.go"],\n'
        '    importpath = "example.com/mine",\n)\n'
    )
    merged = merge_build_file(existing, [rule])
    assert "v1_0_0" not in merged and "Old name" not in merged
    assert 'name = "mine"' in merged and 'name = "v2_0_0"' in merged
    assert buildifier_format(merged, "p/BUILD.bazel") == merged


def test_comment_lines_inside_a_rule_stay_with_their_attribute() -> None:
    rule = go_library_rule(
        kind="go_library",
        load="@rules_go//go:def.bzl",
        name="lib",
        srcs=["a.go"],
        importpath="example.com/lib",
        deps=["//dep"],
    )
    existing = (
        'load("@rules_go//go:def.bzl", "go_library")\n\n'
        'go_library(\n    name = "lib",\n    # Sources.\n    srcs = ["old.go"],\n'
        '    importpath = "example.com/lib",\n    # Tuned for size.\n'
        '    gc_goopts = ["-l"],\n    # Trailing note.\n)\n'
    )
    merged = merge_build_file(existing, [rule])
    assert '    # Sources.\n    srcs = ["a.go"],\n' in merged
    assert '    # Tuned for size.\n    gc_goopts = ["-l"],\n' in merged
    assert "    # Trailing note.\n)" in merged
    assert buildifier_format(merged, "p/BUILD.bazel") == merged


def test_missing_load_is_added_and_new_rule_appended() -> None:
    rule = go_library_rule(
        kind="go_library",
        load="@rules_go//go:def.bzl",
        name="lib",
        srcs=["a.go"],
        importpath="example.com/lib",
        deps=[],
    )
    merged = merge_build_file('# Hand-written.\n\nexports_files(["a.txt"])\n', [rule])
    assert merged == (
        '# Hand-written.\n\nload("@rules_go//go:def.bzl", "go_library")\n\n'
        'exports_files(["a.txt"])\n\n'
        'go_library(\n    name = "lib",\n    srcs = ["a.go"],\n'
        '    importpath = "example.com/lib",\n)\n'
    )
    assert buildifier_format(merged, "x/BUILD.bazel") == merged


MODULE = """\
module(name = "m")

# The Go deps.
go_deps = use_extension("@gazelle//:extensions.bzl", "go_deps")
go_deps.from_file(go_work = "//:go.work")
use_repo(
    go_deps,
    # Used by a hand-written BUILD file.
    "com_github_mine",  # keep
    "org_golang_x_old",
    my_alias = "org_golang_x_net",
)

bazel_dep(name = "rules_go", version = "0.62.0")  # after, on purpose
"""


def test_use_repo_sync_keeps_comments_order_keep_and_aliases() -> None:
    edited = edit_module_bazel(MODULE, ["org_golang_x_time", "com_github_a"])
    assert edited == MODULE.replace(
        '    # Used by a hand-written BUILD file.\n    "com_github_mine",  # keep\n'
        '    "org_golang_x_old",\n',
        '    "com_github_a",\n    # Used by a hand-written BUILD file.\n'
        '    "com_github_mine",  # keep\n    "org_golang_x_time",\n',
    )
    assert edit_module_bazel(edited, ["org_golang_x_time", "com_github_a"]) == edited
    assert buildifier_format(edited, "MODULE.bazel") == edited


def test_use_repo_is_added_after_the_extension_when_missing() -> None:
    module = (
        'go_deps = use_extension("@gazelle//:extensions.bzl", "go_deps")\n\nx = 1\n'
    )
    assert edit_module_bazel(module, ["b", "a"]) == (
        'go_deps = use_extension("@gazelle//:extensions.bzl", "go_deps")\n'
        'use_repo(\n    go_deps,\n    "a",\n    "b",\n)\n\nx = 1\n'
    )


def test_module_without_go_deps_extension_is_refused() -> None:
    with pytest.raises(StarlarkEditError, match="go_deps"):
        edit_module_bazel('module(name = "m")\n', ["a"])


@pytest.mark.parametrize(
    ("module", "repo"),
    [
        ("github.com/golang-jwt/jwt/v5", "com_github_golang_jwt_jwt_v5"),
        ("google.golang.org/grpc", "org_golang_google_grpc"),
        ("gopkg.in/yaml.v3", "in_gopkg_yaml_v3"),
        ("github.com/Foo--Bar/baz", "com_github_foo_bar_baz"),
    ],
)
def test_repo_names_follow_go_deps(module: str, repo: str) -> None:
    assert repo_name(module) == repo


def test_library_names_follow_gazelle_import_convention() -> None:
    assert library_name("github.com/golang-jwt/jwt/v5", "jwt") == "jwt"
    assert library_name("gopkg.in/yaml.v3", "yaml") == "yaml_v3"
    assert library_name("example.com/p/v1.0.0", "p") == "v1_0_0"
    assert library_name("example.com/engine", "main") == "engine_lib"


def test_go_imports_reads_single_grouped_and_aliased_imports() -> None:
    source = (
        '// header\npackage main\n\nimport "fmt"\nimport (\n\t// comment\n'
        '\tcore "a.com/core"\n\t_ "b.com/x" // side effects\n\t. "c.com/dot"\n)\n\n'
        'var s = "import \\"not/this\\""\n'
    )
    assert go_imports(source) == ("a.com/core", "b.com/x", "c.com/dot", "fmt")


def test_starlark_strings_escape_quotes_backslashes_and_newlines() -> None:
    assert string_literal('a"b\\c\nd') == '"a\\"b\\\\c\\nd"'
    with pytest.raises(ValueError, match="control character"):
        string_literal("a\x00b")


def test_committed_engine_build_files_are_up_to_date() -> None:
    """The CI guard for the engine's BUILD files (what `generate --check` does for all)."""
    engine = read_engine_module(REPO_ROOT)
    out = bazel_outputs(
        Manifest(policies_dir=REPO_ROOT / "policies"),
        engine=engine,
        registry_go="package main\n",
        build_info_go="package main\n",
        read_existing=lambda rel: (
            (REPO_ROOT / rel).read_text() if (REPO_ROOT / rel).is_file() else ""
        ),
    )
    stale = [
        rel
        for rel, content in out.items()
        if rel.startswith(engine.dir + "/")
        and rel.endswith("BUILD.bazel")
        and (
            not (REPO_ROOT / rel).is_file() or (REPO_ROOT / rel).read_text() != content
        )
    ]
    assert not stale, f"regenerate: {stale}"
