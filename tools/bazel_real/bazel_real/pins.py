"""Versions: what the workspace's MODULE.bazel pins, and what the pinned rule sets pin in turn.

Read from the files themselves, so a pin change in MODULE.bazel (or a rule set's own pins,
read from its source tree in the local registry) needs no edit here. MODULE.bazel is
buildifier-formatted, which the patterns below rely on (one argument a line, `)` alone).

  python3 -m bazel_real.pins --workspace DIR [--registry DIR] KEY
  KEY: go-sdk | python | python-full | regctl-version | regctl-package | dep:<module name>
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path


class PinError(Exception):
    """A file does not say what this module expects it to say."""


@dataclass(frozen=True)
class OciPull:
    """One `oci.pull(...)` of MODULE.bazel."""

    name: str
    image: str  # <registry host>/<repository>
    digest: str
    platforms: tuple[str, ...]  # "linux/amd64"

    @property
    def registry(self) -> str:
        return self.image.split("/", 1)[0]

    @property
    def repository(self) -> str:
        return self.image.split("/", 1)[1]


@dataclass(frozen=True)
class ModulePins:
    bazel_deps: dict[str, str]
    go_sdk: str
    python: str  # major.minor, as python.toolchain says it
    oci_pulls: tuple[OciPull, ...]

    def dep(self, name: str) -> str:
        if name not in self.bazel_deps:
            raise PinError(f"MODULE.bazel has no bazel_dep(name = {name!r})")
        return self.bazel_deps[name]


def _call_blocks(text: str, callee: str) -> list[str]:
    """The argument text of every `callee(...)` call (buildifier closes a multi-line call
    with `)` alone on its line)."""
    pattern = r"(?<![\w.])" + re.escape(callee) + r"\((.*?)\)\s*$"
    return re.findall(pattern, text, re.S | re.M)


def _string_arg(block: str, arg: str) -> str:
    m = re.search(rf'\b{arg}\s*=\s*"([^"]*)"', block)
    if not m:
        raise PinError(f'no {arg} = "..." in {block.strip()[:80]!r}')
    return m.group(1)


def _string_list_arg(block: str, arg: str) -> tuple[str, ...]:
    m = re.search(rf"\b{arg}\s*=\s*\[(.*?)\]", block, re.S)
    return tuple(re.findall(r'"([^"]*)"', m.group(1))) if m else ()


def read_module_pins(module_bazel: Path) -> ModulePins:
    text = module_bazel.read_text()
    deps = dict(
        re.findall(r'bazel_dep\(\s*name\s*=\s*"([^"]+)"\s*,\s*version\s*=\s*"([^"]+)"', text)
    )
    go_sdk = [_string_arg(b, "version") for b in _call_blocks(text, "go_sdk.download")]
    python = [_string_arg(b, "python_version") for b in _call_blocks(text, "python.toolchain")]
    if len(go_sdk) != 1 or len(python) != 1:
        raise PinError(f"{module_bazel}: want one go_sdk.download and one python.toolchain")
    pulls = tuple(
        OciPull(
            name=_string_arg(b, "name"),
            image=_string_arg(b, "image"),
            digest=_string_arg(b, "digest"),
            platforms=_string_list_arg(b, "platforms"),
        )
        for b in _call_blocks(text, "oci.pull")
    )
    return ModulePins(deps, go_sdk[0], python[0], pulls)


def module_source(registry: Path, pins: ModulePins, name: str) -> Path:
    """The pinned version's source tree in the local registry."""
    src = registry / "sources" / name / pins.dep(name)
    if not src.is_dir():
        raise PinError(f"{src} does not exist: build the registry first")
    return src


@dataclass(frozen=True)
class GoTool:
    """A tool rules_oci downloads as a release binary, rebuilt here from its Go module."""

    package: str  # Go package path of the command
    version: str


def regctl(rules_oci: Path) -> GoTool:
    """The regctl rules_oci registers: REGCTL_VERSION and the release URL in repositories.bzl.

    regclient's release URL is <host>/<owner>/<repo>/releases/download/..., and its Go module
    path is <host>/<owner>/<repo>: the command is that module's cmd/regctl.
    """
    text = (rules_oci / "oci" / "repositories.bzl").read_text()
    version = re.search(r'^REGCTL_VERSION\s*=\s*"([^"]+)"', text, re.M)
    url = re.search(r'"https://([^/"]+/[^/"]+/[^/"]+)/releases/download/\{version\}/regctl-', text)
    if not version or not url:
        raise PinError(f"{rules_oci}/oci/repositories.bzl: no REGCTL_VERSION or release URL")
    return GoTool(package=url.group(1) + "/cmd/regctl", version=version.group(1))


def python_full_version(rules_python: Path, minor: str) -> str:
    """The patch release rules_python maps a major.minor to (MINOR_MAPPING)."""
    text = (rules_python / "python" / "versions.bzl").read_text()
    block = re.search(r"^MINOR_MAPPING\s*=\s*\{(.*?)\}", text, re.S | re.M)
    pairs: list[tuple[str, str]] = (
        re.findall(r'"([^"]+)"\s*:\s*"([^"]+)"', block.group(1)) if block else []
    )
    mapping = dict(pairs)
    if minor not in mapping:
        raise PinError(f"{rules_python}/python/versions.bzl: no MINOR_MAPPING for {minor}")
    return mapping[minor]


def lookup(key: str, workspace: Path, registry: Path | None) -> str:
    pins = read_module_pins(workspace / "MODULE.bazel")
    if key == "go-sdk":
        return pins.go_sdk
    if key == "python":
        return pins.python
    if key.startswith("dep:"):
        return pins.dep(key[4:])
    if registry is None:
        raise PinError(f"{key} is read from a rule set's sources: pass --registry")
    if key == "python-full":
        return python_full_version(module_source(registry, pins, "rules_python"), pins.python)
    if key in ("regctl-version", "regctl-package"):
        tool = regctl(module_source(registry, pins, "rules_oci"))
        return tool.version if key == "regctl-version" else tool.package
    raise PinError(f"unknown key {key!r}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="bazel_real.pins", description=__doc__.splitlines()[0])
    ap.add_argument("--workspace", type=Path, required=True)
    ap.add_argument("--registry", type=Path, help="local registry (for rule sets' own pins)")
    ap.add_argument("key")
    args = ap.parse_args(argv)
    try:
        print(lookup(args.key, args.workspace, args.registry))
    except PinError as e:
        print(f"ERROR: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
