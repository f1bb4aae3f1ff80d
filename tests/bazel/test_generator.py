"""The Bazel generators: deterministic, buildifier-clean, and merging instead of
overwriting (hand edits and `# keep` survive, like Gazelle)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import fixtures
import pytest
import starlark
from policy_builder.bazel import (
    BazelGenError,
    EngineModule,
    GoPackage,
    MissingGoSumError,
    StarlarkEditError,
    UnresolvedImportError,
    bazel_outputs,
    merge_build_file,
    parse_go_list,
    read_engine_module,
)
from policy_builder.bazel.goimports import go_imports
from policy_builder.bazel.gowork import go_work
from policy_builder.bazel.module_edit import edit_module_bazel
from policy_builder.bazel.naming import library_name, repo_name
from policy_builder.bazel.rules import Rule, go_library_rule
from policy_builder.escape import starlark_string
from policy_builder.manifest import Manifest
from tooling import REPO_ROOT, buildifier_check, buildifier_format

STARLARK_SUFFIXES = ("BUILD.bazel", ".bzl", "MODULE.bazel")


def _generated(manifest: Manifest, engine: EngineModule, files: dict[str, str]) -> dict[str, str]:
    """The Bazel files of manifest and engine over files (path -> text)."""
    return bazel_outputs(
        manifest,
        engine=engine,
        registry_go=fixtures.registry_go(manifest),
        build_info_go=fixtures.BUILD_INFO_GO,
        read_existing=lambda path: files.get(path, ""),
        file_exists=lambda path: True,
    )


def generate(tmp_path: Path, existing: dict[str, str] | None = None) -> dict[str, str]:
    files = {"MODULE.bazel": (REPO_ROOT / "MODULE.bazel").read_text(), **(existing or {})}
    return _generated(fixtures.manifest(tmp_path / "policies"), fixtures.engine_module(), files)


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


def test_go_work_is_valid_for_go_itself(tmp_path: Path) -> None:
    path = tmp_path / "go.work"
    path.write_text(generate(tmp_path)["go.work"])
    result = subprocess.run(
        ["go", "work", "edit", "-json", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    parsed = json.loads(result.stdout)
    assert [use["DiskPath"] for use in parsed["Use"]] == [
        "./engine",
        "./policies/jwt-validation/v1.0.0",
        "./policies/rate-limiting/v1.0.0",
    ]
    assert parsed["Replace"][0]["New"]["Path"] == "./engine"


def test_go_work_quotes_what_go_would_misread(tmp_path: Path) -> None:
    odd = ["clash policy/v1.0.0", 'q"uote/v1', "a//b"]
    manifest = fixtures.manifest(tmp_path / "policies")
    entries = tuple(
        replace(fixtures.manifest(tmp_path).policies[0], rel_path=rel, module_path=f"x.com/{i}")
        for i, rel in enumerate(odd)
    )
    text = go_work(
        replace(manifest, policies=entries),
        engine_module=fixtures.ENGINE,
        engine_go="1.24",
        engine_dir="engine",
        policies_dir="policies",
    )
    assert "\t./engine\n" in text and '\t"./policies/clash policy/v1.0.0"\n' in text
    path = tmp_path / "go.work"
    path.write_text(text)
    result = subprocess.run(
        ["go", "work", "edit", "-json", str(path)], capture_output=True, text=True, check=True
    )
    uses = [use["DiskPath"] for use in json.loads(result.stdout)["Use"]]
    assert uses == ["./engine", *(f"./policies/{d}" for d in sorted(odd))]


def _outputs(
    manifest: Manifest,
    file_exists: Callable[[str], bool] = lambda path: True,
    policies_dir: str = "policies",
) -> dict[str, str]:
    """The Bazel files of manifest over MODULE, with placeholder Go sources for the registry
    package (what these tests check does not depend on them)."""
    return bazel_outputs(
        manifest,
        engine=fixtures.engine_module(),
        registry_go="package main\n",
        build_info_go="package main\n",
        read_existing=lambda path: MODULE if path == "MODULE.bazel" else "",
        file_exists=file_exists,
        policies_dir=policies_dir,
    )


@pytest.mark.parametrize("policies_dir", ["", ".", "/abs/policies", "../outside", "a//b", "a/./b"])
def test_policies_outside_the_workspace_are_refused(tmp_path: Path, policies_dir: str) -> None:
    manifest = fixtures.manifest(tmp_path)
    with pytest.raises(BazelGenError, match="sub-directory"):
        _outputs(manifest, policies_dir=policies_dir)


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
        go_package=replace(entry.go_package, imports=("github.com/golang-jwt/jwt/v5/request",)),
    )
    out = _outputs(replace(manifest, policies=(entry,)))
    assert (
        '"@com_github_golang_jwt_jwt_v5//request"'
        in out["policies/jwt-validation/v1.0.0/BUILD.bazel"]
    )


def _tested(tmp_path: Path, existing: dict[str, str] | None = None) -> dict[str, str]:
    """The Bazel files of the fixtures with tests (fixtures.tested_manifest)."""
    return _generated(
        fixtures.tested_manifest(tmp_path / "policies"),
        fixtures.tested_engine_module(),
        {"MODULE.bazel": MODULE, **(existing or {})},
    )


def test_a_hand_written_data_attribute_of_a_go_test_is_kept(tmp_path: Path) -> None:
    """`data` is written when the go_test is created; the user's own is never replaced."""
    rel = "engine/worker/core/BUILD.bazel"
    first = _tested(tmp_path)[rel]
    edited = first.replace(
        'data = glob(["testdata/**"]),', 'data = glob(["testdata/**"]) + ["//x:y.yaml"],'
    )
    assert edited != first
    assert _tested(tmp_path, {rel: edited})[rel] == edited


