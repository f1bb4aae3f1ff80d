"""The copy of the project Bazel runs in, with its one edit: the Go SDK from a local archive.

The copy holds what git would commit (tracked and untracked files, not ignored ones), so a
run sees uncommitted edits but never the project's own bazel-* symlinks or .venv.

go_sdk.download(version = V) would download Go V's release archive. The edit keeps the
version and adds `sdks` and `urls` pointing at a tarball of the host's Go tree, which must
be release V (checked): the SDK is the same compiler, only its origin differs.

  python3 -m bazel_real.workspace --project DIR --dest DIR --goroot DIR --downloads DIR
"""

from __future__ import annotations

import argparse
import hashlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

from bazel_real.pins import PinError, read_module_pins

_DOWNLOAD_CALL = re.compile(r'go_sdk\.download\(\s*version\s*=\s*"([^"]+)"\s*,?\s*\)')


def copy_tree(project: Path, dest: Path) -> int:
    """Replace DEST with the project's tracked and untracked, not ignored, files."""
    listing = subprocess.run(
        ["git", "ls-files", "-z", "-co", "--exclude-standard"],
        cwd=project,
        capture_output=True,
        check=True,
    ).stdout
    files = [f for f in listing.decode().split("\0") if f and (project / f).exists()]
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    for rel in files:
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(project / rel, dest / rel, follow_symlinks=False)
    return len(files)


def host_go_version(goroot: Path) -> str:
    """The release of a Go tree, from its VERSION file ("go1.26.8" on the first line)."""
    return (goroot / "VERSION").read_text().splitlines()[0].removeprefix("go")


def go_archive(goroot: Path, downloads: Path) -> Path:
    """A tarball of GOROOT whose top directory is `go/`, like the release archive's."""
    version = host_go_version(goroot)
    tarball = downloads / f"go{version}.linux-amd64.tar"
    if not tarball.is_file():
        downloads.mkdir(parents=True, exist_ok=True)
        partial = tarball.with_suffix(".partial")
        subprocess.run(
            [
                "tar",
                "-cf",
                str(partial),
                "-C",
                str(goroot.parent),
                f"--transform=s,^{re.escape(goroot.name)},go,",
                goroot.name,
            ],
            check=True,
        )
        partial.rename(tarball)
    return tarball


def point_go_sdk_at(module_bazel: Path, tarball: Path) -> None:
    text = module_bazel.read_text()
    m = _DOWNLOAD_CALL.search(text)
    if not m:
        raise PinError(f"{module_bazel}: no plain go_sdk.download(version = ...) to edit")
    with tarball.open("rb") as f:
        sha256 = hashlib.file_digest(f, "sha256").hexdigest()
    edited = (
        f'go_sdk.download(version = "{m.group(1)}", '
        f'sdks = {{"linux_amd64": ("{tarball.name}", "{sha256}")}}, '
        f'urls = ["file://{tarball.parent}/{{}}"])'
    )
    module_bazel.write_text(text.replace(m.group(0), edited))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="bazel_real.workspace", description=__doc__.splitlines()[0])
    ap.add_argument("--project", type=Path, required=True)
    ap.add_argument("--dest", type=Path, required=True)
    ap.add_argument("--goroot", type=Path, required=True, help="the host's Go tree")
    ap.add_argument("--downloads", type=Path, required=True, help="where the Go tarball goes")
    args = ap.parse_args(argv)
    try:
        pinned = read_module_pins(args.project / "MODULE.bazel").go_sdk
        host = host_go_version(args.goroot)
        if host != pinned:
            raise PinError(f"host Go {host} is not MODULE.bazel's {pinned}: set GOROOT_HOST")
        count = copy_tree(args.project, args.dest)
        point_go_sdk_at(args.dest / "MODULE.bazel", go_archive(args.goroot, args.downloads))
    except PinError as e:
        print(f"ERROR: {e}", file=sys.stderr)
        return 1
    print(f"SUMMARY: {count} files copied to {args.dest}; Go SDK {host} from the host's tree")
    return 0


if __name__ == "__main__":
    sys.exit(main())
