"""policy.yaml reading details that the CLI tests do not spell out."""

from __future__ import annotations

import pytest
from policy_builder import safe_yaml
from policy_builder.safe_yaml import MAX_ALIASES, YamlProblem, load_yaml


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


DOCS = [
    b"name: a\nversion: v1.0.0\nparameters:\n  - name: p\n    type: integer\n    default: 3\n",
    b"a: yes\nb: true\nc: 1.5\nd: ~\ne: '2020-01-01'\nf: 2020-01-01\n",
    b"base: &b {x: 1, y: [1, 2]}\nmerged:\n  z: *b\nagain: *b\n",
    b"text: |\n  two\n  lines\nfolded: >\n  one\n  line\n",
    b"",
    b"# only a comment\n",
]


@pytest.mark.parametrize("raw", DOCS)
def test_libyaml_and_the_python_loader_agree(raw: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    fast = load_yaml(raw)
    monkeypatch.setattr(safe_yaml, "_fast_loader", None)
    careful = load_yaml(raw)
    assert fast.data == careful.data
    paths: list[tuple[str | int, ...]] = [
        (),
        ("parameters", 0, "default"),
        ("merged", "z"),
        ("folded",),
    ]
    assert [fast.line_of(p) for p in paths] == [careful.line_of(p) for p in paths]


def test_errors_are_told_in_the_python_loaders_words() -> None:
    # libyaml would say neither which character nor which alias.
    with pytest.raises(YamlProblem) as info:
        load_yaml(b"a: 1\n\tb: 2\n")
    assert "'\\t'" in info.value.message
    assert info.value.line == 2
    with pytest.raises(YamlProblem) as info:
        load_yaml(b"a: *nope\n")
    assert "'nope'" in info.value.message


def test_the_alias_limit_holds_on_every_path(monkeypatch: pytest.MonkeyPatch) -> None:
    aliases = "".join(f"u{i}: *a\n" for i in range(MAX_ALIASES))
    ok = f"a: &a [1]\n{aliases}".encode()
    assert load_yaml(ok).data["u0"] == [1]
    too_many = ok + b"last: *a\n"
    for fast in (True, False):
        if not fast:
            monkeypatch.setattr(safe_yaml, "_fast_loader", None)
        with pytest.raises(YamlProblem) as info:
            load_yaml(too_many)
        assert info.value.code == "yaml-aliases"
        assert info.value.line == MAX_ALIASES + 2


@pytest.mark.parametrize("fast", [True, False])
def test_nesting_has_a_limit(fast: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Deep nesting is refused with its own problem, never a RecursionError, whichever
    parser runs: just past the limit (with the line it starts at) and far past it."""
    if not fast:
        monkeypatch.setattr(safe_yaml, "_fast_loader", None)
    at_limit = "a:\n" + "  " + "[" * (safe_yaml.MAX_DEPTH - 1) + "]" * (safe_yaml.MAX_DEPTH - 1)
    assert load_yaml(at_limit.encode()).data is not None
    past = b"a: 1\nb: " + b"[" * safe_yaml.MAX_DEPTH + b"]" * safe_yaml.MAX_DEPTH + b"\n"
    with pytest.raises(YamlProblem) as problem:
        load_yaml(past)
    assert problem.value.code == "yaml-too-deep"
    assert problem.value.line == 2
    with pytest.raises(YamlProblem) as problem:
        load_yaml(b"a: " + b"[" * 5000 + b"]" * 5000 + b"\n")
    assert problem.value.code == "yaml-too-deep"
