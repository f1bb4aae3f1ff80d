"""Phase 4, compilation in a scratch directory: copy the engine and the policies, tie
them with a go.work, add the generated files, and `go build` a static, reproducible binary.

The user's policies directory and the engine sources are only ever read.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from policy_builder.bazel.gowork import go_work
from policy_builder.errors import CompileFailed, EngineDependencyConflict, ToolMissing
from policy_builder.generate_go import GO_FILES
from policy_builder.gotool import BUILD_FLAGS, GoMod, build_env, go_binary, run_tool
from policy_builder.home import BUILDINFO_PACKAGE, EngineSources
from policy_builder.manifest import Manifest
from policy_builder.settings import Settings
from policy_builder.writer import write_files

BINARY = "policy-engine"


@dataclass(frozen=True)
class Workspace:
    root: Path
    # The engine's go.mod, as read once for the run.
    engine_go_mod: GoMod

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


def prepare(
    manifest: Manifest,
    home: EngineSources,
    engine_go_mod: GoMod,
    root: Path,
    generated: dict[str, str],
) -> Workspace:
    """Fill root with the engine, the policies, go.work and the generated Go files."""
    ws = Workspace(root, engine_go_mod)
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
    work = go_work(
        manifest,
        engine_module=engine_go_mod.module_path,
        engine_go=engine_go_mod.go_version,
        engine_dir="engine",
        policies_dir="policies",
    )
    write_files(ws.root, {"go.work": work})
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
    proc = run_tool(cmd, what, cwd=cwd, env=env)
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


def _linked_modules(manifest: Manifest, ws: Workspace) -> frozenset[str]:
    """The modules whose packages the engine links itself: those its main package needs
    apart from the policies the generated registry imports."""
    policies = [p.module_path for p in manifest.policies]
    imports = _run(
        [go_binary(), "list", "-f", '{{join .Imports "\\n"}}', "."],
        ws.engine,
        _go_env(ws),
        "listing the engine's imports",
    ).split()
    own = [i for i in imports if not any(i == m or i.startswith(m + "/") for m in policies)]
    listed = _run(
        [go_binary(), "list", "-deps", "-f", "{{with .Module}}{{.Path}}{{end}}", *own],
        ws.engine,
        _go_env(ws),
        "listing the engine's own dependencies",
    )
    return frozenset(listed.split())


def check_engine_dependencies(manifest: Manifest, ws: Workspace) -> tuple[str, ...]:
    """Compare the versions the engine selects alone with those of the whole build.

    A policy must not silently change the engine's core: a different version of a module
    the engine requires directly and links itself stops the build. Other changes are
    allowed by Go's compatibility promise but returned as warnings, so they are never
    silent: those of indirect requirements, and those of modules only the SDK's libraries
    for policies need (jwtauth's JWT libraries), which a policy of one's own may well
    require in a newer version."""
    engine_env = dict(_go_env(ws), GOWORK="off")
    engine_alone = _module_versions(ws.engine, engine_env)
    together = _module_versions(ws.root, _go_env(ws))
    changed = [
        (path, version)
        for path, version in sorted(engine_alone.items())
        if path != ws.engine_go_mod.module_path and together.get(path, version) != version
    ]
    if not changed:
        return ()
    # Only a build that changes something pays for the graph and the engine's own imports.
    graph = _requirers(ws)
    core = ws.engine_go_mod.direct_requires & _linked_modules(manifest, ws)
    conflicts: list[str] = []
    warnings: list[str] = []
    for path, version in changed:
        culprits = _policies_requiring(manifest, graph, f"{path}@{together[path].split()[0]}")
        by = ", ".join(culprits) if culprits else "the policies' dependencies"
        line = f"{path}: the engine uses {version}, the build would use {together[path]}"
        (conflicts if path in core else warnings).append(f"{line} (required by {by})")
    if conflicts:
        raise EngineDependencyConflict(
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
    # `go version -m -json` of the binary, read before any UPX compression hides it.
    build_info: dict[str, Any]


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
    manifest: Manifest,
    ws: Workspace,
    settings: Settings,
    out_dir: Path,
    name: str = BINARY,
    check_dependencies: bool = True,
) -> Compiled:
    """Build the binary of settings.platform into out_dir/name (replaced atomically).
    The module versions do not depend on the platform: a second platform's build passes
    check_dependencies=False."""
    upx = upx_binary() if settings.upx else None
    warnings = check_engine_dependencies(manifest, ws) if check_dependencies else ()
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / name
    tmp = out_dir / f".{name}.tmp"
    _run(build_command(settings, tmp.resolve()), ws.engine, _go_env(ws, settings), "go build")
    info = json.loads(
        _run(
            [go_binary(), "version", "-m", "-json", str(tmp.resolve())],
            ws.root,
            _go_env(ws),
            "go version -m",
        )
    )
    if upx is not None:
        _compress(upx, tmp)
    tmp.replace(target)
    return Compiled(target, warnings, info)


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
    proc = run_tool([upx, "-q", "--best", "--lzma", str(binary)], "compressing with upx")
    if proc.returncode != 0:
        raise CompileFailed(f"upx failed:\n{proc.stderr.strip() or proc.stdout.strip()}")
