"""Does an engine binary compile in every policy of the workspace?

`policy-engine --version` prints "policies: name:version, ..." (engine/version.go); the
workspace's policies are policies/<dir>/<version dir>/policy.yaml, each with top-level
`name:` and `version:` keys. The two sets must be equal.

  python3 -m bazel_real.policies --policies DIR -- COMMAND...   runs COMMAND and checks it
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

# Top-level scalar keys only: enough for policy.yaml's name and version, and it keeps this
# tool on the standard library (it runs with the host's bare python3).
_TOP_LEVEL_KEY = re.compile(r"""^(name|version):\s*["']?([^"'#\s]+)["']?\s*(?:#.*)?$""", re.M)


def expected(policies_dir: Path) -> set[str]:
    found = set()
    for manifest in sorted(policies_dir.glob("*/*/policy.yaml")):
        keys = dict(_TOP_LEVEL_KEY.findall(manifest.read_text()))
        if "name" not in keys or "version" not in keys:
            raise ValueError(f"{manifest}: no top-level name: and version:")
        found.add(f"{keys['name']}:{keys['version']}")
    if not found:
        raise ValueError(f"{policies_dir}: no */*/policy.yaml")
    return found


def listed(version_output: str) -> set[str]:
    m = re.search(r"^policies: (.*)$", version_output, re.M)
    if not m:
        raise ValueError("no 'policies: ' line in the --version output")
    return {p.strip() for p in m.group(1).split(",") if p.strip()}


def compare(policies_dir: Path, version_output: str) -> str | None:
    """None if the output lists exactly the workspace's policies, else what differs."""
    want, got = expected(policies_dir), listed(version_output)
    if want == got:
        return None
    return f"missing {sorted(want - got)}, unexpected {sorted(got - want)}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="bazel_real.policies", description=__doc__.splitlines()[0])
    ap.add_argument("--policies", type=Path, required=True, help="the workspace's policies/")
    ap.add_argument("command", nargs="+", help="the engine's --version command line")
    args = ap.parse_args(argv)
    r = subprocess.run(args.command, capture_output=True, text=True, check=False)
    print(r.stdout + r.stderr, end="")
    try:
        if r.returncode != 0:
            raise ValueError(f"{' '.join(args.command)} exited {r.returncode}")
        diff = compare(args.policies, r.stdout)
        if diff:
            raise ValueError(f"the engine's policies differ from the workspace's: {diff}")
    except ValueError as e:
        print(f"ERROR: {e}", file=sys.stderr)
        return 1
    names = ", ".join(sorted(listed(r.stdout)))
    print(f"SUMMARY: lists the workspace's {len(listed(r.stdout))} policies: {names}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
