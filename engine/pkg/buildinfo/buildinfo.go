// Package buildinfo holds the engine's build metadata. Version, Commit and BuildTime
// are set only at link time (`-ldflags -X` or Bazel `x_defs`), so generated sources
// stay free of timestamps and the same inputs give the same binary.
package buildinfo

var (
	// Version is the build version (BUILD_VERSION).
	Version = "dev"
	// Commit is the source commit (GIT_COMMIT).
	Commit = "unknown"
	// BuildTime is the RFC 3339 build time, from SOURCE_DATE_EPOCH when set.
	BuildTime = "unknown"
)
