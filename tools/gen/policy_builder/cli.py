"""Command-line entry point `policy-builder`.

Exit codes (errors.py; docs/builder.md, "Exit codes"): 0 success, 1 `generate --check`
found stale generated files (the diff on stdout), 2 usage error, 3 invalid input (the
policies, a BUILD file), 4 a tool (go, the Go helper, upx) failed or a file could not be
written, 130 interrupted. Errors are printed as one plain message, never as a traceback.

`generate` is the monorepo command: it writes BUILD files, the registry package, go.work
and MODULE.bazel's use_repo into the workspace it runs in (BUILD_WORKSPACE_DIRECTORY under
`bazel run`, else the nearest MODULE.bazel above the current directory). `build` never
writes outside OUTPUT and its scratch directory.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from policy_builder import __version__, uptodate
from policy_builder.bazel_run import enter_bazel_workspace
from policy_builder.errors import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TOOL,
    BuilderError,
    GenerateStale,
    ToolMissing,
    UsageError,
)
from policy_builder.gotool import go_binary
from policy_builder.home import EngineSources, find_engine_sources, find_workspace
from policy_builder.options import Options
from policy_builder.progress import Progress
from policy_builder.settings import PLATFORMS, load_settings

# The phases' modules (libcst, Jinja2, jsonschema behind them) are imported when a phase
# runs, so `generate` with nothing changed answers before paying for them.
if TYPE_CHECKING:
    from policy_builder.manifest import PolicyEntry
    from policy_builder.pipeline import Pipeline


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so main() owns every exit code."""

    def error(self, message: str) -> Any:
        raise UsageError(f"{self.prog}: {message}")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--policies", help="policies directory (env POLICIES_DIR, default ./policies)")
    p.add_argument("--output", help="output directory (env OUTPUT_DIR, default ./output)")
    p.add_argument(
        "--engine-dir",
        help="engine sources and templates; generate's workspace (env POLICY_ENGINE_HOME)",
    )
    p.add_argument("--json", action="store_true", help="print a JSON result on stdout")
    p.add_argument("--quiet", action="store_true", help="no progress lines")


