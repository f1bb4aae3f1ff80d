"""`policy-builder new NAME`: a policy that validates and builds as it is."""

from __future__ import annotations

import re
from pathlib import Path

from policy_builder.errors import UsageError
from policy_builder.escape import go_identifier, go_string
from policy_builder.home import ENGINE_MODULE, EngineSources
from policy_builder.templates import render
from policy_builder.writer import write_files

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
_VERSION = re.compile(r"^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$")
ENGINE_PSEUDO_VERSION = "v0.0.0-00010101000000-000000000000"
# What a new policy holds; each is rendered from templates/new/<name>.j2.
_FILES = ("policy.yaml", "policy.go", "policy_test.go", "go.mod", "README.md")


def dir_name(name: str) -> str:
    """jwtValidation -> jwt-validation, rate_limit -> rate-limit."""
    kebab = re.sub(r"(?<=[a-z0-9])([A-Z])", r"-\1", name).replace("_", "-")
    return kebab.lower()


def package_name(name: str) -> str:
    return go_identifier(re.sub(r"[^a-z0-9]", "", name.lower()) or "policy", prefix="policy")


def scaffold(
    home: EngineSources,
    policies_dir: Path,
    name: str,
    version: str,
    module_prefix: str,
    go_version: str,
) -> Path:
    """Create policies_dir/<dir-name>/<version>/ and return it; never overwrite."""
    if not _NAME.match(name):
        raise UsageError(
            f"policy name {name!r} is not allowed; use letters, digits, '_' and '-', "
            "starting with a letter"
        )
    if not _VERSION.match(version):
        raise UsageError(f"version {version!r} is not allowed; use vMAJOR.MINOR.PATCH")
    target = policies_dir / dir_name(name) / version
    if target.exists():
        raise UsageError(f"{target} already exists; pick another name or version")
    module = f"{module_prefix.rstrip('/')}/{dir_name(name)}/{version}"
    context = {
        "name": name,
        "name_go": go_string(name),
        "version": version,
        "package": package_name(name),
        "module": module,
        "engine_module": ENGINE_MODULE,
        "engine_version": ENGINE_PSEUDO_VERSION,
        "go_version": go_version,
        "type_name": "Policy",
    }
    files = {name: render(home.templates_dir, f"new/{name}.j2", **context) for name in _FILES}
    # Bazel's go_deps reads the go.sum of every go.work module that has a `require`. The
    # only requirement, the engine, is an in-repo module with no checksum, so it is empty.
    files["go.sum"] = ""
    write_files(target, files)
    return target
