"""What `policy-builder generate` writes into a monorepo: the Bazel side of the build.

The workspace is the repository `generate` runs in (home.find_workspace); its engine/
and templates/ are the engine sources generate reads. Its files are a pure function of the
manifest, the engine module as Go reports it and the files' current text (BUILD files
are merged, MODULE.bazel edited), computed whole before anything is written, so an error
leaves the tree as it was.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from policy_builder import generate_go
from policy_builder.bazel import BazelGenError, EngineModule, bazel_outputs, read_engine_module
from policy_builder.bazel.gopackages import GoPackage, go_list
from policy_builder.cache import Memo, tree_digest
from policy_builder.errors import GenerateInputError, UsageError
from policy_builder.gocheck import go_env
from policy_builder.gocheck_cache import BUILD_FILES, GO_ENV
from policy_builder.gotool import GoMod
from policy_builder.home import EngineSources
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


def list_engine(workspace: Path, engine_go_mod: Callable[[], GoMod]) -> Future[EngineModule]:
    """The workspace's engine module, listed in the background: it needs nothing from the
    policies, so `go list` runs while they are discovered and validated."""
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        return pool.submit(
            lambda: read_engine_module(
                workspace, go_mod=engine_go_mod(), list_packages=_kept_go_list
            )
        )
    finally:
        # Without waiting: the thread ends with its one task.
        pool.shutdown(wait=False)


def _kept_go_list(module_dir: Path, repo_root: Path) -> tuple[GoPackage, ...]:
    """go_list, kept in the cache by the module's place and files (but the BUILD files
    generate writes) and the `go env` settings that decide what `go list` sees: a listing
    is a `go list` process, which competes with the Go helper for CPU."""
    env = go_env(*GO_ENV)
    with Memo() as memo:
        rows: list[dict[str, Any]] = memo(
            "engine packages",
            lambda: [dataclasses.asdict(p) for p in go_list(module_dir, repo_root)],
            module_dir.relative_to(repo_root).as_posix(),
            tree_digest(module_dir, lambda name: name not in BUILD_FILES),
            *(f"{name}={value}" for name, value in sorted(env.items())),
        )
    return tuple(_package(row) for row in rows)


def _package(row: dict[str, Any]) -> GoPackage:
    """A GoPackage from its fields as JSON keeps them (tuples as lists)."""
    return GoPackage(
        dir=row["dir"],
        importpath=row["importpath"],
        name=row["name"],
        go_files=tuple(row["go_files"]),
        imports=tuple(row["imports"]),
        test_files=tuple(row["test_files"]),
        test_imports=tuple(row["test_imports"]),
        testdata=bool(row["testdata"]),
    )


def workspace_files(
    manifest: Manifest,
    workspace: Path,
    sources: EngineSources,
    policies_dir: Path,
    engine: Future[EngineModule],
) -> dict[str, str]:
    """Relative path (from the workspace) → content of every file `generate` owns; engine
    is list_engine's answer, sources the templates' place."""
    root = workspace

    def read_existing(rel: str) -> str:
        path = root / rel
        return path.read_text(encoding="utf-8") if path.is_file() else ""

    go_files = generate_go.go_files(manifest, sources)
    try:
        with Memo() as memo:
            return bazel_outputs(
                manifest,
                engine=engine.result(),
                registry_go=go_files[generate_go.PLUGIN_REGISTRY],
                build_info_go=go_files[generate_go.BUILD_INFO],
                read_existing=read_existing,
                file_exists=lambda rel: (root / rel).is_file(),
                policies_dir=policies_rel(root, policies_dir),
                memo=memo,
            )
    except BazelGenError as error:
        raise GenerateInputError(str(error)) from error
