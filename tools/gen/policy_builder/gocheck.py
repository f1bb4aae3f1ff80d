"""Runs the Go helper (tools/gen/gocheck) that answers Go questions with Go's own tools.

The helper is built once per source content and toolchain into the builder's cache
directory, so repeated validations pay only for running it; `python -m
policy_builder.gocheck` builds it ahead (`make build` does, while pip installs the
virtualenv: this module needs the standard library only). Its answer for a policy is kept
in the cache too, under a hash of every input that can change it (see gocheck_cache), so a
validation with nothing new runs no helper at all, and one with a few changed policies
type-checks only those. The type check compiles what the policies import with the build's
own settings, so the compile phase finds those packages in Go's build cache."""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from policy_builder import gocheck_cache
from policy_builder.cache import Store, cache_dir
from policy_builder.errors import ToolFailed
from policy_builder.gotool import (
    BUILD_FLAGS,
    GoMod,
    build_env,
    cached_go_binary,
    go_binary,
    go_source_id,
    run_go,
    run_tool,
)
from policy_builder.home import SDK_PACKAGE, EngineSources
from policy_builder.manifest import GoModInfo, GoPackageInfo, Problem

ANSWERS = "answers.sqlite"


@dataclass(frozen=True)
class GoCheckInput:
    rel_path: str
    path: Path
    request: bool
    response: bool


@dataclass(frozen=True)
class GoCheckResult:
    go_mod: GoModInfo | None
    go_package: GoPackageInfo | None
    problems: tuple[Problem, ...]


def _helper_env() -> dict[str, str]:
    """The helper's go/packages runs `go` from PATH: make that the builder's own `go`. The
    type check compiles what the policies import with the build's settings (gotool), so
    the build that follows finds those packages in Go's build cache."""
    go_dir = str(Path(go_binary()).parent)
    return build_env(PATH=os.pathsep.join([go_dir, os.environ.get("PATH", "")]))


def go_env(*names: str) -> dict[str, str]:
    """The values of the named `go env` settings ("" when unset), as the helper sees them."""
    env = _helper_env()
    return dict(_go_env(names, tuple(sorted(env.items()))))


@cache
def _go_env(
    names: tuple[str, ...], env: tuple[tuple[str, str], ...]
) -> tuple[tuple[str, str], ...]:
    # Asked once per run and environment: validation and the engine's listing both ask.
    out = run_go(["env", "-json", *names], "reading the Go environment", env=dict(env))
    try:
        values: dict[str, str] = json.loads(out)
    except ValueError as error:
        raise ToolFailed(f"`go env -json` answered unreadably: {error}") from error
    return tuple((name, values.get(name, "")) for name in names)


def helper_id(home: EngineSources, toolchain: str) -> str:
    """A hash of the helper sources under home and the toolchain that builds them."""
    return go_source_id(home.gocheck_dir, toolchain)


def helper_binary(home: EngineSources, helper: str) -> Path:
    """The helper binary named by helper (a helper_id), built if needed."""
    return cached_go_binary(home.gocheck_dir, "gocheck", helper, "the Go helper")


def build_helper(home: EngineSources) -> Path:
    """The helper binary for home's sources and the toolchain, built if needed."""
    return helper_binary(home, helper_id(home, go_env("GOVERSION")["GOVERSION"]))


