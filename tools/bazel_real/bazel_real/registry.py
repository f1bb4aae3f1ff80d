"""A local Bazel registry (the BCR's layout) built from git snapshots, for offline resolution.

Layout written under OUT:
  bazel_registry.json                    {"mirrors": [], "module_base_path": "sources"}
  modules/<name>/metadata.json           the BCR's
  modules/<name>/<version>/MODULE.bazel  the BCR's, for EVERY published version, so module
                                         resolution sees exactly what it would see online
  modules/<name>/<version>/source.json   {"type": "local_path", "path": "<name>/<version>"}
  sources/<name>/<version>/              the source tree (sources.py), only for the modules
                                         the modules file lists
  REPORT.txt                             one line per listed module: OK, or why not

A version without a source fails in Bazel with "path ... does not exist", naming the module,
instead of reaching for the network: add it to the modules file (`bazel mod graph` output).

  python3 -m bazel_real.registry build --bcr GITDIR --mirror DIR --out DIR --modules-file F
  python3 -m bazel_real.registry repos --bcr GITDIR --modules-file F   # snapshots needed
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from bazel_real import sources
from bazel_real.bcr import Bcr, repositories_of
from bazel_real.gitsnap import Snapshot

# The modules that decide the registry's contents.
_CODE = ("registry.py", "bcr.py", "sources.py", "gitsnap.py")


@dataclass(frozen=True)
class Module:
    name: str
    version: str

    @classmethod
    def parse(cls, text: str) -> Module:
        name, sep, version = text.partition("@")
        if not sep or not name or not version:
            raise ValueError(f"not NAME@VERSION: {text!r}")
        return cls(name, version)

    def __str__(self) -> str:
        return f"{self.name}@{self.version}"


def read_modules(path: Path) -> list[Module]:
    """NAME@VERSION a line; `#` starts a comment."""
    lines = (line.split("#")[0].strip() for line in path.read_text().splitlines())
    return sorted({Module.parse(line) for line in lines if line}, key=str)


def _keyed(pairs: list[str], what: str) -> dict[str, str]:
    """NAME@VERSION=VALUE arguments as a dict keyed by NAME@VERSION."""
    out = {}
    for p in pairs:
        key, sep, value = p.partition("=")
        if not sep:
            raise SystemExit(f"{what}: not NAME@VERSION=VALUE: {p!r}")
        out[str(Module.parse(key))] = value
    return out


def _inputs_digest(
    bcr_head: str, modules: list[Module], refs: dict[str, str], extra: dict[str, str]
) -> str:
    """What the registry was built from, this code included: a rebuild is due when it changes."""
    h = hashlib.sha256()
    for part in (bcr_head, *map(str, modules), *sorted(refs.items()), *sorted(extra.items())):
        h.update(repr(part).encode())
    for code in _CODE:
        h.update((Path(__file__).parent / code).read_bytes())
    return h.hexdigest()


def _write_index(bcr: Bcr, out: Path) -> None:
    """modules/ for every name and version the BCR has, each pointing at sources/."""
    index = out / "modules"
    shutil.rmtree(index, ignore_errors=True)
    for name in bcr.names():
        dst = index / name
        dst.mkdir(parents=True)
        meta = bcr.modules / name / "metadata.json"
        if meta.is_file():
            shutil.copy(meta, dst)
        for version in bcr.versions(name):
            (dst / version).mkdir()
            shutil.copy(bcr.version_dir(name, version) / "MODULE.bazel", dst / version)
            source = {"type": "local_path", "path": f"{name}/{version}"}
            (dst / version / "source.json").write_text(json.dumps(source, indent=2) + "\n")
    registry = {"mirrors": [], "module_base_path": "sources"}
    (out / "bazel_registry.json").write_text(json.dumps(registry, indent=2) + "\n")


def build(args: argparse.Namespace) -> int:
    out: Path = args.out
    snapshot = Snapshot(args.bcr, "bazelbuild/bazel-central-registry")
    modules = read_modules(args.modules_file)
    refs = _keyed(args.ref, "--ref")
    extra = _keyed(args.extra_module_dir, "--extra-module-dir")
    digest = _inputs_digest(snapshot.head(), modules, refs, extra)
    stamp = out / "INPUTS.sha256"
    if stamp.is_file() and stamp.read_text().strip() == digest:
        print(f"SUMMARY: {out} up to date: {len(modules)} module sources")
        return 0
    stamp.unlink(missing_ok=True)  # a half-built registry must not look up to date
    out.mkdir(parents=True, exist_ok=True)
    bcr = Bcr.export(snapshot, out / "bcr-raw")
    _write_index(bcr, out)
    shutil.rmtree(out / "sources", ignore_errors=True)
    outcomes = []
    for m in modules:
        key = str(m)
        outcomes.append(
            sources.extract(
                bcr,
                args.mirror,
                m.name,
                m.version,
                out / "sources" / m.name / m.version,
                ref_override=refs.get(key),
                extra_dir=Path(extra[key]) if key in extra else None,
            )
        )
    report = "\n".join(o.line for o in outcomes) + "\n"
    (out / "REPORT.txt").write_text(report)
    print(report, end="")
    if not all(o.ok for o in outcomes):
        return 1
    stamp.write_text(digest + "\n")
    print(f"SUMMARY: {len(outcomes)} module sources; index of {len(bcr.names())} BCR modules")
    return 0


def repos(args: argparse.Namespace) -> int:
    """The snapshots a registry of these modules needs (the contents of repos.txt)."""
    snapshot = Snapshot(args.bcr, "bazelbuild/bazel-central-registry")
    needed = {snapshot.name}
    for m in read_modules(args.modules_file):
        meta = snapshot.show("HEAD", f"modules/{m.name}/metadata.json")
        if meta is None:
            print(f"{m}: not in the BCR snapshot", file=sys.stderr)
            continue
        needed.update(repositories_of(json.loads(meta)))
    print("\n".join(sorted(needed)))
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="bazel_real.registry", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="write the registry (skipped when its inputs are unchanged)")
    b.add_argument("--bcr", type=Path, required=True, help="git dir of a BCR snapshot")
    b.add_argument("--mirror", type=Path, required=True, help="snapshots: <owner>+<repo>/repo")
    b.add_argument("--out", type=Path, required=True)
    b.add_argument("--modules-file", type=Path, required=True)
    b.add_argument(
        "--ref",
        action="append",
        default=[],
        help="NAME@VERSION=GITREF: export this ref; the snapshot lacks the version's tag",
    )
    b.add_argument(
        "--extra-module-dir",
        action="append",
        default=[],
        help="NAME@VERSION=DIR: take this module's source tree from DIR",
    )
    r = sub.add_parser("repos", help="print the repositories the modules file needs")
    r.add_argument("--bcr", type=Path, required=True)
    r.add_argument("--modules-file", type=Path, required=True)
    args = ap.parse_args(argv)
    return build(args) if args.command == "build" else repos(args)


if __name__ == "__main__":
    sys.exit(main())
