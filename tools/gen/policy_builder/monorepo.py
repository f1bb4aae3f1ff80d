"""What `policy-builder generate` writes into a monorepo: the Bazel side of the build.

The workspace root is where `generate` runs (home.find_workspace), holding engine/ and
templates/. Its files are a pure function of the manifest, the engine module as Go reports
it and the files' current text (BUILD files are merged, MODULE.bazel edited), computed
whole before anything is written, so an error leaves the tree as it was.
"""

from __future__ import annotations

import subprocess
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from policy_builder import generate_go
from policy_builder.bazel import BazelGenError, EngineModule, bazel_outputs, read_engine_module
from policy_builder.errors import GenerateFailed, UsageError
from policy_builder.gotool import go_binary
from policy_builder.home import Home
from policy_builder.manifest import Manifest


def policies_rel(root: Path, policies_dir: Path) -> str:
    """The policies directory relative to the workspace root, POSIX style."""
    resolved = policies_dir.resolve()
    if not resolved.is_relative_to(root):
        raise UsageError(
            f"policies directory {policies_dir} is not inside the workspace {root}; "
            "`generate` writes the monorepo's Bazel files, so the policies must live in it "
            "(for a policies folder elsewhere use `policy-builder build`)"
        )
    if resolved == root:
        raise UsageError(
            f"policies directory {policies_dir} is the workspace root itself; `generate` "
            "puts the registry package at the root of the policies directory, so the "
            "policies need a folder of their own (for example policies/)"
        )
    return resolved.relative_to(root).as_posix()


def _engine_module(root: Path) -> EngineModule:
    try:
        return read_engine_module(root, go=go_binary())
    except subprocess.CalledProcessError as error:
        raise GenerateFailed(
            f"cannot list the engine's Go packages in {root / 'engine'}: "
            f"{(error.stderr or '').strip() or error}"
        ) from error


def list_engine(home: Home) -> Future[EngineModule]:
    """The engine module, listed in the background: it needs nothing from the policies, so
    `go list` runs while they are discovered and validated."""
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        return pool.submit(_engine_module, home.root)
    finally:
        # Without waiting: the thread ends with its one task.
        pool.shutdown(wait=False)


def workspace_files(
    manifest: Manifest, home: Home, policies_dir: Path, engine: Future[EngineModule]
) -> dict[str, str]:
    """Relative path (from the workspace root) → content of every file `generate` owns;
    engine is list_engine's answer."""
    root = home.root

    def read_existing(rel: str) -> str:
        path = root / rel
        return path.read_text(encoding="utf-8") if path.is_file() else ""

    go_files = generate_go.go_files(manifest, home)
    try:
        return bazel_outputs(
            manifest,
            engine=engine.result(),
            registry_go=go_files[generate_go.PLUGIN_REGISTRY],
            build_info_go=go_files[generate_go.BUILD_INFO],
            read_existing=read_existing,
            file_exists=lambda rel: (root / rel).is_file(),
            policies_dir=policies_rel(root, policies_dir),
        )
    except BazelGenError as error:
        raise GenerateFailed(str(error)) from error
