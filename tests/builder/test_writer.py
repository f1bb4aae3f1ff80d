"""The one writer: atomic, only-when-changed (mtimes kept), and --check mode."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from policy_builder.errors import GenerateFailed
from policy_builder.writer import check_files, write_files


def test_writes_then_keeps_unchanged_files(tmp_path: Path) -> None:
    files = {"a.go": "package a\n", "sub/b.go": "package b\n"}
    first = write_files(tmp_path, files)
    assert first.written == ("a.go", "sub/b.go")
    old = {n: (tmp_path / n).stat().st_mtime_ns for n in files}
    os.utime(tmp_path / "a.go", ns=(1, 1))
    os.utime(tmp_path / "sub/b.go", ns=(1, 1))
    second = write_files(tmp_path, files)
    assert second.written == ()
    assert second.unchanged == ("a.go", "sub/b.go")
    assert all((tmp_path / n).stat().st_mtime_ns == 1 for n in files), old


def test_rewrites_only_the_changed_file(tmp_path: Path) -> None:
    write_files(tmp_path, {"a": "1\n", "b": "2\n"})
    result = write_files(tmp_path, {"a": "1\n", "b": "3\n"})
    assert result.written == ("b",)
    assert (tmp_path / "b").read_text() == "3\n"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_check_mode_reports_a_diff_and_writes_nothing(tmp_path: Path) -> None:
    write_files(tmp_path, {"a": "one\n"})
    diff = check_files(tmp_path, {"a": "two\n", "new": "x\n"})
    assert "-one\n+two\n" in diff
    assert "+++ b/new" in diff
    assert (tmp_path / "a").read_text() == "one\n"
    assert not (tmp_path / "new").exists()
    assert check_files(tmp_path, {"a": "one\n"}) == ""


@pytest.mark.parametrize("bad", ["../x", "/etc/x", "a/../../x"])
def test_refuses_paths_outside_the_root(tmp_path: Path, bad: str) -> None:
    with pytest.raises(GenerateFailed, match="must stay inside"):
        write_files(tmp_path / "root", {bad: "x"})