def test_a_module_with_requires_and_no_go_sum_is_an_error(tmp_path: Path) -> None:
    """go_deps.from_file(go_work) reads the go.sum of every module with a `require`
    (gazelle internal/bzlmod/go_mod.bzl, sums_from_go_mod); a missing one stops Bazel."""
    manifest = fixtures.manifest(tmp_path)
    present = {"policies/rate-limiting/v1.0.0/go.sum"}
    with pytest.raises(MissingGoSumError) as error:
        _outputs(manifest, file_exists=lambda path: path in present)
    assert error.value.go_sums == ["policies/jwt-validation/v1.0.0/go.sum"]
    assert "policies/jwt-validation/v1.0.0/go.sum" in str(error.value)


def test_a_long_list_of_missing_go_sums_is_cut_short() -> None:
    missing = [f"policies/p{i:03d}/v1/go.sum" for i in range(25)]
    message = str(MissingGoSumError(missing))
    assert "policies/p009/v1/go.sum" in message and "policies/p010" not in message
    assert "… and 15 more" in message


def test_an_import_no_module_provides_is_an_error(tmp_path: Path) -> None:
    manifest = fixtures.manifest(tmp_path)
    entry = manifest.policies[1]
    assert entry.go_package is not None
    entry = replace(entry, go_package=replace(entry.go_package, imports=("example.com/missing",)))
    with pytest.raises(UnresolvedImportError, match=r"example\.com/missing"):
        _outputs(replace(manifest, policies=(entry,)))


_LOADS = {"go_library": "@rules_go//go:def.bzl", "policy_library": "//rules:policy_library.bzl"}


def _lib(
    srcs: list[str],
    deps: list[str],
    *,
    kind: str = "go_library",
    name: str = "lib",
    importpath: str = "example.com/lib",
) -> Rule:
    """A go_library (or policy_library) named `lib` with importpath example.com/lib."""
    return go_library_rule(
        kind=kind, load=_LOADS[kind], name=name, srcs=srcs, importpath=importpath, deps=deps
    )


