"""Two Bazel builds' execution logs (--execution_log_json_file), compared spawn by spawn.

A spawn's remote cache key is its action digest (the log's `digest`), made of its command
line, environment, platform and every input's path and content digest. Spawns of two builds
are matched by their outputs, whose paths are relative to the execution root and so the same
on every machine; where two matched spawns' digests differ, the parts that differ say why.

  python3 -m bazel_real.execlog cache --first LOG --second LOG [--first-output F
      --second-output F] [--first-execroot DIR --second-execroot DIR]
    The second build, run against the remote cache the first one filled: Bazel's own process
    summary and, for every spawn that ran locally, what differs from the first build's.
    Exit 1 if a compile or link ran locally.
  python3 -m bazel_real.execlog stamp --plain LOG --release LOG [--plain-execroot DIR
      --release-execroot DIR]
    The spawns a release build (--stamp) changes or adds. Exit 1 if one of them reads no
    workspace status file, neither directly nor through another's outputs, or if a spawn of
    the plain build is missing.

--*-output is the build's stderr (Bazel's "N processes: ..." and "Elapsed time" lines);
--*-execroot (`bazel info execution_root`) lets the report show how a changed text input
such as a params file differs.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Spawns that compile or link code: the work a remote cache exists to save.
BUILDS_CODE = re.compile(r"Compile|Link|Stdlib|BinaryBuild|Javac")
# Bazel's workspace status files: only stamped actions read them.
STATUS_FILES = ("bazel-out/stable-status.txt", "bazel-out/volatile-status.txt")
_PROCESSES = re.compile(r"^INFO: (\d+) process(?:es)?(?:: (.*?))?\.?$", re.M)
_ELAPSED = re.compile(r"^INFO: Elapsed time: ([0-9.]+)s", re.M)
_TEXT_DIFF_MAX_BYTES = 1 << 20
_SHOWN = 4  # differing items shown per kind and spawn


class LogError(Exception):
    pass


@dataclass(frozen=True)
class Spawn:
    mnemonic: str
    target: str
    outputs: tuple[str, ...]
    args: tuple[str, ...]
    env: dict[str, str] = field(compare=False)
    platform: dict[str, str] = field(compare=False)
    inputs: dict[str, str] = field(compare=False)  # path -> content digest or symlink target
    digest: str
    cache_hit: bool
    runner: str
    remote_cacheable: bool

    def name(self) -> str:
        return f"{self.mnemonic} {self.target}"


def _pairs(items: list[dict[str, str]]) -> dict[str, str]:
    return {i["name"]: i.get("value", "") for i in items}


def _spawn(raw: dict[str, Any]) -> Spawn:
    inputs = {
        i["path"]: i.get("digest", {}).get("hash", "") or "-> " + i.get("symlinkTargetPath", "")
        for i in raw.get("inputs", [])
    }
    return Spawn(
        mnemonic=raw.get("mnemonic", ""),
        target=raw.get("targetLabel", ""),
        outputs=tuple(sorted(raw.get("listedOutputs", []))),
        args=tuple(raw.get("commandArgs", [])),
        env=_pairs(raw.get("environmentVariables", [])),
        platform=_pairs(raw.get("platform", {}).get("properties", [])),
        inputs=inputs,
        digest=raw.get("digest", {}).get("hash", ""),
        cache_hit=bool(raw.get("cacheHit", False)),
        runner=raw.get("runner", ""),
        remote_cacheable=bool(raw.get("remoteCacheable", False)),
    )


def _objects(text: str) -> Iterator[dict[str, Any]]:
    """The log's JSON objects: Bazel 7 writes them one after another, not as an array."""
    decoder = json.JSONDecoder()
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos == len(text):
            return
        obj, pos = decoder.raw_decode(text, pos)
        yield obj


def read_log(path: Path) -> list[Spawn]:
    try:
        spawns = [_spawn(o) for o in _objects(path.read_text())]
    except (OSError, ValueError) as e:
        raise LogError(f"{path}: {e}") from e
    if not spawns:
        raise LogError(f"{path}: no spawns")
    return spawns


def by_outputs(spawns: list[Spawn]) -> dict[tuple[str, ...], Spawn]:
    return {s.outputs: s for s in spawns}


def producers(spawns: list[Spawn]) -> dict[str, Spawn]:
    """Output path -> the spawn that wrote it."""
    return {out: s for s in spawns for out in s.outputs}


def produced_by(path: str, outputs: dict[str, Spawn]) -> Spawn | None:
    """The spawn whose output is PATH, or a directory (tree artifact) holding it."""
    parts = path.split("/")
    for n in range(len(parts), 0, -1):
        spawn = outputs.get("/".join(parts[:n]))
        if spawn is not None:
            return spawn
    return None


def _shown(items: list[str]) -> str:
    more = f", … {len(items) - _SHOWN} more" if len(items) > _SHOWN else ""
    return ", ".join(items[:_SHOWN]) + more


