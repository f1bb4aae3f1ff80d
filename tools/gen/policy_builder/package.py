"""Phase 5, packaging: the runtime image's Dockerfile. Its user, ports, paths and
labels are the OCI image's (rules/image_config.bzl)."""

from __future__ import annotations

import json

from policy_builder import image
from policy_builder.compile import BINARY
from policy_builder.escape import dockerfile_string
from policy_builder.home import EngineSources
from policy_builder.image_config import read_image_config
from policy_builder.manifest import Manifest
from policy_builder.settings import Settings
from policy_builder.templates import render

DOCKERFILE = "Dockerfile"


def dockerfile(manifest: Manifest, settings: Settings, sources: EngineSources) -> str:
    config = read_image_config(sources.root)
    labels = image.labels(manifest, settings, config, settings.platform)
    return render(
        sources.templates_dir,
        "Dockerfile.j2",
        image_base=settings.dockerfile_base,
        version_tag=image.version_tag(settings.build_version),
        binary_path=f"{config.app_dir}/{BINARY}",
        labels=[(key, dockerfile_string(value)) for key, value in sorted(labels.items())],
        user=config.user,
        workdir=config.app_dir,
        ports=" ".join(p.removesuffix("/tcp") for p in config.ports),
        entrypoint=json.dumps(config.entrypoint(BINARY)),
        cmd=json.dumps(config.cmd),
    )


def package_files(manifest: Manifest, settings: Settings, sources: EngineSources) -> dict[str, str]:
    return {DOCKERFILE: dockerfile(manifest, settings, sources)}
