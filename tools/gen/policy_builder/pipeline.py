"""The builder as one object whose methods are the phases (discover → validate →
generate → compile → package). The CLI decides which phases run; each method does one."""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from policy_builder import compile as compile_phase
from policy_builder import generate_go, image, monorepo, package, reports
from policy_builder.bazel import EngineModule
from policy_builder.discover import Discovery, discover
from policy_builder.errors import (
    BuilderError,
    GenerateStale,
    UsageError,
    ValidationFailed,
)
from policy_builder.gotool import GoMod, read_go_mod
from policy_builder.options import Options
from policy_builder.progress import Progress
from policy_builder.validate import Validation, validate
from policy_builder.writer import check_files, write_files

GENERATED_DIR = "generated"


class Pipeline:
    def __init__(self, options: Options, progress: Progress) -> None:
        self.options = options
        self.progress = progress
        # Warnings of the phases run so far, for the --json result.
        self.warnings: tuple[str, ...] = ()
        # Whether validation printed errors or warnings about the policies.
        self.printed_findings = False
        # The binaries this run compiled, one per platform, for the image.
        self.built: list[image.Built] = []
        _check_output_outside_policies(options.policies_dir, options.output_dir)
        # Validation, the engine listing (in its own thread) and compile share one read.
        self._engine_go_mod: GoMod | None = None
        self._engine_go_mod_lock = threading.Lock()

    @property
    def output(self) -> Path:
        return self.options.output_dir

    def engine_go_mod(self) -> GoMod:
        """The engine's go.mod, read once per run, when a phase first needs it."""
        with self._engine_go_mod_lock:
            if self._engine_go_mod is None:
                self._engine_go_mod = read_go_mod(self.options.engine.engine_dir)
            return self._engine_go_mod

    def discover(self, write: bool) -> Discovery:
        """Find the policies; write policies.json when validation will not (it adds the
        module paths and writes the file itself, so a no-op build rewrites nothing)."""
        with self.progress.phase("discover"):
            found = discover(self.options.policies_dir)
            if write:
                self._write({reports.POLICIES_JSON: reports.to_json(reports.policies_json(found))})
        return found

    def validate(self, found: Discovery) -> Validation:
        with self.progress.phase("validate"):
            result = validate(found, self.options.engine, self.engine_go_mod)
            self._write(
                {
                    reports.POLICIES_JSON: reports.to_json(
                        reports.policies_json(found, result.manifest)
                    ),
                    reports.VALIDATION_REPORT: reports.to_json(
                        reports.validation_report(result.report)
                    ),
                }
            )
            text = reports.summary(result.report, self.progress.fancy)
            if text:
                self.progress.say(text)
                self.printed_findings = True
            if not result.report.valid:
                self._write(
                    {reports.BUILD_ERROR: reports.to_json(reports.validation_error(result.report))}
                )
                bad = sum(1 for r in result.report.policies if not r.valid)
                total = len(result.report.policies)
                head = f"validation failed: {bad} of {total} policies are invalid"
                if not self.options.dry_run:
                    report = self.output / reports.VALIDATION_REPORT
                    raise ValidationFailed(f"{head} (see {report})")
                # A dry run (generate --check) writes no report: the findings are told here
                # unless they were printed above.
                if not self.progress.quiet:
                    raise ValidationFailed(f"{head} (listed above)")
                raise ValidationFailed(f"{head}:\n{reports.summary(result.report, False)}")
        return result

    def generate_build_sources(self, validation: Validation) -> tuple[str, ...]:
        """`build`'s generate phase: write OUTPUT/generated/*.go (the registry) for the
        scratch compile; return the written paths. The policies directory is never
        touched."""
        with self.progress.phase("generate"):
            target = self.output / GENERATED_DIR
            files = generate_go.go_files(validation.manifest, self.options.engine)
            return write_files(target, files).written

    def _workspace(self) -> Path:
        workspace = self.options.workspace
        if workspace is None:
            raise UsageError("only `generate` writes into a workspace")
        return workspace

    def list_engine(self) -> Future[EngineModule]:
        """Start listing the workspace's engine packages for generate_workspace (in the
        background)."""
        return monorepo.list_engine(self._workspace(), self.engine_go_mod)

    def generate_workspace(
        self, validation: Validation, engine: Future[EngineModule], check: bool = False
    ) -> tuple[str, ...]:
        """The `generate` command: write (or with check, compare) the workspace's BUILD
        files, registry package, go.work and MODULE.bazel use_repo; return written paths."""
        with self.progress.phase("generate"):
            root = self._workspace()
            files = monorepo.workspace_files(
                validation.manifest, root, self.options.engine, self.options.policies_dir, engine
            )
            if not check:
                return write_files(root, files).written
            diff = check_files(root, files)
            if diff:
                raise GenerateStale(
                    f"generated files in {root} are out of date; run `policy-builder "
                    "generate` (diff on stdout)",
                    diff,
                )
            return ()

    def resolve_base(self) -> str:
        """Pull the image base (or find it in the cache) before anything is compiled."""
        with self.progress.phase("base"):
            return image.resolve_base(self.options.settings, self.options.engine)

    def compile(self, validation: Validation) -> Path:
        """Compile one binary per platform; return the first platform's."""
        with self.progress.phase("compile"):
            generated = self._read_generated()
            if self.options.build_dir is not None:
                return self._compile_in(validation, self.options.build_dir, generated)
            scratch = Path(tempfile.mkdtemp(prefix="policy-builder-"))
            try:
                return self._compile_in(validation, scratch, generated)
            finally:
                shutil.rmtree(scratch, ignore_errors=True)

    def _compile_in(self, validation: Validation, root: Path, generated: dict[str, str]) -> Path:
        root.mkdir(parents=True, exist_ok=True)
        ws = compile_phase.prepare(
            validation.manifest, self.options.engine, self.engine_go_mod(), root, generated
        )
        settings = self.options.settings
        for i, platform in enumerate(settings.platforms):
            compiled = compile_phase.compile_engine(
                validation.manifest,
                ws,
                dataclasses.replace(settings, platforms=(platform,)),
                self.output,
                image.binary_name(platform, first=i == 0),
                check_dependencies=i == 0,
            )
            for warning in compiled.warnings:
                self.progress.say(f"warning: {warning}")
            self.warnings += compiled.warnings
            self.built.append(image.Built(compiled.binary, platform, compiled.build_info))
        return self.built[0].binary

    def build_image(self, validation: Validation) -> dict[str, Any] | None:
        """The OCI image from the binaries this run compiled, else from those an earlier
        build left in the output; None (said on the terminal) when there are none."""
        built = self.built or self._earlier_binaries()
        if not built:
            first = self.output / image.binary_name(self.options.settings.platform, True)
            self.progress.say(f"image: not built, {first} does not exist (run `build`)")
            return None
        with self.progress.phase("image"):
            return image.build_image(
                validation.manifest, self.options.settings, self.options.engine, self.output, built
            )

    def _earlier_binaries(self) -> list[image.Built]:
        found = []
        for i, platform in enumerate(self.options.settings.platforms):
            binary = self.output / image.binary_name(platform, first=i == 0)
            if not binary.is_file():
                return []
            found.append(image.Built(binary, platform, image.build_info(binary)))
        return found

    def _read_generated(self) -> dict[str, str]:
        target = self.output / GENERATED_DIR
        missing = [n for n in generate_go.GO_FILES if not (target / n).is_file()]
        if missing:
            raise UsageError(
                f"{target} lacks {', '.join(missing)}; run the generate phase first "
                "(drop --skip-generate)"
            )
        return {n: (target / n).read_text() for n in generate_go.GO_FILES}

    def package(self, validation: Validation) -> Path:
        with self.progress.phase("package"):
            files = package.package_files(
                validation.manifest, self.options.settings, self.options.engine
            )
            self._write(files)
        return self.output / package.DOCKERFILE

    def record_failure(self, error: BuilderError) -> None:
        """build_error.json for failures after validation (validation writes its own)."""
        if isinstance(error, (ValidationFailed, UsageError)):
            return
        self._write({reports.BUILD_ERROR: reports.to_json(reports.error_report(error))})

    def clear_failure(self) -> None:
        if not self.options.dry_run:
            (self.output / reports.BUILD_ERROR).unlink(missing_ok=True)

    def _write(self, files: dict[str, str]) -> None:
        if not self.options.dry_run:
            write_files(self.output, files)


def _check_output_outside_policies(policies: Path, output: Path) -> None:
    p, o = policies.resolve(), output.resolve()
    if o == p or o.is_relative_to(p):
        raise UsageError(
            f"output directory {output} is inside the policies directory {policies}; the "
            "builder never writes into the policies directory, pick another --output"
        )
