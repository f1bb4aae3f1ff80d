"""The golden cases of tests/builder/golden.py, each compared whole; and no golden file
that no case owns. Regenerate with `make golden` and read the diff."""

from __future__ import annotations

import subprocess

import pytest

from tests.builder.golden import CASES, GOLDEN, SUFFIX, produce, read_tree


@pytest.mark.parametrize("case", sorted(CASES))
def test_case_output_matches_its_golden_files(case: str) -> None:
    expected = read_tree(GOLDEN / case / "out")
    produced = produce(case)
    assert sorted(produced) == sorted(expected), f"{case}: files differ; run `make golden`"
    for rel, text in produced.items():
        assert text == expected[rel], f"{case}/out/{rel} differs; run `make golden`"


def test_a_second_run_over_the_output_changes_nothing() -> None:
    """generate run again over its own output (a merge case): a fixed point."""
    from tests.builder.golden import workspace_over

    expected = read_tree(GOLDEN / "workspace-merge" / "out")
    assert workspace_over(expected) == expected


def test_every_golden_directory_belongs_to_a_case() -> None:
    cases = {p.name for p in GOLDEN.iterdir()}
    assert cases == set(CASES) | {"README.md"}
    for case in CASES:
        parts = {p.name for p in (GOLDEN / case).iterdir()}
        assert parts <= {"in", "out"}, f"{case}: only in/ and out/ belong there, not {parts}"
    assert not (GOLDEN.parent / "expected").exists(), "golden files live in tests/data/golden"


def test_golden_go_files_are_gofmt_clean() -> None:
    # gofmt reads files named on its command line whatever their suffix.
    go_files = sorted(str(p) for p in GOLDEN.rglob(f"*.go{SUFFIX}"))
    assert go_files
    proc = subprocess.run(["gofmt", "-l", *go_files], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
