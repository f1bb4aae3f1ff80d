"""What the real rules accept, at the versions MODULE.bazel pins: attribute names, types,
mandatory flags and allowed values, read from each rule set's source at its release tag.
The Starlark suite calls BUILD/MODULE files against these; the Bazel 4.2.3 stand-in rule
sets are generated from them, so both checks share one description.

Types: the `attr.*` constructor names, plus unions a macro accepts (`oci_image` takes a dict
of labels *or* a label of a file).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Attr:
    type: str
    mandatory: bool = False
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class Schema:
    """A rule, macro, or module-extension tag class."""

    kind: str
    # Where the attribute list was read: "<module> <version> <file>".
    source: str
    attrs: Mapping[str, Attr]
    # Rules and macros take Bazel's common attributes; tag classes and MODULE calls do not.
    common: bool = True
    # Extra checks the evaluator applies by name (see evaluator.check_call).
    checks: tuple[str, ...] = field(default=())
    # Test rules also take Bazel's test attributes (size, timeout, args, ...).
    test: bool = False


def _a(kind: str, *names: str) -> dict[str, Attr]:
    return {name: Attr(kind) for name in names}


# https://bazel.build/reference/be/common-definitions#common-attributes
COMMON = {
    **_a("label_list", "compatible_with", "exec_compatible_with", "restricted_to",
         "target_compatible_with", "toolchains", "aspect_hints", "applicable_licenses",
         "package_metadata"),
    **_a("string_list", "tags", "features", "licenses"),
    **_a("visibility", "visibility"),
    **_a("string", "deprecation"),
    **_a("bool", "testonly"),
    **_a("string_dict", "exec_properties"),
}  # fmt: skip

# https://bazel.build/reference/be/common-definitions#common-attributes-tests
TEST_COMMON = {
    **_a("string", "size", "timeout"),
    **_a("bool", "flaky", "local"),
    **_a("int", "shard_count"),
    **_a("string_list", "args", "env_inherit"),
    **_a("string_dict", "env"),
}

MODES = ("on", "off", "auto")
LINKMODES = ("auto", "normal", "pie", "plugin", "c-shared", "c-archive")
_GO_COMMON = {
    **_a("label_list", "srcs", "data", "deps", "embed", "embedsrcs", "cdeps"),
    **_a("string", "importpath"),
    **_a("string_list", "gc_goopts", "cppopts", "copts", "cxxopts", "clinkopts"),
    **_a("string_dict", "x_defs"),
    **_a("bool", "cgo"),
}  # fmt: skip

GO_LIBRARY = Schema(
    "go_library",
    "rules_go v0.62.0 go/private/rules/library.bzl",
    {
        **_GO_COMMON,
        **_a("string", "importmap"),
        **_a("string_list", "importpath_aliases"),
    },
    checks=("go_library",),
)
GO_BINARY = Schema(
    "go_binary",
    "rules_go v0.62.0 go/private/rules/binary.bzl (_go_binary_kwargs)",
    {
        **_GO_COMMON,
        **_a("string_dict", "env"),
        **_a("string_list", "gc_linkopts", "gotags"),
        **_a("string", "basename", "out"),
        **_a("label", "pgoprofile"),
        "pure": Attr("string", values=MODES),
        "static": Attr("string", values=MODES),
        "race": Attr("string", values=MODES),
        "msan": Attr("string", values=MODES),
        "goos": Attr("string"),
        "goarch": Attr("string"),
        "linkmode": Attr("string", values=LINKMODES),
    },
    checks=("go_binary",),
)
GO_TEST = Schema(
    "go_test",
    "rules_go v0.62.0 go/private/rules/test.bzl",
    {
        **_GO_COMMON,
        **_a("string_dict", "env"),
        **_a("string_list", "env_inherit", "gc_linkopts", "gotags"),
        **_a("string", "rundir", "goos", "goarch"),
        "pure": Attr("string", values=MODES),
        "static": Attr("string", values=MODES),
        "race": Attr("string", values=MODES),
        "msan": Attr("string", values=MODES),
        "linkmode": Attr("string", values=LINKMODES),
    },
    test=True,
)

OCI_IMAGE = Schema(
    "oci_image",
    "rules_oci v2.3.2 oci/defs.bzl (oci_image macro) + oci/private/image.bzl",
    {
        "base": Attr("label"),
        "created": Attr("label"),
        "tars": Attr("label_list"),
        "entrypoint": Attr("label|string_list"),
        "cmd": Attr("label|string_list"),
        "env": Attr("label|string_dict"),
        "user": Attr("string"),
        "workdir": Attr("string"),
        "exposed_ports": Attr("label|string_list"),
        "volumes": Attr("label|string_list"),
        "os": Attr("string"),
        "architecture": Attr("string"),
        "variant": Attr("string"),
        "labels": Attr("label|string_dict"),
        "annotations": Attr("label|string_dict"),
    },
)
OCI_IMAGE_INDEX = Schema(
    "oci_image_index",
    "rules_oci v2.3.2 oci/defs.bzl (oci_image_index macro) + oci/private/image_index.bzl",
    {
        "images": Attr("label_list", mandatory=True),
        "platforms": Attr("label_list"),
        "annotations": Attr("label|string_dict"),
    },
)
OCI_LOAD = Schema(
    "oci_load",
    "rules_oci v2.3.2 oci/defs.bzl (oci_load macro) + oci/private/load.bzl",
    {
        "format": Attr("string", values=("docker", "oci")),
        "image": Attr("label", mandatory=True),
        "repo_tags": Attr("label|string_list", mandatory=True),
        "loader": Attr("label"),
    },
)
TAR = Schema(
    "tar",
    "tar.bzl v0.10.5 tar/tar.bzl (tar macro) + tar/private/tar.bzl",
    {
        "mtree": Attr("label|string_list"),
        "mutate": Attr("partial"),
        "include_runfiles": Attr("bool"),
        "stamp": Attr("int"),
        "args": Attr("string_list"),
        "srcs": Attr("label_list"),
        "mode": Attr("string"),
        "out": Attr("output"),
        "compress": Attr("string"),
        "compressor": Attr("label"),
        "compressor_args": Attr("string"),
        "compute_unused_inputs": Attr("int"),
    },
)
MUTATE = Schema(
    "mutate",
    "tar.bzl v0.10.5 tar/mtree.bzl (mutate → mtree_mutate)",
    {
        **_a("label_list", "srcs", "includes"),
        **_a("bool", "preserve_symlinks"),
        **_a("string", "strip_prefix", "package_dir", "mtime", "owner", "ownername"),
        **_a("label", "awk_script"),
        **_a("string_dict", "script_args"),
    },
    common=False,
)
PLATFORM_TRANSITION_FILEGROUP = Schema(
    "platform_transition_filegroup",
    "bazel_lib v3.7.1 lib/transitions.bzl",
    {"srcs": Attr("label_list"), "target_platform": Attr("label", mandatory=True)},
)
EXPAND_TEMPLATE = Schema(
    "expand_template",
    "bazel_lib v3.7.1 lib/expand_template.bzl (macro) + lib/private/expand_template.bzl "
    "+ lib/stamping.bzl STAMP_ATTRS",
    {
        "template": Attr("label|string_list", mandatory=True),
        "out": Attr("output"),
        "data": Attr("label_list"),
        "is_executable": Attr("bool"),
        "stamp_substitutions": Attr("string_dict"),
        "substitutions": Attr("string_dict"),
        "stamp": Attr("int"),
    },
)
_PY = {
    **_a("label_list", "srcs", "deps", "data", "pyi_deps", "pyi_srcs"),
    **_a("string_list", "imports"),
    **_a("string", "precompile", "precompile_invalidation_mode", "precompile_source_retention",
         "srcs_version"),
    **_a("int", "precompile_optimize_level"),
}  # fmt: skip
PY_LIBRARY = Schema(
    "py_library",
    "rules_python 2.3.2 python/private/attributes.bzl + py_library.bzl",
    _PY,
)
PY_BINARY = Schema(
    "py_binary",
    "rules_python 2.3.2 python/private/py_executable.bzl + attributes.bzl",
    {
        **_PY,
        **_a("label", "main"),
        **_a("string", "main_module", "pyc_collection", "python_version"),
        **_a("string_list", "interpreter_args", "env_inherit"),
        **_a("int", "legacy_create_init", "stamp"),
        **_a("string_dict", "env"),
        **_a("label_keyed_string_dict", "config_settings"),
    },
)

# Native rules the BUILD files call (Bazel's build encyclopedia).
PLATFORM = Schema(
    "platform",
    "bazel native platform()",
    {**_a("label_list", "constraint_values"), **_a("label", "parents"), **_a("string_list", "flags")},
)  # fmt: skip
ALIAS = Schema("alias", "bazel native alias()", {"actual": Attr("label", mandatory=True)})

RULES: Mapping[str, Mapping[str, Schema]] = {
    "@rules_go//go:def.bzl": {
        "go_library": GO_LIBRARY,
        "go_binary": GO_BINARY,
        "go_test": GO_TEST,
    },
    "@rules_oci//oci:defs.bzl": {
        "oci_image": OCI_IMAGE,
        "oci_image_index": OCI_IMAGE_INDEX,
        "oci_load": OCI_LOAD,
    },
    "@tar.bzl//tar:tar.bzl": {"tar": TAR},
    "@bazel_lib//lib:transitions.bzl": {
        "platform_transition_filegroup": PLATFORM_TRANSITION_FILEGROUP
    },
    "@bazel_lib//lib:expand_template.bzl": {"expand_template": EXPAND_TEMPLATE},
    "@rules_python//python:py_binary.bzl": {"py_binary": PY_BINARY},
    "@rules_python//python:py_library.bzl": {"py_library": PY_LIBRARY},
}

# MODULE.bazel: the built-in functions and the tag classes of the extensions it uses.
MODULE_FUNCTIONS = {
    "module": Schema(
        "module",
        "bazel 8 MODULE.bazel module()",
        {**_a("string", "name", "version", "repo_name"), **_a("int", "compatibility_level"),
         **_a("string_list", "bazel_compatibility")},
        common=False,
    ),
    "bazel_dep": Schema(
        "bazel_dep",
        "bazel 8 MODULE.bazel bazel_dep()",
        {"name": Attr("string", mandatory=True), "version": Attr("string"),
         "max_compatibility_level": Attr("int"), "repo_name": Attr("string"),
         "dev_dependency": Attr("bool")},
        common=False,
    ),
}  # fmt: skip

EXTENSIONS: Mapping[tuple[str, str], Mapping[str, Schema]] = {
    ("@rules_go//go:extensions.bzl", "go_sdk"): {
        "download": Schema(
            "go_sdk.download",
            "rules_go v0.62.0 go/private/extensions.bzl (_download_tag, _COMMON_TAG_ATTRS)",
            {
                **_a("string", "name", "goos", "goarch", "strip_prefix", "version"),
                **_a("string_list_dict", "sdks"),
                **_a("string_list", "experiments", "urls"),
                **_a("label_list", "patches"),
                **_a("int", "patch_strip"),
                **_a("bool", "experimental_build_compiler_from_source"),
            },
            common=False,
        ),
    },
    ("@gazelle//:extensions.bzl", "go_deps"): {
        "from_file": Schema(
            "go_deps.from_file",
            "gazelle v0.53.0 internal/bzlmod/go_deps.bzl (_from_file_tag)",
            {**_a("label", "go_mod", "go_work"), **_a("bool", "fail_on_version_conflict")},
            common=False,
            checks=("exactly_one_of_go_mod_go_work",),
        ),
    },
    ("@rules_oci//oci:extensions.bzl", "oci"): {
        "pull": Schema(
            "oci.pull",
            "rules_oci v2.3.2 oci/extensions.bzl (pull tag_class)",
            {
                **_a("string", "name", "registry", "repository", "image", "digest", "tag"),
                **_a("string_dict", "www_authenticate_challenges"),
                **_a("string_list", "platforms", "bazel_tags"),
                **_a("bool", "reproducible"),
                **_a("label", "config"),
            },
            common=False,
        ),
    },
    ("@rules_python//python/extensions:python.bzl", "python"): {
        "toolchain": Schema(
            "python.toolchain",
            "rules_python 2.3.2 python/private/python.bzl (_toolchain tag_class)",
            {
                "python_version": Attr("string", mandatory=True),
                **_a("bool", "configure_coverage_tool", "ignore_root_user_error", "is_default"),
            },
            common=False,
        ),
    },
    ("@rules_python//python/extensions:pip.bzl", "pip"): {
        "parse": Schema(
            "pip.parse",
            "rules_python 2.3.2 python/private/pypi/extension.bzl (_pip_parse_ext_attrs, "
            "pip_repository_attrs.bzl ATTRS, attrs.bzl ATTRS, auth.bzl AUTH_ATTRS)",
            {
                "hub_name": Attr("string", mandatory=True),
                **_a("string", "python_version", "experimental_index_url", "python_interpreter",
                     "netrc"),
                **_a("string_list", "experimental_extra_index_urls", "simpleapi_skip",
                     "target_platforms", "envsubst", "extra_pip_args", "pip_data_exclude"),
                **_a("string_dict", "experimental_index_url_overrides", "environment",
                     "auth_patterns"),
                **_a("bool", "parallel_download", "use_hub_alias_dependencies",
                     "add_libdir_to_library_search_path", "download_only",
                     "enable_implicit_namespace_pkgs", "isolated", "quiet"),
                **_a("label", "pyproject_toml", "uv_lock", "requirements_darwin",
                     "requirements_linux", "requirements_lock", "requirements_windows",
                     "python_interpreter_target"),
                **_a("label_keyed_string_dict", "whl_modifications", "requirements_by_platform"),
                **_a("string_list_dict", "experimental_requirement_cycles",
                     "extra_hub_aliases"),
                **_a("int", "timeout"),
            },
            common=False,
        ),
    },
}  # fmt: skip
