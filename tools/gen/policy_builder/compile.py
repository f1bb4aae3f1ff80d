"""Phase 4, compilation in a scratch directory: copy the engine and the policies, tie
them with a go.work, add the generated files, and `go build` a static, reproducible binary.

The user's policies directory and the engine sources are only ever read.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from policy_builder.bazel.gowork import render_go_work
from policy_builder.errors import CompileFailed, ToolMissing
from policy_builder.generate_go import GO_FILES
from policy_builder.gotool import BUILD_FLAGS, build_env, go_binary
from policy_builder.home import BUILDINFO_PACKAGE, ENGINE_MODULE, Home
from policy_builder.manifest import Manifest
from policy_builder.settings import Settings
from policy_builder.writer import write_files

BINARY = "policy-engine"


@dataclass(frozen=True)
class Workspace:
    root: Path

    @property
    def engine(self) -> Path:
        return self.root / "engine"

    @property
    def policies(self) -> Path:
        return self.root / "policies"

    @property
    def go_work(self) -> Path:
        return self.root / "go.work"


def _ignore_hidden(_dir: str, names: list[str]) -> set[str]:
    return {n for n in names if n.startswith(".")}


def _go_env(ws: Workspace, settings: Settings | None = None) -> dict[str, str]:
    # Hermetic: the user's GOFLAGS (say -mod=mod) and GOTOOLCHAIN must not change the build.
    env = build_env(GOWORK=str(ws.go_work))
    if settings is not None:
        env.update(GOOS=settings.goos, GOARCH=settings.goarch)
    return env


def go_work_text(manifest: Manifest, engine_go: str) -> str:
    """go.work of the scratch directory: the engine and each policy, relative."""
    versions = [engine_go] + [p.go_mod.go_version for p in manifest.policies if p.go_mod]
    dirs = ["engine"] + [f"policies/{p.rel_path}" for p in manifest.policies]
    # Policies require the engine at a version no module proxy has; each such version is
    # pinned to the engine copy so that `go list -m all` needs no download.
    replaces = [
        (ENGINE_MODULE, version, "engine")
        for p in manifest.policies
        if p.go_mod
        for module, version in p.go_mod.requires
        if module == ENGINE_MODULE
    ]
    return render_go_work(versions, dirs, replaces)


def engine_go_version(home: Home) -> str:
    for line in (home.engine_dir / "go.mod").read_text().splitlines():
        if line.startswith("go "):
            return line.split()[1]
    return "1.24"


def prepare(manifest: Manifest, home: Home, root: Path, generated: dict[str, str]) -> Workspace:
    """Fill root with the engine, the policies, go.work and the generated Go files."""
    ws = Workspace(root)
    if ws.engine.exists():
        shutil.rmtree(ws.engine)
    if ws.policies.exists():
        shutil.rmtree(ws.policies)
    shutil.copytree(home.engine_dir, ws.engine, ignore=_ignore_hidden)
    for name in GO_FILES:
        (ws.engine / name).unlink(missing_ok=True)
    # The whole policies tree, so replace directives between policies keep resolving.
    shutil.copytree(manifest.policies_dir, ws.policies, ignore=_ignore_hidden, symlinks=False)
    _rewrite_absolute_replaces(manifest, ws)
    write_files(ws.engine, generated)
    write_files(ws.root, {"go.work": go_work_text(manifest, engine_go_version(home))})
    return ws


def _rewrite_absolute_replaces(manifest: Manifest, ws: Workspace) -> None:
    """A replace to an absolute path inside the policies dir is pointed at the copy."""
    root = manifest.policies_dir
    for p in manifest.policies:
        for old, new in p.go_mod.replaces if p.go_mod else ():
            target = Path(new)
            if not target.is_absolute() or not target.resolve().is_relative_to(root):
                continue
            copy = ws.policies / target.resolve().relative_to(root)
            policy_copy = ws.policies / p.rel_path
            rel = os.path.relpath(copy, policy_copy)
            _run(
                [go_binary(), "mod", "edit", f"-replace={old}={rel}"],
                policy_copy,
                dict(os.environ, GOWORK="off", GOFLAGS=""),
                "rewriting a replace directive",
            )


def _run(cmd: list[str], cwd: Path, env: dict[str, str], what: str) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise CompileFailed(f"{what} failed:\n{_explain(proc.stderr)}")
    return proc.stdout


def _explain(stderr: str) -> str:
    """Go's own error, with a plain hint for the errors users meet most."""
    text = stderr.strip()
    if "requires go >=" in text or "go.mod requires go" in text:
        text += (
            "\nA policy (or one of its dependencies) needs a newer Go than the builder's "
            "toolchain; upgrade the builder or lower the policy's go directive."
        )
    return text


def _module_versions(cmd_dir: Path, env: dict[str, str]) -> dict[str, str]:
    out = _run(
        [
            go_binary(),
            "list",
            "-m",
            "-f",
            "{{.Path}} {{.Version}}{{with .Replace}} => {{.Path}} {{.Version}}{{end}}",
            "all",
        ],
        cmd_dir,
        env,
        "listing modules",
    )
    versions: dict[str, str] = {}
    for line in out.splitlines():
        path, _, rest = line.partition(" ")
        versions[path] = rest.strip()
    return versions


