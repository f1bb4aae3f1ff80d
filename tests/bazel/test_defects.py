"""Each class of defect that real Bazel found while the old hand-typed tables passed, put
back on a copy of the tree: the check built from the facts file must fail and name the file,
line or field. The committed checkout passes the same checks."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
from bazel_facts.checks import check_bazel_version, check_current, check_published, check_selection
from bazel_facts.errors import FactsError
from bazel_facts.model import Dep, Facts
from bazel_facts.project import read_project
from evaluator import EvalError, Workspace, facts
from gomodules import check_proto_rules, check_shipped_build_files, compiled_packages, go_modules
from tooling import REPO_ROOT
from tree import copy_checkout

BCR = r"bazelbuild/bazel-central-registry@[0-9a-f]{40}"


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{path} no longer has {old!r}: update this test"
    path.write_text(text.replace(old, new))


def _module_only(tmp_path: Path) -> Path:
    for name in ("MODULE.bazel", ".bazelversion"):
        shutil.copy2(REPO_ROOT / name, tmp_path / name)
    return tmp_path


def _pin_line(root: Path, module: str) -> int:
    return int(read_project(root).pins[module].provenance.rpartition(":")[2])


def _repin(root: Path, module: str, version: str) -> None:
    current = read_project(root).pins[module].version
    _edit(root / "MODULE.bazel", f'name = "{module}", version = "{current}"',
          f'name = "{module}", version = "{version}"')  # fmt: skip


def _drop_override(root: Path, path: str) -> None:
    text = (root / "MODULE.bazel").read_text()
    block = re.compile(r"go_deps\.gazelle_override\((?:(?!\n\)).)*?path = \"" + re.escape(path)
                       + r"\",(?:(?!\n\)).)*?\n\)\n", re.DOTALL)  # fmt: skip
    assert block.search(text), f"MODULE.bazel has no gazelle_override for {path}: update this test"
    (root / "MODULE.bazel").write_text(block.sub("", text))


# --- the committed checkout ----------------------------------------------------------------


def test_the_committed_pins_are_published_selected_compatible_and_described() -> None:
    project = read_project(REPO_ROOT)
    check_current(facts(), project.pins)
    check_published(facts(), project.pins)
    selection = check_selection(facts(), project.pins)
    check_bazel_version(facts(), selection, project.bazel_version)


def test_the_committed_checkout_keeps_go_deps_and_outputs_sound() -> None:
    workspace = Workspace(REPO_ROOT)
    module = workspace.load_module_file()
    workspace.load_all()
    modules = go_modules(REPO_ROOT)
    check_shipped_build_files(workspace, module, modules)
    check_proto_rules(workspace, module, modules, compiled_packages(REPO_ROOT, modules))
    workspace.check_output_paths()
    print("preconditions not evaluated:", workspace.checker.skipped or "none")


# --- registry and resolution -----------------------------------------------------------------


# Each row: a pin set to a version the facts reject, the check that must reject it, and the
# message after "MODULE.bazel:<line of the pin>: ".
_BAD_PINS = [
    pytest.param("bazel_skylib", "1.9.1", check_published,
                 rf"bazel_skylib 1\.9\.1 is not published; .*"
                 rf"\({BCR}:modules/bazel_skylib/metadata\.json:\d+\)$", id="unpublished-skylib"),
    pytest.param("rules_oci", "2.3.2", check_published,
                 rf"rules_oci 2\.3\.2 is not published; .*"
                 rf"\({BCR}:modules/rules_oci/metadata\.json:\d+\)$", id="unpublished-rules_oci"),
    pytest.param("gazelle", "0.28.0", check_published,
                 rf"gazelle 0\.28\.0 is yanked: Obsolete .*"
                 rf"\({BCR}:modules/gazelle/metadata\.json:\d+\)$", id="yanked"),
    pytest.param("platforms", "1.0.0", check_selection,
                 r"platforms is pinned at 1\.0\.0, but minimal version selection picks 1\.1\.0 "
                 rf"\(asked for by {BCR}:modules/.+/MODULE\.bazel:\d+", id="raised-by-selection"),
    pytest.param("rules_go", "0.61.0", check_current,
                 r"rules_go is pinned at 0\.61\.0, but tests/bazel/facts\.json was made for "
                 r"0\.62\.0; refresh it: make bazel-facts ", id="facts-not-refreshed"),
]  # fmt: skip


@pytest.mark.parametrize(("module", "version", "check", "message"), _BAD_PINS)
def test_a_bad_pin_fails_naming_its_line(
    tmp_path: Path,
    module: str,
    version: str,
    check: Callable[[Facts, Mapping[str, Dep]], object],
    message: str,
) -> None:
    root = _module_only(tmp_path)
    _repin(root, module, version)
    line = _pin_line(root, module)
    with pytest.raises(FactsError, match=rf"^MODULE\.bazel:{line}: " + message):
        check(facts(), read_project(root).pins)


def test_a_bazel_version_below_a_selected_module_compatibility_fails(tmp_path: Path) -> None:
    root = _module_only(tmp_path)
    (root / ".bazelversion").write_text("7.2.0\n")
    project = read_project(root)
    selection = check_selection(facts(), project.pins)
    with pytest.raises(FactsError, match=(
        r"^\.bazelversion:1: Bazel 7\.2\.0 does not meet gawk 5\.3\.2\.bcr\.3's "
        rf"bazel_compatibility >=7\.2\.1 \({BCR}:modules/gawk/5\.3\.2\.bcr\.3/MODULE\.bazel:\d+\)$"
    )):  # fmt: skip
        check_bazel_version(facts(), selection, project.bazel_version)


# --- loading and analysis ----------------------------------------------------------------------

TAR_LOAD = 'load("@tar.bzl//tar:tar.bzl", "tar")'


BASE_ATTR = '            base = "%s_%s" % (base, platform),\n'

# Each row: an edit of rules/engine_image.bzl (old text, new text) and the error loading
# the workspace must then raise.
_BAD_IMAGE_RULES = [
    pytest.param(
        TAR_LOAD, 'load("@tar.bzl//tar:tar.bzl", "mutate", "tar")',
        r"rules/engine_image\.bzl:\d+: load\('@tar\.bzl//tar:tar\.bzl', 'mutate'\): the file does "
        r"not export 'mutate'; its exports, read from bazel-contrib/tar\.bzl@v0\.10\.5:tar/tar\.bzl: "
        r"tar, tar_lib, tar_rule",
        id="a load of a symbol the file does not export",
    ),
    pytest.param(
        TAR_LOAD, TAR_LOAD + '\nload("@tar.bzl//tar:mtree.bzl", "mutate")',
        r"rules/engine_image\.bzl:\d+: load\('@tar\.bzl//tar:mtree\.bzl'\): no facts for this file",
        id="a load of a file without facts",
    ),
    pytest.param(
        BASE_ATTR, BASE_ATTR + '            os = "linux",\n            architecture = arch,\n',
        r"//:engine_image_linux_amd64: oci_image fails: \"'os', 'architecture' and 'variant' come "
        r"from the image provided by 'base' and cannot be overridden\.\" because ctx\.attr\.base "
        r"and .* \(bazel-contrib/rules_oci@v2\.3\.0:oci/private/image\.bzl:\d+\)",
        id="os and architecture beside base fail the oci_image precondition",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("old", "new", "error"), _BAD_IMAGE_RULES)
def test_a_bad_edit_of_the_image_rules_fails_loading(
    tmp_path: Path, old: str, new: str, error: str
) -> None:
    copy_checkout(tmp_path)
    _edit(tmp_path / "rules/engine_image.bzl", old, new)
    with pytest.raises(EvalError, match=error):
        Workspace(tmp_path).load_all()


def test_a_binary_named_like_its_sources_folder_fails(tmp_path: Path) -> None:
    copy_checkout(tmp_path)
    build = tmp_path / "tools/gen/BUILD.bazel"
    _edit(build, 'name = "policy-builder",', 'name = "policy_builder",')
    text = build.read_text()
    build.write_text(text[: text.index("# The name earlier docs gave")])
    workspace = Workspace(tmp_path)
    workspace.load_all()
    with pytest.raises(EvalError, match=(
        r"^tools/gen/BUILD\.bazel:\d+: //tools/gen:policy_builder \(py_binary\) name: its output "
        r"tools/gen/policy_builder is the directory of its package's sources"
    )):  # fmt: skip
        workspace.check_output_paths()


# --- go_deps and the Go modules --------------------------------------------------------------


def test_a_go_module_whose_shipped_build_files_lack_our_names_fails(tmp_path: Path) -> None:
    copy_checkout(tmp_path)
    _drop_override(tmp_path, "cel.dev/cel-go")
    workspace = Workspace(tmp_path)
    module = workspace.load_module_file()
    workspace.load_all()
    with pytest.raises(EvalError, match=(
        r"^//engine/pkg/cel:cel \(deps\): @dev_cel_cel_go//cel: cel\.dev/cel-go@v[\d.]+ ships "
        r"cel/BUILD\.bazel, which defines no target 'cel' .* here it is 'auto' "
        r"\(bazel-contrib/bazel-gazelle@v0\.53\.0:internal/bzlmod/go_deps\.bzl:\d+\)"
    )):  # fmt: skip
        check_shipped_build_files(workspace, module, go_modules(tmp_path))


def test_a_compiled_package_beside_proto_files_without_proto_disable_fails(tmp_path: Path) -> None:
    copy_checkout(tmp_path)
    _drop_override(tmp_path, "github.com/envoyproxy/protoc-gen-validate")
    workspace = Workspace(tmp_path)
    module = workspace.load_module_file()
    workspace.load_all()
    modules = go_modules(tmp_path)
    with pytest.raises(EvalError, match=(
        r"^github\.com/envoyproxy/protoc-gen-validate/validate \(github\.com/envoyproxy/"
        r"protoc-gen-validate@v[\d.]+\), which the engine compiles, sits beside validate\.proto, "
        r"and the module's directives \['gazelle:build_file_name BUILD\.bazel'\] "
        r"\(bazel-contrib/bazel-gazelle@v0\.53\.0:internal/bzlmod/default_gazelle_overrides\.bzl:\d+\) "
        r"lack 'gazelle:proto disable'"
    )):  # fmt: skip
        check_proto_rules(workspace, module, modules, compiled_packages(tmp_path, modules))
