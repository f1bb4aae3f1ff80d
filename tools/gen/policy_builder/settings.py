"""Build settings from the environment and the command line; flags win."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from policy_builder.errors import UsageError

PLATFORMS = ("linux/amd64", "linux/arm64")
# The base the Dockerfile names when none is given: the distroless static image Bazel
# pulls, by the same digest (MODULE.bazel's oci.pull; a test keeps the two equal). The OCI
# image needs no registry when none is given: it uses the image tool's builtin base.
DISTROLESS_BASE = (
    "gcr.io/distroless/static-debian12"
    "@sha256:afa5c872c891853ca7fcf1f12c3edb23f7eeef36189728842dd51042ff57f7ab"
)
# A base read from a local OCI image layout: oci-layout:DIR[@sha256:HEX].
LAYOUT_PREFIX = "oci-layout:"
_DIGEST_REF = re.compile(r"^[a-z0-9][a-z0-9._:/-]*@sha256:[0-9a-f]{64}$")
# Values stamped with -X travel through Go's ldflags quoting and Dockerfile labels; a
# plain charset keeps both safe without a second escaping layer.
_STAMP = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+:/@-]{0,127}$")
# An image reference: no whitespace, quotes or newlines can reach the FROM line.
_IMAGE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,254}$")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


@dataclass(frozen=True)
class Settings:
    build_version: str = "dev"
    git_commit: str = "unknown"
    upx: bool = False
    # Extra `go build` arguments, added after the defaults (GO_BUILD_FLAGS).
    go_build_flags: tuple[str, ...] = ()
    # Extra -ldflags from GO_BUILD_FLAGS, appended to the builder's own.
    extra_ldflags: str = ""
    # "" (the builtin base), NAME@sha256:HEX or oci-layout:DIR[@sha256:HEX].
    image_base: str = ""
    # Every platform to build; the first is output/policy-engine and the tarball's image.
    platforms: tuple[str, ...] = ("linux/amd64",)
    # SOURCE_DATE_EPOCH; None means "now" (and a build that is not reproducible).
    source_date_epoch: int | None = None

    @property
    def platform(self) -> str:
        return self.platforms[0]

    @property
    def dockerfile_base(self) -> str:
        """FROM of the Dockerfile: the registry base when one is named, else distroless."""
        if self.image_base and not self.image_base.startswith(LAYOUT_PREFIX):
            return self.image_base
        return DISTROLESS_BASE

    @property
    def goos(self) -> str:
        return self.platform.split("/")[0]

    @property
    def goarch(self) -> str:
        return self.platform.split("/")[1]

    def epoch(self) -> int:
        """Build time in seconds: SOURCE_DATE_EPOCH when set, else now."""
        return self.source_date_epoch if self.source_date_epoch is not None else int(time.time())

    def build_time(self) -> str:
        """RFC 3339 UTC build time: SOURCE_DATE_EPOCH when set, else now."""
        return datetime.fromtimestamp(self.epoch(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _bool(name: str, value: str) -> bool:
    low = value.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise UsageError(f"{name}={value!r}: use true or false")


def _stamp(name: str, value: str) -> str:
    if not _STAMP.match(value):
        raise UsageError(
            f"{name}={value!r}: use letters, digits and . _ + : / @ - (at most 128 characters)"
        )
    return value


def split_go_build_flags(text: str) -> tuple[tuple[str, ...], str]:
    """GO_BUILD_FLAGS as arguments, with any -ldflags pulled out to be appended to the
    builder's own -ldflags (a second -ldflags would silently replace them)."""
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise UsageError(f"GO_BUILD_FLAGS: {exc}") from None
    flags: list[str] = []
    ld: list[str] = []
    it = iter(words)
    for word in it:
        bare = word.lstrip("-")
        if word.startswith("-") and bare.split("=", 1)[0] == "ldflags":
            ld.append(bare.split("=", 1)[1] if "=" in bare else next(it, ""))
        elif word.startswith("-") and bare.split("=", 1)[0] == "o":
            raise UsageError("GO_BUILD_FLAGS may not set -o; use --output")
        else:
            flags.append(word)
    return tuple(flags), " ".join(ld)


