"""The scale benchmark's invariant at test size: a second run with no input change
rewrites no file. (The 500-policy timing runs with `make bench-python`.)"""

from __future__ import annotations

from pathlib import Path

from tests.bench.gen_synthetic import mtimes, run


def test_second_run_rewrites_nothing(tmp_path: Path) -> None:
    result = run(tmp_path, 40)
    assert result.rewritten == []
    outputs = mtimes(tmp_path / "output")
    assert sorted(outputs) == [
        "generated/build_info.go",
        "generated/plugin_registry.go",
        "policies.json",
        "validation_report.json",
    ]
    registry = (tmp_path / "output" / "generated" / "plugin_registry.go").read_text()
    assert registry.count("registry.Register(") == 40
