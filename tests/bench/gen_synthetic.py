"""Scale benchmark: N synthetic policies, then discover + validate + generate twice.

    python tests/bench/gen_synthetic.py --count 500

The first run does the work; the second, with no input change, must rewrite no file
(every output keeps its mtime). Prints both timings and fails (exit 1) when the second
run touched a file or the first took longer than --budget seconds.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from policy_builder.cli import main as cli

ENGINE = "github.com/policy-engine-builder/policy-engine"

GO = """package {pkg}

import "{engine}/worker/policies"

type policy struct{{ n int }}

func GetPolicy(metadata policies.PolicyMetadata, params map[string]interface{{}}) (policies.Policy, error) {{
	return &policy{{n: {n}}}, nil
}}

func (p *policy) Name() string {{ return "{name}" }}

func (p *policy) Validate(config map[string]interface{{}}) error {{ return nil }}

func (p *policy) ExecuteRequest(ctx *policies.RequestContext, config map[string]interface{{}}) *policies.RequestPolicyAction {{
	return policies.SetRequestHeaders(map[string]string{{"x-synthetic": "{name}"}})
}}
"""


def generate(root: Path, count: int) -> None:
    """root/synthetic-NNNN/v1.0.0/ for NNNN in 0..count-1; existing files are kept as is."""
    for i in range(count):
        name = f"synthetic{i:04d}"
        d = root / f"synthetic-{i:04d}" / "v1.0.0"
        if d.exists():
            continue
        d.mkdir(parents=True)
        (d / "policy.yaml").write_text(
            f"name: {name}\nversion: v1.0.0\ndescription: synthetic policy {i}\n"
            "parameters:\n  - name: value\n    type: string\n"
        )
        # Every package is called `policy`: the generator's aliases keep them apart.
        (d / "policy.go").write_text(GO.format(pkg="policy", engine=ENGINE, n=i, name=name))
        (d / "go.mod").write_text(
            f"module example.com/synthetic/{name}\n\ngo 1.24\n\n"
            f"require {ENGINE} v0.0.0-00010101000000-000000000000\n"
        )
        # The only requirement is the in-repo engine: no checksums (Bazel's go_deps reads it).
        (d / "go.sum").write_text("")


def mtimes(root: Path) -> dict[str, int]:
    return {
        str(p.relative_to(root)): p.stat().st_mtime_ns
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@dataclass(frozen=True)
class Result:
    first: float
    second: float
    rewritten: list[str]


def run(workdir: Path, count: int) -> Result:
    policies, output = workdir / "policies", workdir / "output"
    generate(policies, count)
    # `build` without its compile and package phases: discover + validate + generate into
    # OUTPUT/generated (the `generate` command would write a monorepo's Bazel files).
    argv = [
        "build",
        "--policies",
        str(policies),
        "--output",
        str(output),
        "--skip-compilation",
        "--skip-package",
        "--quiet",
    ]
    start = time.monotonic()
    if cli(argv) != 0:
        raise SystemExit("first run failed")
    first = time.monotonic() - start
    before = mtimes(output)
    start = time.monotonic()
    if cli(argv) != 0:
        raise SystemExit("second run failed")
    second = time.monotonic() - start
    after = mtimes(output)
    return Result(first, second, sorted(k for k in after if before.get(k) != after[k]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--budget", type=float, default=10.0, help="seconds for the first run")
    parser.add_argument("--workdir", help="keep the policies and outputs here")
    args = parser.parse_args()
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="pb-bench-"))
    result = run(workdir, args.count)
    print(f"policies:            {args.count}")
    print(f"cpus:                {os.cpu_count()}")
    print(f"first run (new dir): {result.first:.2f}s  discover + validate + generate")
    print(f"second run (no-op): {result.second:.2f}s  files rewritten: {len(result.rewritten)}")
    if result.rewritten:
        print("rewritten: " + ", ".join(result.rewritten), file=sys.stderr)
        return 1
    if result.first > args.budget:
        print(f"first run took longer than the {args.budget:.0f}s budget", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
