"""Facts about the Bazel rule sets this project pins, read from their sources.

`python -m bazel_facts` (`make bazel-facts`) reads snapshots of the Bazel Central Registry and
of the pinned rule sets, and writes `tests/bazel/facts.json`: every fact with the file and line
it was read from. The Bazel checks under tests/bazel are built from that file alone.
"""
