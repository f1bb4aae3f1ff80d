"""`policy_engine_binary`: the static, pure-Go engine with every policy linked in."""

load("@rules_go//go:def.bzl", "go_binary")

BUILDINFO_PACKAGE = "github.com/policy-engine-builder/policy-engine/pkg/buildinfo"

# Workspace status keys (tools/workspace_status.sh) → buildinfo variables. rules_go applies
# these only with --stamp (the `release` config); otherwise the variables keep their source
# defaults and the binary stays cacheable. Only STABLE_ keys: a volatile one would make the
# stamped link read volatile-status.txt, which changes every build, so no release link
# would ever come from the remote cache.
STAMP_X_DEFS = {
    BUILDINFO_PACKAGE + ".BuildTime": "{STABLE_BUILD_TIME}",
    BUILDINFO_PACKAGE + ".Commit": "{STABLE_GIT_COMMIT}",
    BUILDINFO_PACKAGE + ".Version": "{STABLE_BUILD_VERSION}",
}

def policy_engine_binary(name, embed, out = "policy-engine", **kwargs):
    """The engine binary: static, without cgo, stamped from workspace status.

    Args:
      name: target name.
      embed: the engine's main-package library and the generated registry library; both
        have the engine's import path and are compiled as one package.
      out: the executable's file name (the image runs /app/<out>).
      **kwargs: any other go_binary attribute.
    """
    go_binary(
        name = name,
        embed = embed,
        out = out,
        pure = "on",
        static = "on",
        x_defs = STAMP_X_DEFS,
        **kwargs
    )