# Each row: the rule the generator wants, the BUILD file as it stands, the merged file.
MERGES = [
    pytest.param(
        _lib(["a.go"], ["//dep"], kind="policy_library"),
        'load("//tools:my_go.bzl", "my_go_library")\n\n'
        'my_go_library(\n    name = "lib",\n    srcs = ["old.go"],\n)\n',
        'load("//tools:my_go.bzl", "my_go_library")\n\n'
        'my_go_library(\n    name = "lib",\n    srcs = ["a.go"],\n'
        '    importpath = "example.com/lib",\n    deps = ["//dep"],\n)\n',
        id="a rule whose kind the user changed is merged, not duplicated",
    ),
    pytest.param(
        _lib(["new.go"], ["//new"]),
        'load("@rules_go//go:def.bzl", "go_library")\n\n'
        'go_library(\n    name = "lib",\n    srcs = ["old.go"],  # keep\n'
        '    importpath = "example.com/lib",\n)\n',
        'load("@rules_go//go:def.bzl", "go_library")\n\n'
        'go_library(\n    name = "lib",\n    srcs = ["old.go"],  # keep\n'
        '    importpath = "example.com/lib",\n    deps = ["//new"],\n)\n',
        id="keep on an attribute is a veto",
    ),
    pytest.param(
        _lib(["a.go"], [], kind="policy_library", name="v2_0_0", importpath="example.com/p/v2.0.0"),
        'load("//rules:policy_library.bzl", "policy_library")\n\n'
        "# Old name.\n"
        'policy_library(\n    name = "v1_0_0",\n    srcs = ["a.go"],\n'
        '    importpath = "example.com/p/v1.0.0",\n)\n\n'
        'policy_library(\n    name = "mine",\n    srcs = ["other.go"],\n'
        '    importpath = "example.com/mine",\n)\n',
        'load("//rules:policy_library.bzl", "policy_library")\n\n'
        'policy_library(\n    name = "mine",\n    srcs = ["other.go"],\n'
        '    importpath = "example.com/mine",\n)\n\n'
        'policy_library(\n    name = "v2_0_0",\n    srcs = ["a.go"],\n'
        '    importpath = "example.com/p/v2.0.0",\n)\n',
        id="a library renamed by a new module path leaves no stale rule",
    ),
    pytest.param(
        _lib(["a.go"], ["//dep"]),
        'load("@rules_go//go:def.bzl", "go_library")\n\n'
        'go_library(\n    name = "lib",\n    # Sources.\n    srcs = ["old.go"],\n'
        '    importpath = "example.com/lib",\n    # Tuned for size.\n'
        '    gc_goopts = ["-l"],\n    # Trailing note.\n)\n',
        'load("@rules_go//go:def.bzl", "go_library")\n\n'
        'go_library(\n    name = "lib",\n    # Sources.\n    srcs = ["a.go"],\n'
        '    # Tuned for size.\n    gc_goopts = ["-l"],\n    importpath = "example.com/lib",\n'
        '    deps = ["//dep"],\n    # Trailing note.\n)\n',
        id="comment lines inside a rule stay with their attribute",
    ),
    pytest.param(
        _lib(["a.go"], []),
        '# Hand-written.\n\nexports_files(["a.txt"])\n',
        '# Hand-written.\n\nload("@rules_go//go:def.bzl", "go_library")\n\n'
        'exports_files(["a.txt"])\n\n'
        'go_library(\n    name = "lib",\n    srcs = ["a.go"],\n'
        '    importpath = "example.com/lib",\n)\n',
        id="a missing load is added and the new rule appended",
    ),
]


@pytest.mark.parametrize(("rule", "existing", "expected"), MERGES)
def test_merge_keeps_what_the_user_wrote(rule: Rule, existing: str, expected: str) -> None:
    merged = merge_build_file(existing, [rule])
    assert merged == expected
    assert buildifier_format(merged, "p/BUILD.bazel") == merged


def test_keep_on_a_rule_is_a_veto() -> None:
    rule_kept = (
        'load("@rules_go//go:def.bzl", "go_library")\n\n'
        'go_library(  # keep\n    name = "lib",\n    srcs = ["old.go"],\n)\n'
    )
    assert merge_build_file(rule_kept, [_lib(["new.go"], ["//new"])]) == rule_kept


