"""`policy-builder generate` side by side with Gazelle on the same tree.

    python -m tests.bench.generate_vs_gazelle --count 500 --rounds 3 --gazelle .tools/bin/gazelle

The tree is this checkout (its tracked files) plus N synthetic policies. Each round runs,
in this order: ours cold, Gazelle cold, ours on a second checkout, ours with no change,
Gazelle with no change, ours on a CI checkout, then ours and Gazelle with one policy
edited. "Cold" is a fresh copy of the tree in a new directory (no
generated files for the synthetic policies) and, for ours, no cached results
(validation, engine listing, merges); Go's module and build caches and the Go helper
binary stay warm, as Gazelle's binary is built beforehand. "Second checkout" is another
fresh copy in another directory, with the results the cold run kept (a colleague's
checkout of the same new policies, a git worktree): Gazelle keeps nothing, so its cold
time stands for it. "CI checkout" copies the tree as the cold run left it (generated
files committed) to another directory, with the cache (a CI runner that restores it);
Gazelle's no-change time stands for it. "One policy edited" appends a comment to one
policy's Go file in both trees and runs each again.
Prints the median wall time of each, ours' phase medians, and fails (exit 1) when a run
fails or ours' no-change run rewrites a file.

Gazelle gets what `bazel run //:gazelle` gives it in a bzlmod workspace: a repo config
naming every Go module of the build list (as go_deps does), so no import is looked up on
the network. It runs over the directories ours generates for (engine/ and policies/),
with the root's `# gazelle:exclude policies` swapped for the `import` naming convention
ours uses, and a prefix for the synthetic policies, which have no BUILD file to read
their go.mod from.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from policy_builder.bazel.naming import repo_name

from tests.bench.gen_synthetic import generate

REPO = Path(__file__).resolve().parents[2]
# The file the "one policy edited" runs append a comment to.
EDITED = Path("policies/synthetic-0007/v1.0.0/policy.go")
# What names a workspace or the policies for ours; the bench names neither.
_NAMING_ENV = ("POLICY_ENGINE_HOME", "BUILD_WORKSPACE_DIRECTORY", "POLICIES_DIR", "OUTPUT_DIR")


@dataclass
class Times:
    ours_cold: list[float] = field(default_factory=list)
    gazelle_cold: list[float] = field(default_factory=list)
    ours_second: list[float] = field(default_factory=list)
    ours_nochange: list[float] = field(default_factory=list)
    gazelle_nochange: list[float] = field(default_factory=list)
    ours_ci: list[float] = field(default_factory=list)
    ours_edit: list[float] = field(default_factory=list)
    gazelle_edit: list[float] = field(default_factory=list)
    # Phase name -> seconds, per run, from ours' --json timings.
    phases_cold: list[dict[str, float]] = field(default_factory=list)
    phases_second: list[dict[str, float]] = field(default_factory=list)
    phases_nochange: list[dict[str, float]] = field(default_factory=list)
    phases_edit: list[dict[str, float]] = field(default_factory=list)


def copy_checkout(dest: Path) -> None:
    """The checkout's tracked files (no .venv, caches or build output) under dest."""
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True
    ).stdout
    for rel in filter(None, listed.decode().split("\0")):
        source = REPO / rel
        if source.is_file():
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def gazelle_tree(base: Path, dest: Path) -> None:
    shutil.copytree(base, dest, symlinks=True)
    root_build = dest / "BUILD.bazel"
    text = root_build.read_text()
    assert "# gazelle:exclude policies\n" in text, "the root BUILD.bazel changed; update the bench"
    root_build.write_text(
        text.replace("# gazelle:exclude policies\n", "# gazelle:go_naming_convention import\n")
    )
    registry = dest / "policies" / "BUILD.bazel"
    registry.write_text("# gazelle:prefix example.com/synthetic\n" + registry.read_text())


