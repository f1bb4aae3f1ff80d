"""Run an image that Bazel built, without a container engine: umoci unpacks the OCI image
layout into a runtime bundle, runc runs it. Host tools, as root.

Checks the image's runtime config (user, working directory) and that the engine in it
lists every policy of the workspace.

The runtime config umoci writes gets the command given, and loses the cgroup and network
namespaces and the resource limits: a --version run needs none of them, and they need
privileges a nested container may lack (on the machine this was written on, umoci's
unmodified config runs too). Everything else (rootfs, user, cwd, env) is the image's.

  python3 -m bazel_real.oci_run --layout DIR --work DIR --policies DIR \\
      --user 65532:65532 --cwd /app -- /app/policy-engine --version
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bazel_real import policies

_REF = "bazel-real"  # the tag umoci needs; rules_oci writes index.json without one


class RunError(Exception):
    pass


@dataclass(frozen=True)
class Expect:
    uid: int
    gid: int
    cwd: str


def _tagged_copy(layout: Path, dest: Path) -> None:
    """Copy the layout (following Bazel's symlinks) and name its one manifest."""
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(layout, dest, symlinks=False)
    index_path = dest / "index.json"
    index = json.loads(index_path.read_text())
    manifests = index.get("manifests", [])
    if len(manifests) != 1:
        raise RunError(f"{layout}: want one manifest in index.json, found {len(manifests)}")
    manifests[0].setdefault("annotations", {})["org.opencontainers.image.ref.name"] = _REF
    index_path.write_text(json.dumps(index))


def _run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if r.returncode != 0:
        raise RunError(
            f"{' '.join(cmd)} exited {r.returncode}: {(r.stderr or r.stdout).strip()[:300]}"
        )
    return r


def _check_and_relax(config: dict[str, Any], expect: Expect, args: list[str]) -> list[str]:
    """Check the image's process settings, then adapt the config; returns what was checked."""
    process = config["process"]
    user = process.get("user", {})
    got = Expect(int(user.get("uid", -1)), int(user.get("gid", -1)), str(process.get("cwd")))
    if got != expect:
        raise RunError(f"the image runs as {got}, want {expect}")
    linux = config.setdefault("linux", {})
    linux["namespaces"] = [
        ns for ns in linux.get("namespaces", []) if ns.get("type") not in ("cgroup", "network")
    ]
    linux.pop("resources", None)
    process["args"] = args
    process["terminal"] = False
    return [f"uid {got.uid}", f"gid {got.gid}", f"cwd {got.cwd}"]


def run(layout: Path, work: Path, policies_dir: Path, expect: Expect, args: list[str]) -> str:
    image, bundle, state = work / "layout", work / "bundle", work / "runc"
    _tagged_copy(layout, image)
    shutil.rmtree(bundle, ignore_errors=True)
    _run(["umoci", "unpack", "--image", f"{image}:{_REF}", str(bundle)])
    config_path = bundle / "config.json"
    config = json.loads(config_path.read_text())
    checked = _check_and_relax(config, expect, args)
    config_path.write_text(json.dumps(config, indent=2))
    state.mkdir(parents=True, exist_ok=True)
    r = _run(
        ["runc", "--root", str(state), "run", "--bundle", str(bundle), f"bazel-real-{os.getpid()}"]
    )
    print(r.stdout + r.stderr, end="")
    diff = policies.compare(policies_dir, r.stdout)
    if diff:
        raise RunError(f"the image's engine: {diff}")
    return ", ".join(checked)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="bazel_real.oci_run", description=__doc__.splitlines()[0])
    ap.add_argument("--layout", type=Path, required=True, help="an OCI image layout (one image)")
    ap.add_argument("--work", type=Path, required=True, help="scratch: copy, bundle, runc state")
    ap.add_argument("--policies", type=Path, required=True, help="the workspace's policies/")
    ap.add_argument("--user", required=True, help="expected uid:gid")
    ap.add_argument("--cwd", required=True, help="expected working directory")
    ap.add_argument("args", nargs="+", help="the command to run in the image")
    a = ap.parse_args(argv)
    uid, gid = (int(x) for x in a.user.split(":"))
    try:
        checked = run(a.layout, a.work, a.policies, Expect(uid, gid, a.cwd), a.args)
    except (RunError, ValueError, OSError) as e:
        print(f"ERROR: {e}", file=sys.stderr)
        return 1
    print(f"SUMMARY: runc ran {' '.join(a.args)}: {checked}, every workspace policy listed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