def test_a_new_load_goes_where_buildifier_sorts_it() -> None:
    rule = _lib(["a.go"], [], kind="policy_library")
    existing = (
        'load("@rules_go//go:def.bzl", "go_test")\nload("//tools:z.bzl", "z")\n\n'
        'go_test(\n    name = "t",\n    srcs = ["a_test.go"],\n)\n\nz(name = "z")\n'
    )
    merged = merge_build_file(existing, [rule])
    assert merged.startswith(
        'load("@rules_go//go:def.bzl", "go_test")\n'
        'load("//rules:policy_library.bzl", "policy_library")\n'
        'load("//tools:z.bzl", "z")\n'
    )
    assert buildifier_format(merged, "p/BUILD.bazel") == merged


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
    module = 'go_deps = use_extension("@gazelle//:extensions.bzl", "go_deps")\n\nx = 1\n'
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


@pytest.mark.parametrize(
    "value",
    ['a"b\\c\nd', "tab\there\r", "nul\x00del\x7f", "ünïcode ✓", "{STABLE_GIT_COMMIT}"],
)
def test_starlark_string_literals_round_trip_through_an_interpreter(value: str) -> None:
    literal = starlark_string(value)
    assert "\n" not in literal and "\t" not in literal
    module = starlark.Module()
    starlark.eval(module, starlark.parse("t.bzl", f"x = {literal}"), starlark.Globals.standard())
    assert module["x"] == value


def test_go_list_output_keeps_test_files_and_test_only_packages(tmp_path: Path) -> None:
    (tmp_path / "e/lib/testdata/empty").mkdir(parents=True)
    (tmp_path / "e/e2e/testdata").mkdir(parents=True)
    (tmp_path / "e/e2e/testdata/case.json").write_text("{}")
    stream = (
        json.dumps({"Dir": str(tmp_path / "e/lib"), "ImportPath": "x/lib", "Name": "lib",
                    "GoFiles": ["b.go", "a.go"], "Imports": ["fmt", "x/dep"],
                    "TestGoFiles": ["a_test.go"], "TestImports": ["testing"],
                    "XTestGoFiles": ["x_test.go"], "XTestImports": ["testing", "x/lib"]})
        + "\n"
        + json.dumps({"Dir": str(tmp_path / "e/e2e"), "ImportPath": "x/e2e", "Name": "e2e",
                      "TestGoFiles": ["e2e_test.go"]})
        + "\n"
        + json.dumps({"Dir": str(tmp_path / "e/tagged"), "ImportPath": "x/tagged",
                      "Name": "tagged", "IgnoredGoFiles": ["only_with_a_tag.go"]})
    )  # fmt: skip
    e2e, lib = parse_go_list(stream, tmp_path)
    # An empty testdata/ gets no glob: Bazel refuses a glob that matches nothing.
    assert lib == GoPackage(
        "e/lib", "x/lib", "lib", ("a.go", "b.go"), ("fmt", "x/dep"),
        test_files=("a_test.go", "x_test.go"), test_imports=("testing", "x/lib"), testdata=False,
    )  # fmt: skip
    assert e2e == GoPackage(
        "e/e2e", "x/e2e", "e2e", (), (), test_files=("e2e_test.go",), testdata=True
    )


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
        file_exists=lambda rel: (REPO_ROOT / rel).is_file(),
    )
    stale = [
        rel
        for rel, content in out.items()
        if rel.startswith(engine.dir + "/")
        and rel.endswith("BUILD.bazel")
        and (not (REPO_ROOT / rel).is_file() or (REPO_ROOT / rel).read_text() != content)
    ]
    assert not stale, f"regenerate: {stale}"


def test_keep_on_the_last_list_element_is_honoured() -> None:
    # libcst puts the comment of a list's last line in the `]`, not after the comma.
    rule = _lib(["lib.go"], ["//a"])
    existing = (
        'load("@rules_go//go:def.bzl", "go_library")\n\ngo_library(\n    name = "lib",\n'
        '    deps = [\n        "//a",\n        "//z:extra",  # keep\n    ],\n)\n'
    )
    merged = merge_build_file(existing, [rule], "")
    assert '        "//z:extra",  # keep\n' in merged
