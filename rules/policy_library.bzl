"""`policy_library`: the Go library of one policy version.

`policy-builder generate` writes one per `policies/<name>/<version>/BUILD.bazel`.
"""

load("@rules_go//go:def.bzl", "go_library")

def policy_library(name, srcs, importpath, deps = None, visibility = None, tags = None, **kwargs):
    """A go_library for a policy, tagged so `bazel query 'attr(tags, policy, //...)'` lists them.

    Args:
      name: target name (Gazelle's name for the import path).
      srcs: the policy's non-test .go files.
      importpath: the module path from the policy's go.mod; policies live in their own
        modules, so it cannot be inferred from the directory.
      deps: Go libraries the policy imports (the SDK is `//engine/worker/policies`).
      visibility: defaults to public, since the engine's registry depends on it.
      tags: extra tags; `policy` is always added.
      **kwargs: any other go_library attribute.
    """
    if not importpath:
        fail("policy_library %s: importpath is required (the module path of go.mod)" % name)
    go_library(
        name = name,
        srcs = srcs,
        importpath = importpath,
        deps = deps or [],
        visibility = visibility or ["//visibility:public"],
        tags = (tags or []) + ["policy"],
        **kwargs
    )
