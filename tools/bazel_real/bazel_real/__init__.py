"""Real Bazel against a copy of the workspace, offline: the Python half of tools/bazel_real.

run.sh drives the steps; these modules do what is awkward in bash (see README.md).
"""