def _text_diff(rel: str, roots: tuple[Path, Path] | None) -> list[str]:
    """A few unified-diff lines of a changed input both execution roots still hold."""
    if roots is None:
        return []
    try:
        texts = []
        for root in roots:
            p = root / rel
            if p.stat().st_size > _TEXT_DIFF_MAX_BYTES:
                return []
            texts.append(p.read_text().splitlines())
    except (OSError, UnicodeDecodeError):
        return []
    lines = _changes(texts[0], texts[1])
    return lines[:8] + ([f"… {len(lines) - 8} more lines"] if len(lines) > 8 else [])


@dataclass
class Explanation:
    """Why two spawns with the same outputs have different keys."""

    # Differences of their own, as (kind, what): kind is "arguments", "environment",
    # "platform", "inputs added", "inputs removed" or "inputs changed".
    own: list[tuple[str, str]] = field(default_factory=list)
    cascade: list[str] = field(default_factory=list)  # inputs other changed spawns wrote
    details: list[str] = field(default_factory=list)  # text diffs of changed inputs

    def lines(self) -> list[str]:
        lines = [f"{kind}: {what}" for kind, what in self.own]
        if self.cascade:
            lines.append(f"inputs written by other changed spawns: {_shown(self.cascade)}")
        return lines + self.details


