"""The builder image's Dockerfile (no Docker engine here: its content is what we check)."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "tools" / "gen" / "builder.Dockerfile"


def test_copies_exist_and_tool_is_the_entrypoint() -> None:
    text = DOCKERFILE.read_text()
    sources = re.findall(r"^COPY (\S+) ", text, flags=re.M)
    assert sources == ["engine/", "templates/", "rules/image_config.bzl", "tools/gen/"]
    for src in sources:
        assert (REPO / src).exists(), src
    assert 'ENTRYPOINT ["policy-builder"]' in text
    assert 'CMD ["build"]' in text
    for env in (
        "POLICY_ENGINE_HOME=/opt/policy-engine",
        "POLICIES_DIR=/policies",
        "OUTPUT_DIR=/output",
    ):
        assert env in text
    assert "upx-ucl" in text


def test_go_image_is_new_enough_for_the_engine() -> None:
    text = DOCKERFILE.read_text()
    image = re.search(r"^FROM golang:(\d+)\.(\d+)\.\d+-", text, flags=re.M)
    assert image is not None
    engine = re.search(r"^go (\d+)\.(\d+)", (REPO / "engine" / "go.mod").read_text(), flags=re.M)
    helper = re.search(
        r"^go (\d+)\.(\d+)", (REPO / "tools/gen/gocheck/go.mod").read_text(), flags=re.M
    )
    assert engine is not None and helper is not None
    have = (int(image[1]), int(image[2]))
    assert have >= (int(engine[1]), int(engine[2]))
    assert have >= (int(helper[1]), int(helper[2]))
