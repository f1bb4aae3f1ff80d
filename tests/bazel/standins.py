"""Stand-in rule sets for Bazel 4.2.3 (WORKSPACE mode), written into a temporary directory.

Each stand-in rule declares the attributes `schemas` lists for the real rule (so Bazel
itself rejects unknown attributes, wrong types and missing mandatory ones), returns
providers, and checks what rules_go checks at analysis time (deps must be Go libraries;
embedded libraries share one import path; no two packages with one import path are linked
into a binary). Macros turn dicts and lists into files the way the real macros do. Nothing
builds: the suite runs `--nobuild`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import schemas
from schemas import Attr, Schema

# Label attributes that must carry Go providers, as in rules_go.
GO_PROVIDER_ATTRS = {"deps", "embed"}


def _attr(name: str, attr: Attr, *, macro: bool, go: bool) -> str:
    kind = attr.type.split("|")[0] if not macro else "label"
    args = []
    if attr.mandatory:
        args.append("mandatory = True")
    if attr.values:
        args.append("values = [" + ", ".join(f'"{v}"' for v in attr.values) + "]")
    if kind == "label":
        args.append("allow_files = True")
    if kind == "label_list":
        if go and name in GO_PROVIDER_ATTRS:
            args.append("providers = [GoStandinInfo]")
        else:
            args.append("allow_files = True")
    if kind == "visibility":
        return ""
    return f'        "{name}": attr.{kind}({", ".join(args)}),\n'


def _attrs(schema: Schema, exclude: Iterable[str] = (), *, go: bool = False) -> str:
    skipped = set(exclude)
    body = "".join(
        _attr(name, attr, macro="|" in attr.type, go=go)
        for name, attr in sorted(schema.attrs.items())
        if name not in skipped
    )
    return "{\n" + body + "    }"


_WRITE = '''
def _write_impl(ctx):
    out = ctx.actions.declare_file(ctx.label.name + ".txt")
    ctx.actions.write(out, "\\n".join(ctx.attr.content))
    return [DefaultInfo(files = depset([out]))]

_write = rule(_write_impl, attrs = {"content": attr.string_list()})

def _as_file(name, kind, value, lines):
    """Like the real macros: a dict or list becomes a file target, a label stays."""
    if type(value) in ("dict", "list"):
        _write(name = "%s_write_%s" % (name, kind), content = lines(value))
        return ":%s_write_%s" % (name, kind)
    return value

def _kv(d):
    return ["%s=%s" % (k, v) for k, v in d.items()]

def _nl(items):
    return items

def _comma(items):
    return [",".join(items)]

def _simple_impl(ctx):
    out = ctx.actions.declare_file(ctx.label.name + ".out")
    ctx.actions.write(out, "")
    return [DefaultInfo(files = depset([out]))]

def _exec_impl(ctx):
    out = ctx.actions.declare_file(ctx.label.name + ".sh")
    ctx.actions.write(out, "", is_executable = True)
    return [DefaultInfo(files = depset([out]), executable = out)]
'''


def rules_go() -> str:
    lib, binary, test = schemas.GO_LIBRARY, schemas.GO_BINARY, schemas.GO_TEST
    return f'''"""Stand-in for rules_go 0.62.0 go/def.bzl ({lib.source}; {binary.source})."""

GoStandinInfo = provider(fields = ["importpath", "label", "transitive"])

def _archives(ctx):
    direct = [d[GoStandinInfo] for d in ctx.attr.deps]
    return depset(
        [struct(importpath = d.importpath, label = d.label) for d in direct],
        transitive = [d.transitive for d in direct],
    )

def _embedded_importpath(ctx):
    paths = [e[GoStandinInfo].importpath for e in ctx.attr.embed]
    if ctx.attr.importpath:
        paths.append(ctx.attr.importpath)
    for p in paths:
        if p != paths[0]:
            fail("embedded libraries must share one importpath: %s" % paths)
    return paths[0] if paths else ""

def _go_library_impl(ctx):
    out = ctx.actions.declare_file(ctx.label.name + ".a")
    ctx.actions.write(out, "")
    return [
        DefaultInfo(files = depset([out])),
        GoStandinInfo(importpath = _embedded_importpath(ctx), label = str(ctx.label), transitive = _archives(ctx)),
    ]

go_library = rule(_go_library_impl, attrs = {_attrs(lib, go=True)})

def _go_binary_impl(ctx):
    archives = {{}}
    deps = depset(transitive = [_archives(ctx)] + [e[GoStandinInfo].transitive for e in ctx.attr.embed])
    for a in deps.to_list():
        if a.importpath in archives and archives[a.importpath] != a.label:
            fail("package conflict: %s and %s both have importpath %s" % (archives[a.importpath], a.label, a.importpath))
        archives[a.importpath] = a.label
    _embedded_importpath(ctx)
    for key, value in ctx.attr.x_defs.items():
        if "." not in key:
            fail("x_defs key %s is not <importpath>.<Var>" % key)
    out = ctx.actions.declare_file(ctx.attr.out or ctx.label.name)
    ctx.actions.write(out, "", is_executable = True)
    return [DefaultInfo(files = depset([out]), executable = out)]

go_binary = rule(_go_binary_impl, executable = True, attrs = {_attrs(binary, go=True)})

def _go_test_impl(ctx):
    out = ctx.actions.declare_file(ctx.label.name + "_test")
    ctx.actions.write(out, "", is_executable = True)
    return [DefaultInfo(files = depset([out]), executable = out)]

go_test = rule(_go_test_impl, test = True, attrs = {_attrs(test, go=True)})
'''


def rules_oci() -> str:
    image, index, load = schemas.OCI_IMAGE, schemas.OCI_IMAGE_INDEX, schemas.OCI_LOAD
    return f'''"""Stand-in for rules_oci 2.3.2 oci/defs.bzl ({image.source}; {index.source}; {load.source})."""
{_WRITE}
_oci_image = rule(_simple_impl, attrs = {_attrs(image)})

def oci_image(name, created = None, labels = None, annotations = None, env = None, cmd = None, entrypoint = None, exposed_ports = None, volumes = None, **kwargs):
    _oci_image(
        name = name,
        created = created,
        labels = _as_file(name, "labels", labels, _kv),
        annotations = _as_file(name, "annotations", annotations, _kv),
        env = _as_file(name, "env", env, _kv),
        cmd = _as_file(name, "cmd", cmd, _nl),
        entrypoint = _as_file(name, "entrypoint", entrypoint, _nl),
        exposed_ports = _as_file(name, "exposed_ports", exposed_ports, _comma),
        volumes = _as_file(name, "volumes", volumes, _comma),
        **kwargs
    )

_oci_image_index = rule(_simple_impl, attrs = {_attrs(index)})

def oci_image_index(name, annotations = None, **kwargs):
    _oci_image_index(name = name, annotations = _as_file(name, "annotations", annotations, _kv), **kwargs)

_oci_load = rule(_exec_impl, executable = True, attrs = {_attrs(load)})

def oci_load(name, repo_tags = None, **kwargs):
    _oci_load(name = name, repo_tags = _as_file(name, "tags", repo_tags, _nl), **kwargs)

oci_pulled_image = rule(_simple_impl, attrs = {{"digest": attr.string(mandatory = True)}})
'''


def tar_bzl() -> str:
    tar, mutate = schemas.TAR, schemas.MUTATE
    mutate_keys = ", ".join(f'"{k}"' for k in sorted(mutate.attrs))
    return f'''"""Stand-in for tar.bzl 0.10.5 tar/tar.bzl ({tar.source}; {mutate.source})."""
{_WRITE}
_MUTATE_KEYS = [{mutate_keys}]

def mutate(**kwargs):
    for key in kwargs:
        if key not in _MUTATE_KEYS:
            fail("mutate() got unexpected keyword argument %s" % key)
    return struct(mutate_kwargs = kwargs)

_mtree = rule(_simple_impl, attrs = {{
    "srcs": attr.label_list(allow_files = True),
    "mtree": attr.label(allow_files = True),
    "strip_prefix": attr.string(),
    "package_dir": attr.string(),
    "mtime": attr.string(),
    "owner": attr.string(),
    "ownername": attr.string(),
}})

_tar = rule(_simple_impl, attrs = {_attrs(tar, exclude=("mutate", "include_runfiles", "stamp"))})

def tar(name, mtree = "auto", mutate = None, include_runfiles = None, stamp = 0, **kwargs):
    if mtree == "auto":
        _mtree(name = name + "_mtree", srcs = kwargs.get("srcs", []))
        mtree = ":%s_mtree" % name
        if mutate:
            _mtree(name = name + "__mutated", mtree = mtree, **mutate.mutate_kwargs)
            mtree = ":%s__mutated" % name
    _tar(name = name, mtree = mtree, **kwargs)
'''


def bazel_lib() -> str:
    ptf = schemas.PLATFORM_TRANSITION_FILEGROUP
    return f'''"""Stand-in for bazel_lib 3.7.1 lib/transitions.bzl ({ptf.source})."""

def _platform_impl(settings, attr):
    return {{"//command_line_option:platforms": str(attr.target_platform)}}

_platform_transition = transition(
    implementation = _platform_impl,
    inputs = [],
    outputs = ["//command_line_option:platforms"],
)

def _impl(ctx):
    files = depset(transitive = [s[DefaultInfo].files for s in ctx.attr.srcs])
    return [DefaultInfo(files = files)]

platform_transition_filegroup = rule(_impl, attrs = {{
        "srcs": attr.label_list(allow_files = True, cfg = _platform_transition),
        "target_platform": attr.label(mandatory = True),
        "_allowlist_function_transition": attr.label(
            default = "@bazel_tools//tools/allowlists/function_transition_allowlist",
        ),
    }})
'''


def expand_template() -> str:
    schema = schemas.EXPAND_TEMPLATE
    return f'''"""Stand-in for bazel_lib 3.7.1 lib/expand_template.bzl ({schema.source})."""
{_WRITE}
def _expand_impl(ctx):
    out = ctx.outputs.out or ctx.actions.declare_file(ctx.label.name + ".txt")
    ctx.actions.write(out, "")
    return [DefaultInfo(files = depset([out]))]

_expand_template = rule(_expand_impl, attrs = {_attrs(schema)})

def expand_template(name, template, **kwargs):
    if type(template) == "list":
        _write(name = name + "_tmpl", content = template)
        template = ":%s_tmpl" % name
    _expand_template(name = name, template = template, **kwargs)
'''


def rules_python(kind: str) -> str:
    schema = schemas.PY_BINARY if kind == "py_binary" else schemas.PY_LIBRARY
    executable = "True" if kind == "py_binary" else "False"
    return f'''"""Stand-in for rules_python 2.3.2 {kind} ({schema.source})."""

def _impl(ctx):
    out = ctx.actions.declare_file(ctx.label.name + ".py.out")
    ctx.actions.write(out, "", is_executable = {executable})
    if {executable}:
        return [DefaultInfo(files = depset([out]), executable = out)]
    return [DefaultInfo(files = depset([out]))]

{kind} = rule(_impl, executable = {executable}, attrs = {_attrs(schema)})
'''


def _repo(root: Path, name: str, files: Mapping[str, str]) -> Path:
    path = root / name
    path.mkdir(parents=True, exist_ok=True)
    (path / "WORKSPACE").write_text(f'workspace(name = "{name.replace(".", "_")}")\n')
    for rel, content in files.items():
        (path / rel).parent.mkdir(parents=True, exist_ok=True)
        (path / rel).write_text(content)
    return path


def write_standins(root: Path, go_labels: Iterable[str], oci_repos: Iterable[str],
                   pypi_packages: Iterable[str]) -> str:  # fmt: skip
    """Write every stand-in repository under `root`; return the WORKSPACE text mapping them."""
    repos: dict[str, Path] = {
        "rules_go": _repo(root, "rules_go", {"BUILD.bazel": "", "go/BUILD.bazel": "",
                                             "go/def.bzl": rules_go()}),
        "rules_oci": _repo(root, "rules_oci", {"BUILD.bazel": "", "oci/BUILD.bazel": "",
                                               "oci/defs.bzl": rules_oci()}),
        "tar.bzl": _repo(root, "tar.bzl", {"BUILD.bazel": "", "tar/BUILD.bazel": "",
                                           "tar/tar.bzl": tar_bzl()}),
        "bazel_lib": _repo(root, "bazel_lib", {"BUILD.bazel": "", "lib/BUILD.bazel": "",
                                               "lib/transitions.bzl": bazel_lib(),
                                               "lib/expand_template.bzl": expand_template()}),
        "rules_python": _repo(root, "rules_python", {
            "BUILD.bazel": "", "python/BUILD.bazel": "",
            "python/py_binary.bzl": rules_python("py_binary"),
            "python/py_library.bzl": rules_python("py_library"),
        }),
    }  # fmt: skip
    # Test rules depend on Bazel's coverage tools, which Bazel 4 would download.
    repos["remote_coverage_tools"] = _repo(root, "remote_coverage_tools", {"BUILD.bazel": (
        'filegroup(name = "coverage_report_generator", visibility = ["//visibility:public"])\n'
        'filegroup(name = "lcov_merger", visibility = ["//visibility:public"])\n')})  # fmt: skip
    py_load = 'load("@rules_python//python:py_library.bzl", "py_library")\n'
    repos["pypi"] = _repo(root, "pypi", {
        f"{p}/BUILD.bazel": py_load + f'py_library(name = "{p}", visibility = ["//visibility:public"])\n'
        for p in pypi_packages
    } | {"BUILD.bazel": ""})  # fmt: skip
    go_packages: dict[str, dict[str, str]] = {}
    go_load = 'load("@rules_go//go:def.bzl", "go_library")\n'
    for label in sorted(set(go_labels)):
        repo, _, rest = label[1:].partition("//")
        pkg, _, name = rest.partition(":")
        files = go_packages.setdefault(repo, {"BUILD.bazel": ""})
        build = f"{pkg}/BUILD.bazel" if pkg else "BUILD.bazel"
        files[build] = (files.get(build) or go_load) + (
            f'go_library(name = "{name}", importpath = "{repo}/{pkg or name}", '
            'visibility = ["//visibility:public"])\n'
        )
    for repo, files in go_packages.items():
        repos[repo] = _repo(root, repo, files)
    oci_load = 'load("@rules_oci//oci:defs.bzl", "oci_pulled_image")\n'
    for repo in oci_repos:
        repos[repo] = _repo(root, repo, {"BUILD.bazel": oci_load + (
            f'oci_pulled_image(name = "{repo}", digest = "sha256:standin", '
            'visibility = ["//visibility:public"])\n')})  # fmt: skip
    return 'workspace(name = "policy_engine_builder")\n\n' + "".join(
        f'local_repository(\n    name = "{name}",\n    path = "{path}",\n)\n\n'
        for name, path in sorted(repos.items())
    )
