"""policy.yaml reading details that the CLI tests do not spell out."""

from __future__ import annotations

import pytest
from policy_builder.safe_yaml import YamlProblem, load_yaml


def test_yaml_1_2_booleans() -> None:
    data = load_yaml(b"a: yes\nb: no\nc: on\nd: off\ne: true\nf: False\n").data
    assert data == {"a": "yes", "b": "no", "c": "on", "d": "off", "e": True, "f": False}


def test_few_aliases_are_fine_and_lines_follow_paths() -> None:
    loaded = load_yaml(b"d: &d [1]\nparameters:\n  - name: a\n    enum: *d\n")
    assert loaded.data["parameters"][0]["enum"] == [1]
    assert loaded.line_of(("parameters", 0, "enum")) == 4
    # A path that does not exist points at its nearest existing parent.
    assert loaded.line_of(("parameters", 0, "missing")) == 3


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"a: 1\n---\nb: 2\n", "yaml-syntax"),
        (b"\xef\xbb\xbfa: 1\na: 2\n", "yaml-duplicate-key"),
        (b"a: !!python/object:os.system x\n", "yaml-syntax"),
    ],
)
def test_rejected(raw: bytes, code: str) -> None:
    with pytest.raises(YamlProblem) as info:
        load_yaml(raw)
    assert info.value.code == code