def _platforms(text: str) -> tuple[str, ...]:
    """TARGET_PLATFORM / --platform: one platform or several, comma-separated."""
    found: list[str] = []
    for platform in (p.strip() for p in text.split(",")):
        if platform not in PLATFORMS:
            raise UsageError(
                f"platform {platform!r} is not supported; use one or more of "
                f"{', '.join(PLATFORMS)} (comma-separated)"
            )
        if platform not in found:
            found.append(platform)
    return tuple(found)


def _image_base(image: str) -> str:
    """ "" (builtin base), a local layout, or a registry image pinned by digest."""
    if not image or image.startswith(LAYOUT_PREFIX):
        return image
    if not _IMAGE.match(image):
        raise UsageError(f"FINAL_IMAGE_BASE={image!r} is not an image reference")
    if not _DIGEST_REF.match(image):
        raise UsageError(
            f"FINAL_IMAGE_BASE={image!r} is not pinned by digest: give the base as "
            "NAME@sha256:DIGEST (a tag can move, so a build from it is not reproducible; "
            "`crane digest NAME:TAG` or `skopeo inspect docker://NAME:TAG` prints the digest), "
            f"or a local layout as {LAYOUT_PREFIX}DIR[@sha256:DIGEST]"
        )
    return image


def _git(directory: Path, *args: str) -> str | None:
    """`git -C directory args` stripped; None when git is missing or answers with an error."""
    try:
        proc = subprocess.run(
            ["git", "-C", str(directory), *args],
            capture_output=True,
            text=True,
            timeout=30,
            # Read only: --dirty must not refresh the index of the user's repository.
            env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},
        )
    except (OSError, subprocess.SubprocessError):
        return None
    out = proc.stdout.strip()
    return out if proc.returncode == 0 and out else None


def git_stamps(directories: Sequence[Path]) -> tuple[str, str] | None:
    """(version, commit) from git for the first directory in a work tree with a commit:
    `git describe --tags --always --dirty` and `git rev-parse HEAD`, as
    tools/workspace_status.sh stamps Bazel builds. None when no directory is in one."""
    for directory in directories:
        commit = _git(directory, "rev-parse", "HEAD")
        if commit is None:
            continue
        version = _git(directory, "describe", "--tags", "--always", "--dirty")
        return version or commit[:12], commit
    return None


def load_settings(
    env: Mapping[str, str],
    flags: Mapping[str, str | bool | None],
    stamp_from: Sequence[Path] = (),
) -> Settings:
    """Settings from env, overridden by the flags that were given (non-None). The version
    and commit that neither gives come from git when a directory of stamp_from (the
    policies, the engine) is in a git work tree, else they stay dev and unknown."""
    git: list[tuple[str, str] | None] = []

    def from_git(index: int, default: str) -> str:
        if not git:
            git.append(git_stamps(stamp_from))
        found = git[0]
        # A tag git accepts but a stamp cannot carry keeps the plain default.
        return found[index] if found and _STAMP.match(found[index]) else default

    def pick(flag: str, var: str, default: str, git_index: int | None = None) -> str:
        value = flags.get(flag)
        if value is not None and not isinstance(value, bool):
            return value
        if var in env or git_index is None:
            return env.get(var, default)
        return from_git(git_index, default)

    upx_flag = flags.get("upx")
    upx = (
        upx_flag
        if isinstance(upx_flag, bool)
        else _bool("ENABLE_UPX_COMPRESSION", env.get("ENABLE_UPX_COMPRESSION", ""))
    )
    go_flags, ld = split_go_build_flags(pick("go_build_flags", "GO_BUILD_FLAGS", ""))
    platforms = _platforms(pick("platform", "TARGET_PLATFORM", "linux/amd64"))
    image = _image_base(pick("image_base", "FINAL_IMAGE_BASE", ""))
    epoch_text = env.get("SOURCE_DATE_EPOCH", "")
    epoch: int | None = None
    if epoch_text:
        if not epoch_text.isdigit():
            raise UsageError(f"SOURCE_DATE_EPOCH={epoch_text!r}: use seconds since 1970")
        epoch = int(epoch_text)
    return Settings(
        build_version=_stamp("BUILD_VERSION", pick("build_version", "BUILD_VERSION", "dev", 0)),
        git_commit=_stamp("GIT_COMMIT", pick("git_commit", "GIT_COMMIT", "unknown", 1)),
        upx=upx,
        go_build_flags=go_flags,
        extra_ldflags=ld,
        image_base=image,
        platforms=platforms,
        source_date_epoch=epoch,
    )
