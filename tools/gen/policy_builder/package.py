"""Phase 5, packaging: the runtime image's Dockerfile (seed section 3.6)."""

from __future__ import annotations

from policy_builder.escape import dockerfile_string
from policy_builder.home import Home
from policy_builder.manifest import Manifest
from policy_builder.settings import Settings
from policy_builder.templates import render

DOCKERFILE = "Dockerfile"


def loaded_policies(manifest: Manifest) -> str:
    """ "name:version, …" as the image label and the engine's --version print it."""
    return ", ".join(p.key for p in manifest.policies)


def dockerfile(manifest: Manifest, settings: Settings, home: Home) -> str:
    return render(
        home.templates_dir,
        "Dockerfile.j2",
        image_base=settings.dockerfile_base,
        version_tag=settings.build_version.replace("/", "-").replace(":", "-").replace("@", "-"),
        version=dockerfile_string(settings.build_version),
        revision=dockerfile_string(settings.git_commit),
        created=dockerfile_string(settings.build_time()),
        loaded_policies=dockerfile_string(loaded_policies(manifest)),
        platform=dockerfile_string(settings.platform),
    )


def package_files(manifest: Manifest, settings: Settings, home: Home) -> dict[str, str]:
    return {DOCKERFILE: dockerfile(manifest, settings, home)}