def _build_settings(p: argparse.ArgumentParser) -> None:
    p.add_argument("--build-version", help="version stamped into the binary (BUILD_VERSION)")
    p.add_argument("--git-commit", help="commit stamped into the binary (GIT_COMMIT)")
    p.add_argument(
        "--upx",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="compress the binary with UPX (ENABLE_UPX_COMPRESSION)",
    )
    p.add_argument("--go-build-flags", help="extra go build flags (GO_BUILD_FLAGS), appended")
    p.add_argument("--image-base", help="runtime image base (FINAL_IMAGE_BASE)")
    p.add_argument(
        "--platform",
        action="append",
        help=f"target platform(s): {' and/or '.join(PLATFORMS)}, repeated or comma-separated; "
        "the image index holds one image per platform (TARGET_PLATFORM)",
    )
    p.add_argument("--build-dir", help="keep the scratch build directory here (BUILD_DIR)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="policy-builder", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"policy-builder {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    p = sub.add_parser("discover", help="find policies, write policies.json")
    _common(p)
    p = sub.add_parser("validate", help="check every policy, write validation_report.json")
    _common(p)
    p = sub.add_parser(
        "generate",
        help="write the monorepo's BUILD files, registry package, go.work and use_repo",
    )
    _common(p)
    p.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 with a diff if stale"
    )
    p = sub.add_parser("package", help="write the runtime Dockerfile")
    _common(p)
    _build_settings(p)
    p = sub.add_parser("build", help="discover, validate, generate, compile and package")
    _common(p)
    _build_settings(p)
    p.add_argument(
        "--skip-generate", action="store_true", help="reuse OUTPUT/generated/ of an earlier build"
    )
    p.add_argument("--skip-compilation", action="store_true", help="do not run go build")
    p.add_argument("--skip-package", action="store_true", help="do not write the Dockerfile")
    p = sub.add_parser("new", help="scaffold a policy that validates and builds as it is")
    p.add_argument("name", help="policy name, e.g. rateLimiting")
    p.add_argument("--version", default="v1.0.0", help="policy version (default v1.0.0)")
    p.add_argument("--policies", help="policies directory (env POLICIES_DIR, default ./policies)")
    p.add_argument("--engine-dir", help="engine sources and templates (env POLICY_ENGINE_HOME)")
    p.add_argument(
        "--module-prefix",
        default="example.com/policies",
        help="Go module path prefix (default example.com/policies)",
    )
    p.add_argument("--json", action="store_true", help="print a JSON result on stdout")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    return parser


def _dir(arg: str | None, var: str, default: str) -> Path:
    return Path(arg or os.environ.get(var) or default)


def _options(args: argparse.Namespace) -> Options:
    flags = {
        k: getattr(args, k, None)
        for k in ("build_version", "git_commit", "upx", "go_build_flags", "image_base")
    }
    platforms = getattr(args, "platform", None)
    flags["platform"] = ",".join(platforms) if platforms else None
    build_dir = getattr(args, "build_dir", None) or os.environ.get("BUILD_DIR")
    workspace: Path | None = None
    if args.command == "generate":
        # The defaults are the workspace's own folders, so a run from a sub-directory
        # means the same as a run from the root.
        workspace = find_workspace(args.engine_dir)
        engine = EngineSources(workspace)
        base = workspace
    else:
        engine = find_engine_sources(args.engine_dir)
        base = Path()
    policies_dir = _dir(args.policies, "POLICIES_DIR", str(base / "policies"))
    # What a build stamps (version, commit) says where it came from: the policies' git
    # work tree, else the engine's, unless a flag or the environment says otherwise.
    stamp_from = (policies_dir, engine.root) if args.command in ("build", "package") else ()
    return Options(
        policies_dir=policies_dir,
        output_dir=_dir(args.output, "OUTPUT_DIR", str(base / "output")),
        engine=engine,
        workspace=workspace,
        settings=load_settings(os.environ, flags, stamp_from),
        build_dir=Path(build_dir) if build_dir else None,
        dry_run=bool(getattr(args, "check", False)),
    )


def _run(args: argparse.Namespace, argv: list[str], progress: Progress) -> dict[str, Any]:
    if args.command == "new":
        from policy_builder.gotool import read_go_mod
        from policy_builder.scaffold import scaffold

        engine = find_engine_sources(args.engine_dir)
        policies = _dir(args.policies, "POLICIES_DIR", "policies")
        # The engine's own go directive: a scaffold never needs a newer Go than the engine.
        engine_go = read_go_mod(engine.engine_dir).go_version
        created = scaffold(engine, policies, args.name, args.version, args.module_prefix, engine_go)
        progress.say(f"created {created}")
        return {"created": str(created)}
    options = _options(args)
    if args.command == "generate":
        return _generate(args, argv, options, progress)
    return _pipeline(args, options, progress)[0]


def _pipeline(
    args: argparse.Namespace, options: Options, progress: Progress
) -> tuple[dict[str, Any], Pipeline]:
    from policy_builder.pipeline import Pipeline

    pipeline = Pipeline(options, progress)
    try:
        result = _phases(args, pipeline, progress)
    except BuilderError as error:
        pipeline.record_failure(error)
        raise
    # A build_error.json left by an earlier failed run would now be misleading.
    pipeline.clear_failure()
    return result, pipeline


def _generate_scope(options: Options) -> uptodate.Scope:
    """What generate reads: the policies, the engine sources, templates, the Go helper,
    this package, and the workspace's MODULE.bazel and go.work."""
    engine: EngineSources = options.engine
    assert options.workspace is not None
    return uptodate.Scope(
        directories=(
            options.policies_dir.resolve(),
            engine.engine_dir,
            engine.templates_dir,
            engine.gocheck_dir,
            Path(__file__).resolve().parent,
        ),
        files=(options.workspace / "MODULE.bazel", options.workspace / "go.work"),
        root=options.workspace,
    )


def _generate(
    args: argparse.Namespace, argv: list[str], options: Options, progress: Progress
) -> dict[str, Any]:
    """generate, or nothing when nothing it reads changed since it last succeeded."""
    try:
        go = go_binary()
    except ToolMissing:
        go = ""
    stamps = uptodate.Stamps()
    scope = _generate_scope(options)
    key = uptodate.settings_key(argv, os.environ, go, scope.name(Path.cwd()))
    recorded = stamps.current(key, scope)
    if recorded is not None:
        progress.say("generate: up to date (nothing it reads changed since its last run)")
        return recorded
    # The walk that found a stamp stale is the snapshot of the files as the run found them.
    taken, before = stamps.walked or (time.time_ns(), uptodate.snapshot(scope))
    result, pipeline = _pipeline(args, options, progress)
    # Findings are printed by the run that finds them; a run that has some does the work.
    if not pipeline.printed_findings:
        written = [options.workspace / rel for rel in result.get("written", [])]
        # Run again over its own output, generate writes nothing.
        stamps.record(key, scope, before, written, {**result, "written": []}, taken)
    return result


def _phases(args: argparse.Namespace, pipeline: Pipeline, progress: Progress) -> dict[str, Any]:
    """Run the phases the command asks for, in order; return the --json result."""
    from policy_builder import reports

    result: dict[str, Any] = {"output": str(pipeline.output)}
    # generate lists the engine's packages while the policies are discovered and validated.
    engine = pipeline.list_engine() if args.command == "generate" else None
    found = pipeline.discover(write=args.command == "discover")
    if args.command == "discover":
        result["policies"] = reports.policies_json(found)
        return result
    validation = pipeline.validate(found)
    result["policies"] = reports.policies_json(found, validation.manifest)
    if args.command == "validate":
        return result
    if engine is not None:  # generate
        result["written"] = list(pipeline.generate_workspace(validation, engine, args.check))
        return result
    packaging = args.command == "package" or not args.skip_package
    compiling = args.command == "build" and not args.skip_compilation
    if packaging and compiling:
        # A base that cannot serve the build stops it before anything is compiled.
        result["base"] = pipeline.resolve_base()
    if args.command == "build" and not args.skip_generate:
        pipeline.generate_build_sources(validation)
    if compiling:
        result["binary"] = str(pipeline.compile(validation))
        result["warnings"] = list(pipeline.warnings)
    if packaging:
        # The image first: when it fails, no Dockerfile is left for a base it refused.
        result["image"] = pipeline.build_image(validation)
        result["dockerfile"] = str(pipeline.package(validation))
    if args.command == "package":
        return result
    _summary(progress, validation.manifest.policies, result)
    return result


def _summary(progress: Progress, policies: tuple[PolicyEntry, ...], result: dict[str, Any]) -> None:
    """The closing summary: what was built and what to do next."""
    lines = [f"Loaded policies: {len(policies)}"]
    lines += [f"  - {p.key}" for p in policies]
    for label, key in (("binary", "binary"), ("Dockerfile", "dockerfile")):
        if key in result:
            lines.append(f"{label}: {result[key]}")
    built = result.get("image")
    if built:
        lines.append(
            f"image: {built['layout']} (index {built['index_digest']}, base {built['base']})"
        )
        lines.append(f"tarball: {built['tarball']} (docker load -i); SBOM: {built['sbom']}")
    if "dockerfile" in result:
        lines.append(f"next: cd {result['output']} && docker build -t policy-engine:custom .")
    progress.say("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    args_list = sys.argv[1:] if argv is None else argv
    wants_json = "--json" in args_list
    progress = Progress(quiet="--quiet" in args_list)
    try:
        enter_bazel_workspace()
        try:
            args = build_parser().parse_args(args_list)
        except SystemExit as exc:  # --help and --version
            return int(exc.code or 0)
        result = _run(args, args_list, progress)
    except BuilderError as error:
        diff = error.diff if isinstance(error, GenerateStale) else ""
        return _fail(wants_json, error.phase, str(error), error.exit_code, diff)
    except OSError as error:
        # A file the builder reads or writes (output, cache, workspace) is unusable:
        # full disk, read-only directory, permissions. Nothing the input could fix.
        where = f": {error.filename}" if error.filename else ""
        message = f"{error.strerror or error}{where}"
        return _fail(wants_json, "io", message, EXIT_TOOL)
    except KeyboardInterrupt:
        print("policy-builder: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    if wants_json:
        print(json.dumps({"ok": True, "timings": progress.timings, **result}, indent=2))
    elif progress.timings:
        total = sum(progress.timings.values())
        progress.say(f"done in {total:.2f}s; outputs in {result.get('output', '')}")
    return EXIT_OK


def _fail(wants_json: bool, phase: str, message: str, code: int, diff: str = "") -> int:
    """Report a failure (one JSON object, or the diff and one line on stderr)."""
    from policy_builder import reports

    if wants_json:
        failure = {"ok": False, "phase": phase, "error": message}
        print(json.dumps({**failure, **({"diff": diff} if diff else {})}, indent=2))
    elif diff:
        sys.stdout.write(reports.printable_diff(diff))
    print(f"policy-builder: error: {reports.printable(message)}", file=sys.stderr)
    return code
