"""One real build shared by the slow tests: `go build` is the expensive part."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from policy_builder.cli import main

from tests.builder.policytree import (
    ENGINE_REQUIRE,
    lib_policy_go,
    tree_state,
    write_lib,
    write_policy,
)

EPOCH = "1700000000"
EPOCH_TEXT = "2023-11-14T22:13:20Z"


@dataclass(frozen=True)
class Built:
    policies: Path
    output: Path
    # The same policies copied elsewhere and built from there.
    other_output: Path
    state_before: dict[str, tuple[str, int]]


def make_tree(root: Path) -> None:
    """A scaffolded policy, a request+response policy with a clashing package name, and a
    policy using a local module through its own replace directive."""
    assert main(["new", "hello", "--policies", str(root), "--quiet"]) == 0
    write_policy(root, "both-phases/v1.0.0", "bothPhases", "v1.0.0", response=True)
    # Package `policy` too, in a directory whose name needs quoting in go.work.
    write_policy(
        root,
        "clash policy/v1.0.0",
        "clash",
        "v1.0.0",
        go_mod=f"module example.com/test/clash\n\ngo 1.24\n\n{ENGINE_REQUIRE}",
    )
    write_lib(
        root / "lib" / "greeting",
        "example.com/greeting",
        "greeting",
        'package greeting\n\n// Word is used by a policy.\nfunc Word() string { return "hi" }\n',
    )
    go = lib_policy_go("uses", "example.com/greeting", "greeting.Word()")
    write_policy(
        root,
        "uses-lib/v1.0.0",
        "usesLib",
        "v1.0.0",
        go_text=go,
        go_mod="module example.com/test/uses-lib\n\ngo 1.24\n\n"
        f"{ENGINE_REQUIRE}require example.com/greeting v0.0.0\n\n"
        "replace example.com/greeting => ../../lib/greeting\n",
    )


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    saved = os.environ.get("SOURCE_DATE_EPOCH")
    os.environ["SOURCE_DATE_EPOCH"] = EPOCH
    try:
        a = tmp_path_factory.mktemp("first")
        make_tree(a / "policies")
        before = tree_state(a / "policies")
        flags = ["--build-version", "v9.9.9", "--git-commit", "abc123", "--quiet"]
        code = main(
            [
                "build",
                "--policies",
                str(a / "policies"),
                "--output",
                str(a / "out"),
                *flags,
            ]
        )
        assert code == 0
        b = tmp_path_factory.mktemp("second-place") / "deeper"
        shutil.copytree(a / "policies", b / "my-policies")
        code = main(
            [
                "build",
                "--policies",
                str(b / "my-policies"),
                "--output",
                str(b / "o"),
                *flags,
            ]
        )
        assert code == 0
        yield Built(a / "policies", a / "out", b / "o", before)
    finally:
        if saved is None:
            os.environ.pop("SOURCE_DATE_EPOCH", None)
        else:
            os.environ["SOURCE_DATE_EPOCH"] = saved
