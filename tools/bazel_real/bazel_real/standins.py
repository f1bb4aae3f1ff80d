"""Stand-ins for the repositories Bazel downloads at fetch time (release binaries, the
base image, the Python interpreter), passed as --override_repository=<canonical>=<dir>.

Each declares the targets the real repository's BUILD file declares (the BUILD files here
are those the rule sets generate), backed by:
  - a binary built from source by run.sh's `tools` step (regctl, bazel-lib's Go tools):
    copied in, as the release binary would be;
  - the chroot's Debian tool (jq, zstd, bsdtar, coreutils, python3): a wrapper script
    exec'ing it, since those binaries are dynamically linked against the chroot's libc;
  - a stub that fails if run (bats: nothing here runs it; analysis needs the target);
  - fabricated data (the base image, base_image.py).
Every stand-in's STANDIN.txt says what the real thing is and what replaces it.

Canonical names are Bazel 7's (`module~~extension~repo`); Bazel 8 spells them with `+`.

  python3 -m bazel_real.standins --workspace DIR --registry DIR --tools DIR --out DIR
  prints the --override_repository flags, one a line.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bazel_real import base_image
from bazel_real.pins import PinError, module_source, python_full_version, read_module_pins


@dataclass(frozen=True)
class Text:
    content: str
    mode: int = 0o644


@dataclass(frozen=True)
class Symlink:
    target: str


@dataclass(frozen=True)
class Copy:
    """A file built elsewhere (the tools step's output), copied in as an executable."""

    source: Path


@dataclass(frozen=True)
class StandIn:
    canonical: str
    real: str  # what Bazel would download
    ours: str  # what replaces it
    files: dict[str, Text | Symlink | Copy]
    fill: Callable[[Path], None] | None = field(default=None, compare=False)

    def write(self, out: Path) -> Path:
        d = out / self.canonical
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
        (d / "REPO.bazel").write_text("")
        (d / "STANDIN.txt").write_text(f"real: {self.real}\nstand-in: {self.ours}\n")
        for rel, what in self.files.items():
            p = d / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(what, Symlink):
                os.symlink(what.target, p)
            elif isinstance(what, Copy):
                shutil.copyfile(what.source, p)
                p.chmod(0o755)
            else:
                p.write_text(what.content)
                p.chmod(what.mode)
        if self.fill is not None:
            self.fill(d)
        return d


def wrapper(tool: str) -> Text:
    """A script running the chroot's tool of that path."""
    return Text(f'#!/bin/sh\nexec {tool} "$@"\n', 0o755)


def stub(name: str) -> Text:
    return Text(
        f"#!/bin/sh\necho 'bazel_real stand-in for {name}: not the real tool' >&2\nexit 1\n", 0o755
    )


# uutils' coreutils is a multi-call binary (`coreutils CMD ARGS`); GNU's are one per command.
COREUTILS = Text('#!/bin/sh\ncmd="$1"; shift\nexec "/usr/bin/$cmd" "$@"\n', 0o755)

# bazel-lib's own Go tools: its release archive's tools/integrity.bzl lists the release
# binaries' hashes; the git tag's copy is a placeholder, so they are built from the tag.
BAZEL_LIB_GO_TOOLS = ("copy_to_directory", "copy_directory", "expand_template")
BAZEL_LIB_MODULES = ("bazel_lib", "aspect_bazel_lib")


def _toolchain_build(module: str, kind: str, attr: str, binary: str, extra: str = "") -> Text:
    """A BUILD file like bazel-lib's toolchain repositories write for <kind>_toolchain."""
    return Text(
        f'load("@{module}//lib/private:{kind}_toolchain.bzl", "{kind}_toolchain")\n\n'
        'package(default_visibility = ["//visibility:public"])\n\n'
        f'exports_files(["{binary}"])\n\n'
        f'{kind}_toolchain(name = "{kind}_toolchain", {attr} = "{binary}"{extra})\n'
    )


def _bats(module: str) -> StandIn:
    build = f"""\
load("@platforms//host:constraints.bzl", "HOST_CONSTRAINTS")
load("@{module}//lib:copy_to_directory.bzl", "copy_to_directory")
load("@{module}//lib/private:bats_toolchain.bzl", "bats_toolchain")

copy_to_directory(
    name = "core",
    srcs = glob(["lib/**", "libexec/**"]) + ["bin/bats"],
    out = "bats-core",
    hardlink = "on",
)

bats_toolchain(
    name = "toolchain",
    core = ":core",
    libraries = ["@bats_support//:support", "@bats_assert//:assert", "@bats_file//:file"],
)

toolchain(
    name = "bats_toolchain",
    exec_compatible_with = HOST_CONSTRAINTS,
    toolchain = ":toolchain",
    toolchain_type = "@{module}//lib:bats_toolchain_type",
)
"""
    return StandIn(
        f"{module}~~toolchains~bats_toolchains",
        "bats-core release archive",
        "bin/bats only, a stub (nothing here runs bats; toolchain resolution loads it)",
        {"BUILD.bazel": Text(build), "bin/bats": stub("bats")},
    )


def _bazel_lib_toolchains(tools: Path) -> list[StandIn]:
    out = []
    for m in BAZEL_LIB_MODULES:
        out.append(
            StandIn(
                f"{m}~~toolchains~coreutils_linux_amd64",
                "uutils coreutils release binary",
                "wrapper dispatching to the chroot's GNU coreutils",
                {
                    "BUILD.bazel": _toolchain_build(m, "coreutils", "binary", "coreutils"),
                    "coreutils": COREUTILS,
                },
            )
        )
        out.append(
            StandIn(
                f"{m}~~toolchains~zstd_linux_amd64",
                "zstd-prebuilt release binary",
                "wrapper for the chroot's zstd",
                {
                    "BUILD.bazel": _toolchain_build(m, "zstd", "binary", "zstd"),
                    "zstd": wrapper("/usr/bin/zstd"),
                },
            )
        )
        for tool in BAZEL_LIB_GO_TOOLS:
            built = tools / m / tool
            if not built.is_file():
                raise PinError(f"{built} does not exist: run the tools step first")
            out.append(
                StandIn(
                    f"{m}~~toolchains~{tool}_linux_amd64",
                    f"{m} {tool} release binary",
                    f"built from the pinned tag's tools/{tool} with the host Go",
                    {
                        "BUILD.bazel": _toolchain_build(m, tool, "bin", tool),
                        tool: Copy(built),
                    },
                )
            )
        out.append(_bats(m))
    out.append(
        StandIn(
            "aspect_bazel_lib~~toolchains~jq_linux_amd64",
            "jq release binary",
            "wrapper for the chroot's jq",
            {
                "BUILD.bazel": _toolchain_build("aspect_bazel_lib", "jq", "bin", "jq"),
                "jq": wrapper("/usr/bin/jq"),
            },
        )
    )
    # aspect_bazel_lib 2.22 registers a bsdtar toolchain of its own, which wins toolchain
    # resolution for tar.bzl's `tar` too: both need a stand-in.
    out.append(
        StandIn(
            "aspect_bazel_lib~~toolchains~bsd_tar_linux_amd64",
            "bsdtar-prebuilt release binary",
            "wrapper for the chroot's bsdtar (libarchive-tools)",
            {
                "BUILD.bazel": Text(
                    'load("@aspect_bazel_lib//lib/private:tar_toolchain.bzl", "tar_toolchain")\n\n'
                    'package(default_visibility = ["//visibility:public"])\n\n'
                    'tar_toolchain(name = "bsdtar_toolchain", binary = "tar")\n'
                ),
                "tar": wrapper("/usr/bin/bsdtar"),
            },
        )
    )
    out.append(
        StandIn(
            "tar.bzl~~toolchains~bsd_tar_toolchains_linux_amd64",
            "bsdtar-prebuilt release binary",
            "wrapper for the chroot's bsdtar (libarchive-tools)",
            {
                "BUILD.bazel": Text(
                    'load("@tar.bzl//tar/toolchain:toolchain.bzl", "tar_toolchain")\n\n'
                    'package(default_visibility = ["//visibility:public"])\n\n'
                    'tar_toolchain(name = "bsdtar_toolchain", binary = "tar")\n'
                ),
                "tar": wrapper("/usr/bin/bsdtar"),
            },
        )
    )
    return out


def _regctl(tools: Path) -> StandIn:
    built = tools / "regctl"
    if not built.is_file():
        raise PinError(f"{built} does not exist: run the tools step first")
    return StandIn(
        "rules_oci~~oci~oci_regctl_linux_amd64",
        "regctl release binary",
        "built from its Go module at the version rules_oci pins, with the host Go",
        {
            "BUILD.bazel": Text(
                'load("@rules_oci//oci:toolchain.bzl", "regctl_toolchain")\n\n'
                'regctl_toolchain(name = "regctl_toolchain", regctl = "regctl")\n'
            ),
            "regctl": Copy(built),
        },
    )


def _base_images(workspace: Path, registry: Path) -> list[StandIn]:
    pins = read_module_pins(workspace / "MODULE.bazel")
    templates = base_image.PullTemplates.read(module_source(registry, pins, "rules_oci"))
    out = []
    for pull in pins.oci_pulls:
        for platform in pull.platforms:
            os_name, arch = platform.split("/")
            name = f"{pull.name}_{os_name}_{arch}"

            def fill(d: Path, os_name: str = os_name, arch: str = arch) -> None:
                base_image.write_layout(d, os_name, arch)

            out.append(
                StandIn(
                    f"rules_oci~~oci~{name}",
                    f"{pull.image}@{pull.digest} ({platform}), pulled",
                    "FABRICATED one-layer image (/etc/passwd, /etc/group with nonroot 65532)",
                    {
                        "BUILD.bazel": Text(templates.build_for(pull, name)),
                        "REPO.bazel": Text(templates.repo_file),
                    },
                    fill,
                )
            )
    return out


def _python(workspace: Path, registry: Path) -> StandIn:
    """python-build-standalone's layout, running the chroot's python3 (Debian sid's, the same
    minor as MODULE.bazel pins, so wheels built for that minor load for real)."""
    pins = read_module_pins(workspace / "MODULE.bazel")
    minor = pins.python
    full = python_full_version(module_source(registry, pins, "rules_python"), minor)
    setup = "@rules_python//python/private:hermetic_runtime_repo_setup.bzl"
    build = f"""\
load("{setup}", "define_hermetic_runtime_toolchain_impl")

package(default_visibility = ["//visibility:public"])

define_hermetic_runtime_toolchain_impl(
    name = "define_runtime",
    extra_files_glob_include = ["lib/**"],
    extra_files_glob_exclude = ["**/__pycache__/*.pyc*", "**/__pycache__/*.pyo*"],
    python_version = "{full}",
    python_bin = "bin/python3",
    coverage_tool = None,
)
"""
    # The files the runtime's BUILD globs or names must exist; placeholders do.
    return StandIn(
        f"rules_python~~python~python_{minor.replace('.', '_')}_x86_64-unknown-linux-gnu",
        f"python-build-standalone CPython {full} install_only archive",
        f"bin/python3 runs the chroot's /usr/bin/python3 ({minor}.x); headers, libs: placeholders",
        {
            "BUILD.bazel": Text(build),
            "bin/python3": wrapper("/usr/bin/python3"),
            "python": Symlink("bin/python3"),
            # The marker rules_python's python_repository writes.
            "STANDALONE_INTERPRETER": Text(
                "# File intentionally left blank. Indicates that this is an interpreter repo"
                " created by rules_python.\n"
            ),
            f"include/python{minor}/Python.h": Text("/* bazel_real stand-in */\n"),
            f"lib/libpython{minor}.so": Text(""),
            f"lib/libpython{minor}.so.1.0": Text(""),
            f"lib/python{minor}/os.py": Text("# bazel_real stand-in\n"),
        },
    )


def all_standins(workspace: Path, registry: Path, tools: Path) -> list[StandIn]:
    return [
        *_bazel_lib_toolchains(tools),
        _regctl(tools),
        *_base_images(workspace, registry),
        _python(workspace, registry),
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="bazel_real.standins", description=__doc__.splitlines()[0])
    ap.add_argument("--workspace", type=Path, required=True, help="the project (MODULE.bazel)")
    ap.add_argument("--registry", type=Path, required=True, help="the local registry")
    ap.add_argument("--tools", type=Path, required=True, help="the tools step's output")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    try:
        standins = all_standins(args.workspace, args.registry, args.tools)
    except PinError as e:
        print(f"ERROR: {e}", file=sys.stderr)
        return 1
    shutil.rmtree(args.out, ignore_errors=True)
    for s in standins:
        print(f"--override_repository={s.canonical}={s.write(args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
