"""The escaping helpers, checked by the real languages: Go compiles and prints the
literals back; starlark-pyo3 evaluates the Starlark ones."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import starlark
from policy_builder.escape import (
    dockerfile_string,
    go_bytes,
    go_identifier,
    go_string,
    starlark_string,
)

TRICKY = [
    "plain",
    'quote " inside',
    "back`tick",
    "new\nline",
    "carriage\rreturn",
    "tab\there",
    "back\\slash",
    "nul\x00byte",
    "del\x7f",
    "unicode é 日本 🙂",
    "line\u2028separator",
    "*/ comment end",
    '"); panic("injected',
    "`; os.Exit(1); `",
    "${HOME}",
]


def test_go_literals_round_trip_through_the_go_compiler(tmp_path: Path) -> None:
    items = ",\n".join(f"\t{go_string(s)}" for s in TRICKY)
    raw = "\xff\xfe not utf-8".encode("latin-1")
    (tmp_path / "go.mod").write_text("module escapetest\n\ngo 1.24\n")
    (tmp_path / "main.go").write_text(
        'package main\n\nimport (\n\t"encoding/json"\n\t"os"\n)\n\n'
        f"var items = []string{{\n{items},\n}}\n\nvar raw = {go_bytes(raw)}\n\n"
        "func main() {\n\tout := append(items, raw)\n"
        "\tbs := make([]int, len(raw))\n\tfor i := range raw {\n\t\tbs[i] = int(raw[i])\n\t}\n"
        '\t_ = json.NewEncoder(os.Stdout).Encode(map[string]interface{}{"s": out[:len(items)], "b": bs})\n}\n'
    )
    proc = subprocess.run(
        ["go", "run", "."],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "GOWORK": "off", "GOFLAGS": ""},
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["s"] == TRICKY
    assert bytes(result["b"]) == raw


@pytest.mark.parametrize("text", TRICKY)
def test_starlark_literal_round_trip(text: str) -> None:
    glb = starlark.Globals.standard()
    mod = starlark.Module()
    ast = starlark.parse("t.star", f"x = {starlark_string(text)}\nx")
    assert starlark.eval(mod, ast, glb) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("apiKey_v1.0.0", "apiKey_v1_0_0"),
        ("jwt-validation", "jwt_validation"),
        ("1abc", "p_1abc"),
        ("func", "p_func"),
        ("core", "p_core"),
        ('a"b`c\nd', "a_b_c_d"),
        ("", "p__"),
    ],
)
def test_go_identifier(text: str, expected: str) -> None:
    ident = go_identifier(text)
    assert ident == expected
    assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", ident)


def test_dockerfile_string_escapes_quotes_and_variables() -> None:
    assert dockerfile_string('a"b$c\\d') == '"a\\"b\\$c\\\\d"'
    with pytest.raises(ValueError, match="line breaks"):
        dockerfile_string("a\nLABEL x=y")