def run_gocheck(
    home: EngineSources,
    root: Path,
    inputs: list[GoCheckInput],
    engine_go_mod: Callable[[], GoMod],
) -> dict[str, GoCheckResult]:
    """Results keyed by rel_path: kept answers, and one helper process for the rest;
    engine_go_mod is asked only when the helper runs."""
    if not inputs:
        return {}
    env = go_env(*gocheck_cache.GO_ENV)
    helper = helper_id(home, env["GOVERSION"])
    keys = gocheck_cache.answer_keys(
        home.engine_dir,
        ((i.rel_path, i.path, i.request, i.response) for i in inputs),
        helper,
        env,
    )
    store = Store(cache_dir() / ANSWERS)
    answers: dict[str, dict[str, Any]] = {}
    results: dict[str, GoCheckResult] = {}
    for i in inputs:
        answer = store.get(keys[i.rel_path])
        result = _kept_result(answer)
        if result is not None:
            answers[i.rel_path] = answer
            results[i.rel_path] = result
    if len(results) == len(inputs):
        return results
    fresh = _ask(
        helper_binary(home, helper), home, engine_go_mod(), root, inputs, env["GOVERSION"], answers
    )
    modules = Counter(_module_path(a) for a in (*answers.values(), *fresh.values()))
    store.put_many({keys[rel]: a for rel, a in fresh.items() if gocheck_cache.keepable(a, modules)})
    return {**results, **{rel: _result(a) for rel, a in fresh.items()}}


def _ask(
    helper: Path,
    home: EngineSources,
    engine: GoMod,
    root: Path,
    inputs: list[GoCheckInput],
    toolchain: str,
    known: Mapping[str, Any],
) -> dict[str, dict[str, Any]]:
    """The helper's answers for the inputs not in known; those in known still join the
    workspace the others are checked in."""
    with tempfile.TemporaryDirectory(prefix="policy-builder-gocheck-") as work:
        request = {
            "engine_dir": str(home.engine_dir),
            "engine_module": engine.module_path,
            "engine_go": engine.go_version,
            "sdk_package": SDK_PACKAGE,
            "work_dir": work,
            "policies_dir": str(root),
            "go_version": toolchain,
            "build_flags": list(BUILD_FLAGS),
            "policies": [
                {
                    "id": i.rel_path,
                    "dir": str(i.path),
                    "request": i.request,
                    "response": i.response,
                    "cached": i.rel_path in known,
                }
                for i in inputs
            ],
        }
        proc = run_tool(
            [str(helper)],
            "running the Go helper",
            stdin=json.dumps(request),
            cwd=Path(work),
            env=_helper_env(),
        )
    if proc.returncode != 0:
        raise ToolFailed(f"the Go helper failed:\n{proc.stderr.strip()}")
    try:
        answer: dict[str, Any] = json.loads(proc.stdout)
        return {r["id"]: r for r in answer["results"]}
    except (ValueError, KeyError, TypeError) as error:
        raise ToolFailed(f"the Go helper answered unreadably: {error}") from error


def _module_path(answer: Mapping[str, Any]) -> str:
    module = answer.get("module")
    return str(module["path"]) if module else ""


def _kept_result(answer: Any) -> GoCheckResult | None:
    """A kept answer as a result; None when there is none or it cannot be read as one."""
    if not isinstance(answer, dict):
        return None
    try:
        return _result(answer)
    except (KeyError, TypeError, ValueError):
        return None


def _result(r: dict[str, Any]) -> GoCheckResult:
    mod = r.get("module")
    go_mod = None
    if mod:
        go_mod = GoModInfo(
            module_path=mod["path"],
            go_version=mod["go"],
            requires=tuple((a, b) for a, b in mod["requires"]),
            replaces=tuple((a, b) for a, b in mod["replaces"]),
        )
    go_package = None
    if r["package_name"]:
        go_package = GoPackageInfo(
            package_name=r["package_name"],
            go_files=tuple(r["go_files"]),
            imports=tuple(r["imports"]),
            test_go_files=tuple(r["test_go_files"]),
            test_imports=tuple(r["test_imports"]),
            testdata=r["testdata"],
        )
    problems = tuple(
        Problem(code=p["code"], message=p["message"], file=p["file"], line=p["line"])
        for p in r["problems"]
    )
    return GoCheckResult(go_mod, go_package, problems)


def main() -> int:
    """Build the helper for the checkout (or POLICY_ENGINE_HOME) this module belongs to."""
    import sys

    from policy_builder.errors import BuilderError
    from policy_builder.home import find_engine_sources

    try:
        build_helper(find_engine_sources(None))
    except BuilderError as error:
        print(f"policy-builder: error: {error}", file=sys.stderr)
        return error.exit_code
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