def repo_config(base: Path, dest: Path) -> None:
    """A WORKSPACE-style file with one go_repository per module of the build list."""
    env = {**os.environ, "GOWORK": str(base / "go.work"), "GOFLAGS": ""}
    listed = subprocess.run(
        ["go", "list", "-m", "-f", "{{.Path}}", "all"],
        cwd=base,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    dest.write_text(
        "".join(f'go_repository(name = "{repo_name(p)}", importpath = "{p}")\n' for p in listed)
    )


def mtimes(root: Path) -> dict[str, int]:
    return {
        str(p.relative_to(root)): p.stat().st_mtime_ns
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _timed(
    argv: list[str], cwd: Path, env: dict[str, str] | None = None
) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Run argv in cwd; the wall time it took (seconds) and its captured output."""
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    return time.perf_counter() - start, proc


def run_ours(tree: Path, cache: Path) -> tuple[float, dict[str, float]]:
    env = {k: v for k, v in os.environ.items() if k not in _NAMING_ENV}
    env["POLICY_BUILDER_CACHE"] = str(cache)
    tool = Path(sys.executable).with_name("policy-builder")
    took, proc = _timed([str(tool), "generate", "--json", "--quiet"], tree, env)
    if proc.returncode != 0:
        raise SystemExit(f"policy-builder generate failed in {tree}:\n{proc.stdout}{proc.stderr}")
    timings: dict[str, float] = json.loads(proc.stdout)["timings"]
    return took, timings


def run_gazelle(gazelle: Path, tree: Path, config: Path) -> float:
    argv = [str(gazelle), "-repo_root", str(tree), "-repo_config", str(config)]
    took, proc = _timed([*argv, str(tree / "engine"), str(tree / "policies")], tree)
    if proc.returncode != 0:
        raise SystemExit(f"gazelle failed in {tree}:\n{proc.stderr}")
    return took


def clear_results(cache: Path) -> None:
    """Forget every cached result (the databases); keep the Go helper binaries."""
    for entry in cache.iterdir():
        if entry.is_dir():
            shutil.rmtree(entry)
        elif ".sqlite" in entry.name:
            entry.unlink()


def bench(workdir: Path, count: int, rounds: int, gazelle: Path) -> tuple[Times, list[str]]:
    base, gazelle_base = workdir / "base", workdir / "gazelle-base"
    copy_checkout(base)
    generate(base / "policies", count)
    gazelle_tree(base, gazelle_base)
    config = workdir / "gazelle_repo_config"
    repo_config(base, config)
    cache = workdir / "cache"
    times = Times()
    rewritten: list[str] = []
    # One untimed run of each: builds the Go helper, warms Go's caches and the disk.
    warm = workdir / "warm"
    shutil.copytree(base, warm, symlinks=True)
    run_ours(warm, cache)
    shutil.rmtree(warm)
    shutil.copytree(gazelle_base, warm, symlinks=True)
    run_gazelle(gazelle, warm, config)
    shutil.rmtree(warm)
    for n in range(rounds):
        ours, theirs = workdir / f"ours-{n}", workdir / f"gazelle-{n}"
        shutil.copytree(base, ours, symlinks=True)
        shutil.copytree(gazelle_base, theirs, symlinks=True)
        clear_results(cache)
        took, phases = run_ours(ours, cache)
        times.ours_cold.append(took)
        times.phases_cold.append(phases)
        times.gazelle_cold.append(run_gazelle(gazelle, theirs, config))
        second = workdir / f"second-{n}"
        shutil.copytree(base, second, symlinks=True)
        took, phases = run_ours(second, cache)
        times.ours_second.append(took)
        times.phases_second.append(phases)
        shutil.rmtree(second)
        before = mtimes(ours)
        took, phases = run_ours(ours, cache)
        times.ours_nochange.append(took)
        times.phases_nochange.append(phases)
        after = mtimes(ours)
        rewritten += sorted(k for k in after if before.get(k) != after[k])
        times.gazelle_nochange.append(run_gazelle(gazelle, theirs, config))
        ci = workdir / f"ci-{n}"
        shutil.copytree(ours, ci, symlinks=True)
        took, _ = run_ours(ci, cache)
        times.ours_ci.append(took)
        shutil.rmtree(ci)
        for tree in (ours, theirs):
            with (tree / EDITED).open("a") as f:
                f.write(f"\n// edit {n}\n")
        took, phases = run_ours(ours, cache)
        times.ours_edit.append(took)
        times.phases_edit.append(phases)
        times.gazelle_edit.append(run_gazelle(gazelle, theirs, config))
        shutil.rmtree(ours)
        shutil.rmtree(theirs)
    return times, rewritten


def _median_phases(runs: list[dict[str, float]]) -> str:
    names = list(runs[0])
    return ", ".join(f"{n} {statistics.median(r.get(n, 0.0) for r in runs):.2f}" for n in names)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--gazelle", default=str(REPO / ".tools" / "bin" / "gazelle"))
    parser.add_argument("--workdir", help="keep the trees here (default: a temp dir, removed)")
    args = parser.parse_args()
    gazelle = Path(args.gazelle)
    if not gazelle.is_file():
        raise SystemExit(f"{gazelle} is missing; `make bench-generate` installs it")
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="pb-vs-gazelle-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        times, rewritten = bench(workdir.resolve(), args.count, args.rounds, gazelle)
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    med = statistics.median
    print(f"policies: {args.count}, rounds: {args.rounds}, cpus: {os.cpu_count()}")
    print("median wall time     ours     gazelle")
    print(f"cold              {med(times.ours_cold):6.2f}s  {med(times.gazelle_cold):6.2f}s")
    print(f"second checkout   {med(times.ours_second):6.2f}s  {med(times.gazelle_cold):6.2f}s")
    print(
        f"no change         {med(times.ours_nochange):6.2f}s  {med(times.gazelle_nochange):6.2f}s"
    )
    print(f"CI checkout       {med(times.ours_ci):6.2f}s  {med(times.gazelle_nochange):6.2f}s")
    print(f"one policy edited {med(times.ours_edit):6.2f}s  {med(times.gazelle_edit):6.2f}s")
    print(f"ours' phases, cold:      {_median_phases(times.phases_cold)}")
    print(f"ours' phases, second:    {_median_phases(times.phases_second)}")
    print(f"ours' phases, no change: {_median_phases(times.phases_nochange)}")
    print(f"ours' phases, one edit:  {_median_phases(times.phases_edit)}")
    for label, values in vars(times).items():
        if not label.startswith("phases"):
            print(f"  {label}: " + " ".join(f"{v:.2f}" for v in values))
    if rewritten:
        print("no-change run rewrote: " + ", ".join(sorted(set(rewritten))), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
