"""A BUILD file still as generated is merged without parsing it, with the very result the
parsing merge gives."""

from __future__ import annotations

from typing import Any

import pytest
from policy_builder.bazel import build_file, build_merge
from policy_builder.bazel.rules import go_library_rule

RULES = [
    go_library_rule(
        kind="policy_library",
        load="//rules:policy_library.bzl",
        name="v1_0_0",
        srcs=("b.go", "a.go"),
        importpath="example.com/p/v1.0.0",
        deps=("@com_github_x_y//z", "//engine/worker/policies"),
        visibility=("//visibility:public",),
    ),
    go_library_rule(
        kind="go_library",
        load="@rules_go//go:def.bzl",
        name="helpers",
        srcs=("h.go",),
        importpath="example.com/p/v1.0.0/helpers",
        deps=(),
    ),
]
HEADER = "# Generated; hand edits welcome.\n"


def test_a_file_as_generated_is_not_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    fresh = build_file.render_build_file(HEADER, RULES)
    parsed: list[str] = []
    real = build_merge.parse_for_edit

    def spy(text: str, what: str) -> Any:
        parsed.append(text)
        return real(text, what)

    monkeypatch.setattr(build_merge, "parse_for_edit", spy)
    assert build_file.merge_build_file(fresh, RULES, HEADER) == fresh
    assert parsed == []
    # The parsing merge of the same file, told apart by a comment, agrees.
    edited = fresh + "\n# A note of the user's.\n"
    assert build_file.merge_build_file(edited, RULES, HEADER) == edited
    assert parsed == [edited]