def _changes(old: list[str], new: list[str]) -> list[str]:
    return [
        line
        for line in difflib.unified_diff(old, new, lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


def explain(
    old: Spawn,
    new: Spawn,
    new_outputs: dict[str, Spawn],
    roots: tuple[Path, Path] | None = None,
) -> Explanation:
    why = Explanation()
    if old.args != new.args:
        why.own.append(("arguments", _shown(_changes(list(old.args), list(new.args)))))
    env = sorted(k for k in old.env.keys() | new.env.keys() if old.env.get(k) != new.env.get(k))
    if env:
        values = [f"{k}={old.env.get(k, '(unset)')!r}→{new.env.get(k, '(unset)')!r}" for k in env]
        why.own.append(("environment", _shown(values)))
    if old.platform != new.platform:
        why.own.append(("platform", f"{old.platform} → {new.platform}"))
    added = sorted(new.inputs.keys() - old.inputs.keys())
    removed = sorted(old.inputs.keys() - new.inputs.keys())
    if added:
        why.own.append(("inputs added", _shown(added)))
    if removed:
        why.own.append(("inputs removed", _shown(removed)))
    common = old.inputs.keys() & new.inputs.keys()
    changed = sorted(p for p in common if old.inputs[p] != new.inputs[p])
    own = []
    for path in changed:
        writer = produced_by(path, new_outputs)
        if writer is not None:
            why.cascade.append(f"{path} (output of {writer.name()})")
        else:
            own.append(path)
            why.details += [f"  {path}: {line}" for line in _text_diff(path, roots)]
    if own:
        why.own.append(("inputs changed", _shown(own)))
    return why


def stamp_dependent(spawns: list[Spawn]) -> set[tuple[str, ...]]:
    """Spawns that read a workspace status file, directly or through others' outputs."""
    tainted: set[str] = set(STATUS_FILES)
    found: set[tuple[str, ...]] = set()
    grew = True
    while grew:
        grew = False
        for s in spawns:
            if s.outputs in found:
                continue
            if any(p in tainted or any(p.startswith(t + "/") for t in tainted) for p in s.inputs):
                found.add(s.outputs)
                tainted.update(s.outputs)
                grew = True
    return found


@dataclass(frozen=True)
class BuildOutput:
    """What Bazel printed at the end of a build."""

    processes: int | None
    kinds: dict[str, int]  # "remote cache hit", "internal", "processwrapper-sandbox", …
    elapsed: float | None

    @classmethod
    def read(cls, path: Path | None) -> BuildOutput:
        text = path.read_text(errors="replace") if path else ""
        procs = _PROCESSES.findall(text)
        kinds: dict[str, int] = {}
        if procs:
            for part in (procs[-1][1] or "").split(", "):
                count, _, kind = part.partition(" ")
                if count.isdigit():
                    kinds[kind] = int(count)
        elapsed = _ELAPSED.findall(text)
        return cls(
            processes=int(procs[-1][0]) if procs else None,
            kinds=kinds,
            elapsed=float(elapsed[-1]) if elapsed else None,
        )


def _roots(a: Path | None, b: Path | None) -> tuple[Path, Path] | None:
    return (a, b) if a is not None and b is not None else None


def _seconds(value: float | None) -> str:
    return f"{value:.0f}s" if value is not None else "?"


def cache(args: argparse.Namespace) -> int:
    first, second = read_log(args.first), read_log(args.second)
    first_by = by_outputs(first)
    second_outputs = producers(second)
    roots = _roots(args.first_execroot, args.second_execroot)
    local = [s for s in second if not s.cache_hit]
    code = [s for s in local if BUILDS_CODE.search(s.mnemonic)]
    causes: list[str] = []  # "<spawn> (<kinds>)" of each miss with a cause of its own
    cascading = 0
    for s in local:
        print(f"RAN LOCALLY: {s.name()} -> {_shown(list(s.outputs))} (runner {s.runner})")
        old = first_by.get(s.outputs)
        if old is None:
            print("  the first build has no spawn with these outputs")
            causes.append(f"{s.name()} (new outputs)")
        elif old.digest == s.digest:
            why = "same key as in the first build, yet not served from the cache"
            if not (old.remote_cacheable and s.remote_cacheable):
                why += " (not remotely cacheable: a no-remote-cache tag?)"
            print(f"  {why}")
            causes.append(f"{s.name()} (same key)")
        else:
            e = explain(old, s, second_outputs, roots)
            print("\n".join(f"  {line}" for line in e.lines()))
            if e.own:
                causes.append(f"{s.name()} ({', '.join(kind for kind, _ in e.own)})")
            else:
                cascading += 1
    out1, out2 = BuildOutput.read(args.first_output), BuildOutput.read(args.second_output)
    hits = out2.kinds.get("remote cache hit", sum(s.cache_hit for s in second))
    # Bazel's count includes "internal" processes (symlinks, params files), which no cache holds.
    internal = out2.kinds.get("internal", 0)
    total = out2.processes - internal if out2.processes is not None else len(second)
    summary = (
        f"{hits}/{total} remote cache hits, {len(local)} spawns run locally ({len(code)} "
        f"compile/link); build {_seconds(out1.elapsed)} first, {_seconds(out2.elapsed)} second"
    )
    if causes or cascading:
        summary += f"; misses of their own: {_shown(causes) or 'none'}; through those: {cascading}"
    print(f"SUMMARY: {summary}")
    if code:
        names = _shown([s.name() for s in code])
        print(f"ERROR: {len(code)} compile/link spawn(s) ran locally: {names}", file=sys.stderr)
        return 1
    return 0


def _counted(names: list[str]) -> str:
    """Each name once, with how often it occurs when more than once (two platforms)."""
    counts = Counter(names)
    return _shown([f"{n} (x{c})" if c > 1 else n for n, c in sorted(counts.items())])


def stamp(args: argparse.Namespace) -> int:
    plain, release = read_log(args.plain), read_log(args.release)
    plain_by, release_by = by_outputs(plain), by_outputs(release)
    release_outputs = producers(release)
    roots = _roots(args.plain_execroot, args.release_execroot)
    dependent = stamp_dependent(release)
    changed = [
        s for s in release if s.outputs in plain_by and s.digest != plain_by[s.outputs].digest
    ]
    # A spawn only the release build has is fine if it reads workspace status: a stamped
    # expand_template runs a tool where the plain one is Bazel's internal action.
    added = [s for s in release if s.outputs not in plain_by]
    dropped = [s for s in plain if s.outputs not in release_by]
    unexpected = [s.name() for s in changed + added if s.outputs not in dependent]
    unexpected += [s.name() for s in dropped]
    for s in changed + added:
        stamped = " (depends on workspace status)" if s.outputs in dependent else ""
        kind = "CHANGED" if s in changed else "RELEASE ONLY"
        print(f"{kind}: {s.name()} -> {_shown(list(s.outputs))}{stamped}")
        if s in changed:
            e = explain(plain_by[s.outputs], s, release_outputs, roots)
            print("\n".join(f"  {line}" for line in e.lines()))
    for s in dropped:
        print(f"PLAIN ONLY: {s.name()} -> {_shown(list(s.outputs))}")
    names = _counted([s.name() for s in changed + added])
    print(
        f"SUMMARY: {len(changed) + len(added)}/{len(release)} spawns differ or are new "
        f"({names or 'none'}), {len(unexpected)} of them not stamped"
    )
    if unexpected:
        print(f"ERROR: changed by --stamp but not stamped: {_shown(unexpected)}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="bazel_real.execlog", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    c = sub.add_parser("cache", help="the second build's local spawns, against the first's")
    for side in ("first", "second"):
        c.add_argument(f"--{side}", type=Path, required=True, help="execution log (JSON)")
        c.add_argument(f"--{side}-output", type=Path, help="the build's stderr")
        c.add_argument(f"--{side}-execroot", type=Path, help="its execution root")
    c.set_defaults(run=cache)
    s = sub.add_parser("stamp", help="what a release build changes against a plain one")
    for side in ("plain", "release"):
        s.add_argument(f"--{side}", type=Path, required=True, help="execution log (JSON)")
        s.add_argument(f"--{side}-execroot", type=Path, help="its execution root")
    s.set_defaults(run=stamp)
    args = ap.parse_args(argv)
    try:
        rc: int = args.run(args)
    except LogError as e:
        print(f"ERROR: {e}", file=sys.stderr)
        return 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
