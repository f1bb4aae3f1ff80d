"""Bazel files for the policy engine: per-policy and engine BUILD files, the registry
package, go.work and MODULE.bazel's go_deps `use_repo`, all as pure functions."""

from policy_builder.bazel.build_file import merge_build_file
from policy_builder.bazel.errors import (
    BazelGenError,
    MissingGoSumError,
    StarlarkEditError,
    UnresolvedImportError,
)
from policy_builder.bazel.gopackages import (
    EngineModule,
    GoPackage,
    go_list,
    parse_go_list,
    read_engine_module,
)
from policy_builder.bazel.outputs import bazel_outputs

__all__ = [
    "BazelGenError",
    "EngineModule",
    "GoPackage",
    "MissingGoSumError",
    "StarlarkEditError",
    "UnresolvedImportError",
    "bazel_outputs",
    "go_list",
    "merge_build_file",
    "parse_go_list",
    "read_engine_module",
]
