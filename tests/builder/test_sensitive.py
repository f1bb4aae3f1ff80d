"""Sensitive parameters: the schema's rules, and no report of the builder ever shows a
value written into a sensitive parameter's declaration (docs/security.md)."""

from __future__ import annotations

from pathlib import Path

import pytest
from policy_builder.cli import main
from policy_builder.errors import EXIT_INVALID

from tests.builder.policytree import report_errors, write_policy

CANARY = "canary-builder-5d1e0b7a"


def test_sensitive_declarations_are_checked_and_never_echoed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, out = tmp_path / "policies", tmp_path / "out"
    write_policy(
        root,
        "leaky/v1.0.0",
        "leaky",
        "v1.0.0",
        yaml_text=(
            "name: leaky\nversion: v1.0.0\nparameters:\n"
            f"  - name: token\n    type: string\n    sensitive: true\n    default: {CANARY}\n"
            f"  - name: keys\n    type: array\n    sensitive: true\n    enum: [[{CANARY}]]\n"
            "  - name: port\n    type: integer\n    sensitive: true\n"
            "  - name: header\n    type: string\n    sensitive: false\n"
        ),
    )
    write_policy(
        root,
        "fine/v1.0.0",
        "fine",
        "v1.0.0",
        yaml_text=(
            "name: fine\nversion: v1.0.0\nparameters:\n"
            "  - name: keys\n    type: array\n    sensitive: true\n    items: {type: string}\n"
            "  - name: url\n    type: uri\n    sensitive: true\n"
        ),
    )
    code = main(["validate", "--policies", str(root), "--output", str(out)])
    captured = capsys.readouterr()
    assert code == EXIT_INVALID

    found = report_errors(out, "leaky/v1.0.0")
    messages = {(e["line"], str(e["message"])) for e in found}
    refused = "a sensitive parameter cannot declare a default or an enum"
    assert any(line == 4 and refused in m for line, m in messages), messages
    assert any(line == 8 and refused in m for line, m in messages), messages
    assert any("parameters[2].type: 'integer' is not one of" in m for _, m in messages), messages
    assert not report_errors(out, "fine/v1.0.0")

    written = [captured.out, captured.err]
    written += [f.read_text() for f in out.rglob("*") if f.is_file()]
    assert written[2:], "the builder wrote no report"
    for text in written:
        assert CANARY not in text
