# Bazel files: checked with buildifier, a Starlark interpreter and Bazel 4.2.3
# loading/analysis (see docs/bazel.md). Filled in by the Bazel integration issue (#5).

.PHONY: lint-bazel test-bazel

lint-bazel:
	@echo "Bazel checks not wired yet (issue #5)"

test-bazel:
	@echo "Bazel checks not wired yet (issue #5)"
