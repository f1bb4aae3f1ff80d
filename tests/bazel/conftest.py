"""The Bazel suites import their helpers (fixtures, tooling, the Starlark evaluator) from
this directory. The Bazel 4.2.3 analysis test needs a Bazel install: `make test-bazel`
enables it (POLICY_BUILDER_BAZEL4=1) and it then fails when bazel is missing."""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
# The facts package (tools/bazel_facts) the checks are built from.
sys.path.insert(0, str(Path(__file__).parents[2] / "tools"))

collect_ignore = (
    [] if os.environ.get("POLICY_BUILDER_BAZEL4") == "1" else ["test_bazel4_analysis.py"]
)
