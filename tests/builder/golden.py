"""Whole-file golden cases, in the style of Gazelle's merger tests and
datamodel-code-generator's expected outputs: each case is a directory under
tests/data/golden/ holding its input files in `in/` and every file it produces in
`out/`, named with a `.golden` suffix (as Go's testdata does; Gazelle's tests say
`BUILD.want`) so that no tool takes an expectation for a source file. tests/builder/test_golden.py compares each case whole (the same files, byte for
byte, nothing missing and nothing extra) and fails on any directory no case owns.

Regenerate every `out/` after an intended change, then read the diff:

    make golden            # = .venv/bin/python -m tests.builder.golden

The Go answers the generators need (the engine's packages as `go list` reports them, each
policy's module and package as the Go helper reports them) come from tests/bazel/fixtures.py;
the templates are the repository's own.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path

from policy_builder import generate_go, reports
from policy_builder.bazel import bazel_outputs
from policy_builder.discover import Discovery, discover
from policy_builder.home import EngineSources
from policy_builder.manifest import GoModInfo, GoPackageInfo, Manifest, PolicyEntry

from tests.bazel import fixtures

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "tests" / "data" / "golden"
SOURCES = EngineSources(REPO)
SUFFIX = ".golden"
# Where the policies of a case are said to be, so no output holds this machine's paths.
POLICIES_ROOT = Path("/policies")


def workspace(case_in: Path) -> dict[str, str]:
    """Every file `generate` writes into a workspace whose current files are case_in/
    (MODULE.bazel, hand-edited BUILD files), for the fixtures' engine and policies."""
    return workspace_over(read_tree(case_in))


def workspace_over(existing: Mapping[str, str]) -> dict[str, str]:
    """Every file `generate` writes into a workspace holding existing (path -> text)."""
    manifest = fixtures.tested_manifest(POLICIES_ROOT)
    go_files = generate_go.go_files(manifest, SOURCES)

    def read_existing(rel: str) -> str:
        return existing.get(rel, "")

    return bazel_outputs(
        manifest,
        engine=fixtures.tested_engine_module(),
        registry_go=go_files[generate_go.PLUGIN_REGISTRY],
        build_info_go=go_files[generate_go.BUILD_INFO],
        read_existing=read_existing,
        # Every policy has its go.sum (a missing one is an error, tested apart).
        file_exists=lambda rel: True,
    )


def registry_entry(name: str, version: str, rel: str, module: str, spec: str = "") -> PolicyEntry:
    """A validated policy at /policies/<rel> whose package is named `policy`, as every one
    is here: the registry's import aliases must keep them apart."""
    return PolicyEntry(
        name=name,
        version=version,
        path=POLICIES_ROOT / rel,
        rel_path=rel,
        module_path=module,
        spec_source=(spec or f"name: {name}\nversion: {version}\nparameters: []\n").encode(),
        go_mod=GoModInfo(module_path=module, go_version="1.24"),
        go_package=GoPackageInfo(package_name="policy", go_files=("policy.go",)),
    )


def _registry(case_in: Path) -> dict[str, str]:
    """plugin_registry.go and build_info.go for the policies described in
    case_in/policies.txt (name, version, directory, module path per line; the spec is the
    file case_in/<directory>.yaml when present): names that collide once sanitized, and a
    policy.yaml with quotes, backticks and newlines to embed."""
    entries = []
    for line in (case_in / "policies.txt").read_text().splitlines():
        name, version, rel, module = line.split()
        spec_file = case_in / f"{rel.replace('/', '_')}.yaml"
        spec = spec_file.read_text() if spec_file.is_file() else ""
        entries.append(registry_entry(name, version, rel, module, spec))
    return generate_go.go_files(Manifest(POLICIES_ROOT, tuple(entries)), SOURCES)


def _policies_json(case_in: Path) -> dict[str, str]:
    """policies.json after discovery of case_in/policies/ and after validation (module
    paths from case_in/modules.txt: directory and module path per line), as if the
    policies sat at /policies."""
    found = discover(case_in / "policies")
    moved = Discovery(
        root=POLICIES_ROOT,
        candidates=tuple(replace(c, path=POLICIES_ROOT / c.rel_path) for c in found.candidates),
    )
    modules = dict(line.split() for line in (case_in / "modules.txt").read_text().splitlines())
    validated = Manifest(
        POLICIES_ROOT,
        tuple(
            registry_entry(c.name, c.version, c.rel_path, modules[c.rel_path])
            for c in moved.candidates
        ),
    )
    return {
        "discovered/policies.json": reports.to_json(reports.policies_json(moved)),
        "validated/policies.json": reports.to_json(reports.policies_json(moved, validated)),
    }


# Case directory name -> the function from its `in/` directory to its outputs.
CASES: dict[str, Callable[[Path], dict[str, str]]] = {
    "workspace-fresh": workspace,
    "workspace-merge": workspace,
    "registry": _registry,
    "policies-json": _policies_json,
}


def produce(case: str) -> dict[str, str]:
    return CASES[case](GOLDEN / case / "in")


def read_tree(directory: Path) -> dict[str, str]:
    """Every file under directory, by POSIX path relative to it (the golden suffix of an
    expected file taken off, so the path is the produced file's)."""
    return {
        p.relative_to(directory).as_posix().removesuffix(SUFFIX): p.read_text()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def main() -> None:
    for case in CASES:
        out = GOLDEN / case / "out"
        shutil.rmtree(out, ignore_errors=True)
        for rel, text in produce(case).items():
            target = out / (rel + SUFFIX)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        print(f"wrote {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
