"""The OCI image: the Go image tool (tools/gen/image, go-containerregistry) assembles it
from the compiled binaries, the base and the shared image configuration, without a
container daemon. Outputs: an OCI image layout, a `docker load` tarball and a CycloneDX
SBOM (also inside the image). See docs/image.md.

The tool is built once per source content into the cache directory, like the Go helper.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from policy_builder import __version__
from policy_builder.cache import cache_dir
from policy_builder.compile import BINARY
from policy_builder.errors import BuilderError, UsageError
from policy_builder.gocheck import go_env
from policy_builder.gotool import cached_go_binary, go_binary, go_source_id, run_tool
from policy_builder.home import ENGINE_MODULE, EngineSources
from policy_builder.image_config import ImageConfig, read_image_config
from policy_builder.manifest import Manifest
from policy_builder.settings import Settings

LAYOUT_DIR = "image"
TARBALL = "policy-engine.tar"
SBOM = "sbom.cdx.json"
IMAGE_NAME = "policy-engine"
PLATFORM_LABEL = "policy-engine.platform"
# The image tool's exit status for a base the user must change (tools/gen/image/main.go).
TOOL_EXIT_BAD_BASE = 2


class ImageFailed(BuilderError):
    """The base could not be used or the image not assembled; nothing was written."""

    phase = "image"


def binary_name(platform: str, first: bool) -> str:
    """output/policy-engine is the first platform's; the others carry their platform."""
    return BINARY if first else f"{BINARY}-{platform.replace('/', '-')}"


def tool_binary(sources: EngineSources) -> Path:
    toolchain = go_env("GOVERSION")["GOVERSION"]
    source_id = go_source_id(sources.image_tool_dir, toolchain)
    return cached_go_binary(sources.image_tool_dir, "policy-image", source_id, "the image tool")


def build_info(binary: Path) -> dict[str, Any]:
    """The Go build info of binary (`go version -m -json`): its build list for the SBOM."""
    proc = run_tool([go_binary(), "version", "-m", "-json", str(binary)], "the SBOM")
    if proc.returncode != 0:
        raise ImageFailed(
            f"{binary}: no Go build info ({proc.stderr.strip()}); a UPX-compressed binary "
            "hides it, so build the image in the same `build` run that compiles it"
        )
    info: dict[str, Any] = json.loads(proc.stdout)
    return info


@dataclass(frozen=True)
class Built:
    binary: Path
    platform: str
    build_info: dict[str, Any]


def labels(
    manifest: Manifest, settings: Settings, config: ImageConfig, platform: str
) -> dict[str, str]:
    return {
        **dict(config.labels),
        "org.opencontainers.image.version": settings.build_version,
        "org.opencontainers.image.revision": settings.git_commit,
        "org.opencontainers.image.created": settings.build_time(),
        config.loaded_policies_label: config.loaded_policies_separator.join(
            p.key for p in manifest.policies
        ),
        PLATFORM_LABEL: platform,
    }


def version_tag(version: str) -> str:
    """BUILD_VERSION as an image tag (no / : @)."""
    return version.replace("/", "-").replace(":", "-").replace("@", "-")


def _spec(
    manifest: Manifest, settings: Settings, sources: EngineSources, output: Path, built: list[Built]
) -> dict[str, Any]:
    config = read_image_config(sources.root)
    local = {ENGINE_MODULE: str(sources.engine_dir)}
    local.update({p.module_path: str(p.path) for p in manifest.policies})
    out = output.resolve()
    return {
        "base": settings.image_base,
        "cache": str(cache_dir()),
        "platforms": [
            {
                "os": b.platform.split("/")[0],
                "arch": b.platform.split("/")[1],
                "binary": str(b.binary.resolve()),
                "build_info": b.build_info,
                "labels": labels(manifest, settings, config, b.platform),
            }
            for b in built
        ],
        "config": {
            "user": config.user,
            "workdir": config.app_dir,
            "entrypoint": config.entrypoint(BINARY),
            "cmd": config.cmd,
            "ports": list(config.ports),
            "binary_path": f"{config.app_dir}/{BINARY}",
            "sbom_path": f"{config.app_dir}/{SBOM}",
        },
        "created": settings.epoch(),
        "local_modules": local,
        "mod_cache": go_env("GOMODCACHE")["GOMODCACHE"],
        "builder": __version__,
        "version": settings.build_version,
        "output": {
            "layout": str(out / LAYOUT_DIR),
            "tarball": str(out / TARBALL),
            "sbom": str(out / SBOM),
        },
        "ref_name": version_tag(settings.build_version),
        "repo_tag": f"{IMAGE_NAME}:{version_tag(settings.build_version)}",
    }


def _run_tool(sources: EngineSources, command: str, spec: dict[str, Any]) -> dict[str, Any]:
    tool = tool_binary(sources)
    with tempfile.TemporaryDirectory(prefix="policy-image-") as tmp:
        path = Path(tmp) / "spec.json"
        path.write_text(json.dumps(spec))
        proc = run_tool([str(tool), command, "--spec", str(path)], "the image tool")
    message = proc.stderr.strip().removeprefix("policy-image: ")
    if proc.returncode == TOOL_EXIT_BAD_BASE:
        raise UsageError(message)
    if proc.returncode != 0:
        raise ImageFailed(message)
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def resolve_base(settings: Settings, sources: EngineSources) -> str:
    """Pull (or find in the cache) the base and check it has every platform, before
    anything is compiled: a base that cannot serve the build stops it with no output."""
    config = read_image_config(sources.root)
    spec = {
        "base": settings.image_base,
        "cache": str(cache_dir()),
        "platforms": [
            {"os": p.split("/")[0], "arch": p.split("/")[1], "binary": ""}
            for p in settings.platforms
        ],
        "config": {"user": config.user},
    }
    return str(_run_tool(sources, "resolve-base", spec)["base"])


def build_image(
    manifest: Manifest, settings: Settings, sources: EngineSources, output: Path, built: list[Built]
) -> dict[str, Any]:
    return _run_tool(sources, "build", _spec(manifest, settings, sources, output, built))
