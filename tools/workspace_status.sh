#!/usr/bin/env bash
# Bazel workspace status for `--config=release`: the keys the engine's x_defs read.
# STABLE_* keys invalidate stamped actions when they change; BUILD_TIME is volatile.
# BUILD_TIME comes from SOURCE_DATE_EPOCH, else the commit time, so one commit always
# yields the same stamped binary; only a tree without git falls back to the clock.
set -euo pipefail

commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
version=${BUILD_VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}

echo "STABLE_BUILD_VERSION ${version}"
echo "STABLE_GIT_COMMIT ${commit}"
echo "BUILD_TIME $(date -u -d "@${epoch}" +%Y-%m-%dT%H:%M:%SZ)"
