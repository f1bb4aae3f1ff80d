"""Every bad input of issue #4 gives a precise error, and nothing is written into the
policies directory. One validate run covers all policy-level problems at once (which is
itself the "all problems of all policies" requirement); whole-tree problems run alone."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from policy_builder.errors import EXIT_INVALID
from policy_builder.safe_yaml import MAX_YAML_BYTES

from tests.builder.policytree import (
    ENGINE,
    ENGINE_REQUIRE,
    REQUEST_GO,
    policy_yaml,
    report_errors,
    run_json,
    tree_state,
    write_policy,
)

BAD_SYNTAX_GO = """package policy

import "github.com/policy-engine-builder/policy-engine/worker/policies"

func GetPolicy(metadata policies.PolicyMetadata, params map[string]interface{}) (policies.Policy, error) {
	return nil, nil
"""

BAD_TYPES_GO = REQUEST_GO.format(pkg="policy", engine=ENGINE, name="badTypes").replace(
    "return &policy{}, nil", "return &policy{}, undefinedThing"
)

# An import no module of the workspace provides: Go's words say so, on the import's line.
NO_MODULE_GO = REQUEST_GO.format(pkg="policy", engine=ENGINE, name="noModule").replace(
    f'import "{ENGINE}/worker/policies"',
    f'import (\n\t"{ENGINE}/worker/policies"\n\t_ "example.com/nowhere/pkg"\n)',
)

BAD_FACTORY_GO = REQUEST_GO.format(pkg="policy", engine=ENGINE, name="badFactory").replace(
    "func GetPolicy(metadata policies.PolicyMetadata, params map[string]interface{})",
    "func GetPolicy(params map[string]string)",
)


# GetPolicy hands out an interface value: the type behind it is not visible at the return.
IFACE_RETURN_GO = REQUEST_GO.format(pkg="policy", engine=ENGINE, name="ifaceReturn").replace(
    "return &policy{}, nil", "var p policies.Policy = &policy{}\n\treturn p, nil"
)


@pytest.fixture(scope="module")
def bad_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, Path, int, dict[str, object]]:
    root = tmp_path_factory.mktemp("bad") / "policies"
    out = root.parent / "out"
    w = write_policy
    w(root, "good/v1.0.0", "good", "v1.0.0")
    w(
        root,
        "malformed/v1.0.0",
        "m",
        "v1.0.0",
        yaml_text="name: m\nversion: [v1\nparameters: []\n",
    )
    w(
        root,
        "dupkey/v1.0.0",
        "d",
        "v1.0.0",
        yaml_text="name: a\nname: b\nversion: v1.0.0\n",
    )
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
    )
    w(root, "aliasbomb/v1.0.0", "x", "v1.0.0", yaml_text=bomb)
    d = w(root, "latin1/v1.0.0", "l", "v1.0.0")
    (d / "policy.yaml").write_bytes(b"name: caf\xe9\nversion: v1.0.0\nparameters: []\n")
    d = w(root, "huge/v1.0.0", "h", "v1.0.0")
    (d / "policy.yaml").write_text(policy_yaml("h", "v1.0.0") + "#" * (MAX_YAML_BYTES + 10))
    for rel, name in [
        ("quote/v1.0.0", "'a\"b'"),
        ("backtick/v1.0.0", "'a`b'"),
        ("newline/v1.0.0", '"a\\nb"'),
        ("slash/v1.0.0", "a/b"),
    ]:
        w(root, rel, "x", "v1.0.0", yaml_text=policy_yaml(name, "v1.0.0"))
    w(
        root,
        "slashver/v1.0.0",
        "x",
        "v1.0.0",
        yaml_text=policy_yaml("slashVer", "v1.0.0/../x"),
    )
    w(
        root,
        "replace-outside/v1.0.0",
        "replaceOutside",
        "v1.0.0",
        go_mod=f"module example.com/ro\n\ngo 1.24\n\n{ENGINE_REQUIRE}\n"
        "replace example.com/lib => ../../../outside/lib\n",
    )
    w(root, "no-go/v1.0.0", "noGo", "v1.0.0", go_text="")
    w(root, "bad-syntax/v1.0.0", "badSyntax", "v1.0.0", go_text=BAD_SYNTAX_GO)
    w(root, "bad-types/v1.0.0", "badTypes", "v1.0.0", go_text=BAD_TYPES_GO)
    w(root, "no-module/v1.0.0", "noModule", "v1.0.0", go_text=NO_MODULE_GO)
    w(root, "bad-factory/v1.0.0", "badFactory", "v1.0.0", go_text=BAD_FACTORY_GO)
    w(
        root,
        "no-response/v1.0.0",
        "noResponse",
        "v1.0.0",
        yaml_text=policy_yaml("noResponse", "v1.0.0", "supportsResponsePhase: true\n"),
    )
    w(root, "dup-a/v1.0.0", "dupName", "v1.0.0")
    w(root, "dup-b/v1.0.0", "dupName", "v1.0.0")
    w(
        root,
        "go-too-new/v1.0.0",
        "goTooNew",
        "v1.0.0",
        go_mod=f"module example.com/new\n\ngo 1.99\n\n{ENGINE_REQUIRE}",
    )
    w(
        root,
        "bad-param/v1.0.0",
        "badParam",
        "v1.0.0",
        yaml_text="name: badParam\nversion: v1.0.0\nparameters:\n  - name: a\n    type: strng\n",
    )
    w(
        root,
        "no-params/v1.0.0",
        "noParams",
        "v1.0.0",
        yaml_text="name: noParams\nversion: v1.0.0\n",
    )
    w(root, "mismatch/v2.0.0", "mismatch", "v1.0.0")
    w(root, "iface-return/v1.0.0", "ifaceReturn", "v1.0.0", go_text=IFACE_RETURN_GO)
    w(
        root,
        "iface-return-response/v1.0.0",
        "ifaceReturnResponse",
        "v1.0.0",
        go_text=IFACE_RETURN_GO,
        yaml_text=policy_yaml("ifaceReturnResponse", "v1.0.0", "supportsResponsePhase: true\n"),
    )
    w(
        root,
        "bad-default/v1.0.0",
        "badDefault",
        "v1.0.0",
        yaml_text="name: badDefault\nversion: v1.0.0\nparameters:\n  - name: n\n    type: integer\n"
        "    default: true\n  - name: mode\n    type: string\n    enum: [fast, safe]\n"
        "    default: slow\n  - name: port\n    type: integer\n    maximum: 65535\n"
        "    default: 70000\n  - name: tags\n    type: array\n    items: {type: string}\n"
        "    default: [a, 1]\n  - name: names\n    type: array\n    items: {type: string, minLength: 2}\n"
        "    default: [ok, x]\n",
    )
    d = w(root, "no-gomod/v1.0.0", "noGomod", "v1.0.0")
    (d / "go.mod").unlink()
    w(root, "bad-gomod/v1.0.0", "badGomod", "v1.0.0", go_mod="module example.com/x\n\nrequire (\n")
    newgo = root / "lib" / "newgo"
    newgo.mkdir(parents=True)
    (newgo / "go.mod").write_text("module example.com/newgo\n\ngo 1.99\n")
    (newgo / "newgo.go").write_text("package newgo\n")
    w(
        root,
        "needs-newer-go/v1.0.0",
        "needsNewerGo",
        "v1.0.0",
        go_mod=f"module example.com/nng\n\ngo 1.24\n\n{ENGINE_REQUIRE}"
        "require example.com/newgo v0.0.0\n\nreplace example.com/newgo => ../../lib/newgo\n",
    )
    w(
        root,
        "engine-path/v1.0.0",
        "enginePath",
        "v1.0.0",
        go_mod=f"module {ENGINE}/policies/x\n\ngo 1.24\n",
    )
    before = tree_state(root)
    code = main_validate(root, out)
    assert tree_state(root) == before, "validation wrote into the policies directory"
    return root, out, code, json.loads((out / "build_error.json").read_text())


def main_validate(root: Path, out: Path) -> int:
    from policy_builder.cli import main

    return main(["validate", "--policies", str(root), "--output", str(out), "--quiet"])


def errors(run: tuple[Path, Path, int, dict[str, object]], rel: str) -> list[dict[str, object]]:
    return report_errors(run[1], rel)


def test_exit_code_and_build_error(
    bad_run: tuple[Path, Path, int, dict[str, object]],
) -> None:
    _, out, code, build_error = bad_run
    assert code == EXIT_INVALID
    assert build_error["phase"] == "validation"
    details = build_error["details"]
    assert isinstance(details, dict)
    invalid = {row["path"] for row in details["policies"]}
    assert "good/v1.0.0" not in invalid
    assert "bad-types/v1.0.0" in invalid
    report = json.loads((out / "validation_report.json").read_text())
    assert report["valid"] is False
    for path in ("good/v1.0.0", "iface-return/v1.0.0"):
        row = next(r for r in report["policies"] if r["path"] == path)
        assert row["status"] == "valid", row


@pytest.mark.parametrize(
    ("rel", "code", "line", "message"),
    [
        ("malformed/v1.0.0", "yaml-syntax", 3, "malformed YAML"),
        (
            "dupkey/v1.0.0",
            "yaml-duplicate-key",
            2,
            "duplicate key 'name' (first at line 1)",
        ),
        ("aliasbomb/v1.0.0", "yaml-aliases", 0, "more than 16 YAML aliases"),
        (
            "latin1/v1.0.0",
            "yaml-not-utf8",
            1,
            "not valid UTF-8 (byte 0xe9 at offset 9)",
        ),
        ("huge/v1.0.0", "yaml-too-large", 0, f"the limit is {MAX_YAML_BYTES} bytes"),
        ("quote/v1.0.0", "schema", 1, 'name: "a\\"b" is not allowed'),
        ("backtick/v1.0.0", "schema", 1, 'name: "a`b" is not allowed'),
        ("newline/v1.0.0", "schema", 1, 'name: "a\\nb" is not allowed'),
        ("slash/v1.0.0", "schema", 1, 'name: "a/b" is not allowed'),
        ("slashver/v1.0.0", "schema", 2, 'version: "v1.0.0/../x" is not allowed'),
        ("bad-param/v1.0.0", "schema", 5, "parameters[0].type: 'strng' is not one of"),
        ("no-params/v1.0.0", "schema", 1, "missing required field 'parameters'"),
        (
            "bad-default/v1.0.0",
            "schema-default",
            6,
            "parameters[0].default: true is not a valid integer",
        ),
        (
            "bad-default/v1.0.0",
            "schema-default",
            10,
            "parameters[1].default: \"slow\" breaks its declaration: 'slow' is not one of",
        ),
        (
            "bad-default/v1.0.0",
            "schema-default",
            14,
            "parameters[2].default: 70000 breaks its declaration: 70000 is greater than the maximum",
        ),
        (
            "bad-default/v1.0.0",
            "schema-default",
            18,
            "parameters[3].default: [\"a\", 1] breaks its declaration: 1 is not of type 'string'",
        ),
        (
            "bad-default/v1.0.0",
            "schema-default",
            22,
            'parameters[4].default: ["ok", "x"] breaks its declaration: \'x\' is too short',
        ),
        (
            "replace-outside/v1.0.0",
            "gomod-replace-outside",
            7,
            "points outside the policies",
        ),
        ("no-go/v1.0.0", "no-go-files", 0, "no .go file in the policy directory"),
        ("bad-syntax/v1.0.0", "go-syntax", 6, "expected '}', found 'EOF'"),
        ("bad-types/v1.0.0", "go-type", 8, "undefined: undefinedThing"),
        (
            "no-module/v1.0.0",
            "go-type",
            5,
            "no required module provides package example.com/nowhere/pkg",
        ),
        (
            "bad-factory/v1.0.0",
            "factory-signature",
            7,
            "GetPolicy has type func(params map",
        ),
        (
            "no-response/v1.0.0",
            "interface-missing",
            7,
            "does not implement policies.ResponsePolicy (missing method ExecuteResponse)",
        ),
        (
            "dup-a/v1.0.0",
            "duplicate-policy",
            0,
            "dupName:v1.0.0 is declared both in dup-a/v1.0.0",
        ),
        ("dup-b/v1.0.0", "duplicate-policy", 0, "and in dup-a/v1.0.0"),
        ("engine-path/v1.0.0", "gomod-module-path", 1, "lies inside the engine's module"),
        ("no-gomod/v1.0.0", "gomod-missing", 0, "go.mod is missing"),
        (
            "iface-return-response/v1.0.0",
            "factory-returns-unknown",
            7,
            "no type of package policy implements policies.ResponsePolicy, which policy.yaml's "
            "response phase needs",
        ),
        ("bad-gomod/v1.0.0", "gomod-parse", 4, "unterminated block started at go.mod:3:1"),
        (
            "needs-newer-go/v1.0.0",
            "gomod-graph",
            0,
            "go: example.com/newgo@v0.0.0: module lib/newgo requires go >= 1.99 (running go",
        ),
        (
            "go-too-new/v1.0.0",
            "gomod-go-too-new",
            3,
            "go.mod says 'go 1.99' but the builder's Go",
        ),
    ],
)
def test_problem(
    bad_run: tuple[Path, Path, int, dict[str, object]],
    rel: str,
    code: str,
    line: int,
    message: str,
) -> None:
    found = errors(bad_run, rel)
    matching = [e for e in found if e["code"] == code]
    assert matching, f"no {code} among {found}"
    assert any(message in str(e["message"]) for e in matching), matching
    if line:
        assert any(e["line"] == line for e in matching), matching


def test_file_names_are_relative(
    bad_run: tuple[Path, Path, int, dict[str, object]],
) -> None:
    for e in errors(bad_run, "bad-types/v1.0.0"):
        assert e["file"] == "policy.go"


def test_version_directory_mismatch_is_a_warning(
    bad_run: tuple[Path, Path, int, dict[str, object]],
) -> None:
    report = json.loads((bad_run[1] / "validation_report.json").read_text())
    row = next(r for r in report["policies"] if r["path"] == "mismatch/v2.0.0")
    assert row["status"] == "valid"
    assert (
        row["warnings"][0]["message"]
        == "directory version (v2.0.0) != policy.yaml version (v1.0.0)"
    )


def test_empty_policies_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "policies").mkdir()
    code, out = run_json(
        [
            "build",
            "--policies",
            str(tmp_path / "policies"),
            "--output",
            str(tmp_path / "o"),
        ],
        capsys,
    )
    assert code == EXIT_INVALID
    assert str(out["error"]).startswith("no policies found:")
    assert os.listdir(tmp_path / "policies") == []
    error = json.loads((tmp_path / "o" / "build_error.json").read_text())
    assert error["phase"] == "discovery"
    assert error["error"] == out["error"]


def test_symlink_out_of_policies_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "policies"
    d = write_policy(root, "a/v1.0.0", "a", "v1.0.0")
    (tmp_path / "secret.go").write_text("package policy\n")
    (d / "secret.go").symlink_to(tmp_path / "secret.go")
    before = tree_state(root)
    code, out = run_json(
        ["validate", "--policies", str(root), "--output", str(tmp_path / "o")], capsys
    )
    assert code == EXIT_INVALID
    assert out["error"] == (
        f"a/v1.0.0/secret.go: symlink leads outside the policies directory (to "
        f"{tmp_path / 'secret.go'}); copy the file into the policies directory instead"
    )
    assert tree_state(root) == before


def test_success_removes_a_stale_build_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "policies"
    d = write_policy(root, "a/v1.0.0", "a", "v1.0.0", go_text="")
    out = tmp_path / "o"
    assert main_validate(root, out) == EXIT_INVALID
    assert (out / "build_error.json").is_file()
    write_policy(root, "a/v1.0.0", "a", "v1.0.0")
    assert (d / "policy.go").is_file()
    assert main_validate(root, out) == 0
    assert not (out / "build_error.json").exists()


def test_output_inside_policies_dir_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "policies"
    write_policy(root, "a/v1.0.0", "a", "v1.0.0")
    before = tree_state(root)
    code, out = run_json(["validate", "--policies", str(root), "--output", str(root / "o")], capsys)
    assert code == 2
    assert "is inside the policies directory" in str(out["error"])
    assert tree_state(root) == before
