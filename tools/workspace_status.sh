#!/usr/bin/env bash
# Bazel workspace status for `--config=release`: the keys the engine's x_defs read.
# Every key is STABLE_: rules_go then gives the stamped link stable-status.txt alone, not
# volatile-status.txt, whose BUILD_TIMESTAMP changes every build and would make the link
# miss the remote cache every time. The build time is stable too: it comes from
# SOURCE_DATE_EPOCH, else the commit time, so one commit always yields the same stamped
# binary; only a tree without git falls back to the clock (and relinks on every build).
# BUILD_HOST and BUILD_USER, which Bazel puts in stable-status.txt itself, are overridden:
# nothing reads them, and the machine's names would make each machine's link key its own.
set -euo pipefail

commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
version=${BUILD_VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}

echo "STABLE_BUILD_VERSION ${version}"
echo "STABLE_GIT_COMMIT ${commit}"
echo "STABLE_BUILD_TIME $(date -u -d "@${epoch}" +%Y-%m-%dT%H:%M:%SZ)"
echo "BUILD_HOST redacted"
echo "BUILD_USER redacted"