def _engine_direct_requirements(ws: Workspace) -> set[str]:
    """Modules the engine's go.mod requires directly (not `// indirect`): its core."""
    env = dict(_go_env(ws), GOWORK="off")
    data = json.loads(_run([go_binary(), "mod", "edit", "-json"], ws.engine, env, "reading go.mod"))
    return {r["Path"] for r in data.get("Require") or () if not r.get("Indirect")}


def _requirers(ws: Workspace) -> dict[str, set[str]]:
    """`go mod graph` of the build, reversed: module@version -> modules requiring it."""
    out = _run([go_binary(), "mod", "graph"], ws.root, _go_env(ws), "reading the module graph")
    parents: dict[str, set[str]] = {}
    for line in out.splitlines():
        parent, _, child = line.partition(" ")
        parents.setdefault(child, set()).add(parent)
    return parents


def _policies_requiring(manifest: Manifest, graph: dict[str, set[str]], target: str) -> list[str]:
    """The policies from which target is reachable in the module graph."""
    by_module = {p.module_path: p.key for p in manifest.policies}
    found: set[str] = set()
    seen = {target}
    todo = [target]
    while todo:
        for parent in graph.get(todo.pop(), ()):
            if parent in by_module:
                found.add(by_module[parent])
            elif parent not in seen:
                seen.add(parent)
                todo.append(parent)
    return sorted(found)


def check_engine_dependencies(manifest: Manifest, ws: Workspace) -> tuple[str, ...]:
    """Compare the versions the engine selects alone with those of the whole build.

    A policy must not silently change the engine's core: a different version of a module
    the engine requires directly stops the build. Other (indirect) changes are allowed by
    Go's compatibility promise but returned as warnings, so they are never silent."""
    engine_env = dict(_go_env(ws), GOWORK="off")
    engine_alone = _module_versions(ws.engine, engine_env)
    together = _module_versions(ws.root, _go_env(ws))
    direct = _engine_direct_requirements(ws)
    conflicts: list[str] = []
    warnings: list[str] = []
    graph: dict[str, set[str]] | None = None
    for path, version in sorted(engine_alone.items()):
        if path == ENGINE_MODULE or together.get(path, version) == version:
            continue
        if graph is None:
            graph = _requirers(ws)
        culprits = _policies_requiring(manifest, graph, f"{path}@{together[path].split()[0]}")
        by = ", ".join(culprits) if culprits else "the policies' dependencies"
        line = f"{path}: the engine uses {version}, the build would use {together[path]}"
        (conflicts if path in direct else warnings).append(f"{line} (required by {by})")
    if conflicts:
        raise CompileFailed(
            "policies would change the versions of the engine's direct dependencies:\n"
            + "".join(f"  {c}\n" for c in conflicts)
            + "Require the engine's versions in the policy's go.mod (or older ones), or "
            "upgrade the engine."
        )
    return tuple(f"engine dependency upgraded by policies: {w}" for w in warnings)


@dataclass(frozen=True)
class Compiled:
    binary: Path
    # Indirect engine dependencies the policies upgraded (see check_engine_dependencies).
    warnings: tuple[str, ...]


def ldflags(settings: Settings) -> str:
    stamps = {
        "Version": settings.build_version,
        "Commit": settings.git_commit,
        "BuildTime": settings.build_time(),
    }
    parts = ["-s", "-w", "-buildid="]
    parts += [f"-X {BUILDINFO_PACKAGE}.{k}={v}" for k, v in stamps.items()]
    if settings.extra_ldflags:
        parts.append(settings.extra_ldflags)
    return " ".join(parts)


def build_command(settings: Settings, output: Path) -> list[str]:
    return [
        go_binary(),
        "build",
        *BUILD_FLAGS,
        "-buildvcs=false",
        "-ldflags",
        ldflags(settings),
        *settings.go_build_flags,
        "-o",
        str(output),
        ".",
    ]


def compile_engine(
    manifest: Manifest, ws: Workspace, settings: Settings, out_dir: Path
) -> Compiled:
    """Build the binary into out_dir/policy-engine (replaced atomically)."""
    upx = upx_binary() if settings.upx else None
    warnings = check_engine_dependencies(manifest, ws)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / BINARY
    tmp = out_dir / f".{BINARY}.tmp"
    _run(build_command(settings, tmp.resolve()), ws.engine, _go_env(ws, settings), "go build")
    if upx is not None:
        _compress(upx, tmp)
    tmp.replace(target)
    return Compiled(target, warnings)


def upx_binary() -> str:
    """upx (or Debian's upx-ucl); checked before compiling so a missing tool fails fast."""
    upx = shutil.which("upx") or shutil.which("upx-ucl")
    if upx is None:
        raise ToolMissing(
            "ENABLE_UPX_COMPRESSION is on but upx is not installed; install upx "
            "(apt-get install upx-ucl) or turn compression off"
        )
    return upx


def _compress(upx: str, binary: Path) -> None:
    proc = subprocess.run(
        [upx, "-q", "--best", "--lzma", str(binary)], capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise CompileFailed(f"upx failed:\n{proc.stderr.strip() or proc.stdout.strip()}")
