# Real Bazel 7.7.1 against a copy of this workspace: Debian's bazel-bootstrap in a sid chroot,
# a local registry built from git snapshots of the pinned rule sets (tools/bazel_real/README.md).
# Not part of `make test`: it needs root and those snapshots, which CI does not have.
#
#   make bazel-real MIRROR=<snapshots dir> [BAZEL_REAL_STEPS="mod analysis"] [WORK=...] [CHROOT=...]
#       [REMOTE_CACHE_TARGETS="//:engine"]

BAZEL_REAL_STEPS ?=

.PHONY: bazel-real

bazel-real:
	@test -n "$(MIRROR)" || { echo "usage: make bazel-real MIRROR=<dir of <owner>+<repo>/repo snapshots> [BAZEL_REAL_STEPS=...]"; exit 2; }
	MIRROR="$(MIRROR)" tools/bazel_real/run.sh $(CURDIR) $(BAZEL_REAL_STEPS)

# Its shell scripts; not part of `make lint` because CI does not install shellcheck.
.PHONY: lint-bazel-real
lint-bazel-real:
	shellcheck tools/bazel_real/*.sh
