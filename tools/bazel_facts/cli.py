"""`python -m bazel_facts`: write the facts file (see `make bazel-facts`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import FactsError
from .extract import Inputs, extract

COMMAND = (
    "make bazel-facts MIRROR=<snapshots> BCR=<registry snapshot> BAZEL_SRC=<Bazel sources>"
    " DOCS=<doc extracts>"
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bazel_facts", description=__doc__)
    parser.add_argument("--project", type=Path, default=Path.cwd())
    parser.add_argument(
        "--mirror", type=Path, required=True, help="folder of <owner>+<repo>/repo git snapshots"
    )
    parser.add_argument(
        "--bcr", type=Path, required=True, help="git snapshot of bazelbuild/bazel-central-registry"
    )
    parser.add_argument(
        "--bazel-src", type=Path, required=True, help="Bazel's source tree at .bazelversion"
    )
    parser.add_argument(
        "--doc-extracts", type=Path, help="output of tools/bazel_facts/doc_extract.sh"
    )
    parser.add_argument(
        "--ref",
        action="append",
        default=[],
        metavar="MODULE@VERSION=REF",
        help="read a release from REF when the snapshot lacks its tag",
    )
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    refs = dict(r.split("=", 1) for r in args.ref)
    try:
        facts = extract(
            Inputs(
                args.project,
                args.mirror,
                args.bcr,
                args.bazel_src,
                args.doc_extracts,
                refs,
                COMMAND,
            )
        )
    except FactsError as err:
        print(f"bazel-facts: {err}", file=sys.stderr)
        return 1
    args.out.write_text(facts.dump())
    print(f"bazel-facts: wrote {args.out}", file=sys.stderr)
    return 0
