#!/usr/bin/env bash
# Real Bazel's `starlark_doc_extract` over the .bzl files listed in doc_extract.labels, in a
# throwaway workspace whose bazel_deps are this project's: the text protos go to OUT_DIR, for
# `make bazel-facts DOCS=OUT_DIR` (rules the static reader cannot evaluate) and for the
# cross-check (`python -m bazel_facts.crosscheck`).
#
#   tools/bazel_facts/doc_extract.sh OUT_DIR
#
# BAZEL: the command that runs Bazel at .bazelversion from inside WORK (default `bazel`); it
#   must reach the project's pinned modules (e.g. `--registry=file://…` in BAZEL_FLAGS).
# BAZEL_FLAGS: flags for every command (registry, output_user_root, …).
# WORK: the throwaway workspace's parent (default $TMPDIR or /tmp).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
PROJECT=$(cd "$HERE/../.." && pwd)
OUT=$(mkdir -p "${1:?usage: doc_extract.sh OUT_DIR}" && cd "$1" && pwd)
WORK=${WORK:-${TMPDIR:-/tmp}}
WS=$WORK/bazel-facts-docws
read -r -a BAZEL_CMD <<< "${BAZEL:-bazel}"
read -r -a FLAGS <<< "${BAZEL_FLAGS:-}"
rm -rf "$WS" && mkdir -p "$WS"
{ echo 'module(name = "bazel_facts_doc_extract")'; grep -E '^bazel_dep\(' "$PROJECT/MODULE.bazel"; } > "$WS/MODULE.bazel"
: > "$WS/BUILD.bazel"
: > "$WS/labels.txt"
cd "$WS"
targets=()
while read -r label; do
  [ -n "$label" ] && [ "${label:0:1}" != "#" ] || continue
  name=$(echo "$label" | tr -c 'a-zA-Z0-9_\n' '_')
  pkg=${label%%:*} file=${label#*:}
  # starlark_doc_extract wants the loaded files as deps: the bzl_library that lists the file
  # carries them all.
  dep=$("${BAZEL_CMD[@]}" query "${FLAGS[@]}" "attr(srcs, ':${file//./\\.}]', kind(bzl_library, $pkg:*))" \
    2>/dev/null | head -1 || true)
  printf 'starlark_doc_extract(\n    name = "%s",\n    src = "%s",\n    deps = [%s],\n)\n\n' \
    "$name" "$label" "${dep:+\"$dep\"}" >> BUILD.bazel
  echo "$name $label" >> labels.txt
  targets+=("//:$name.textproto")
done < "$HERE/doc_extract.labels"
"${BAZEL_CMD[@]}" build "${FLAGS[@]}" --jobs=2 -k "${targets[@]}" || true
: > "$OUT/labels.txt"
while read -r name label; do
  if [ -f "bazel-bin/$name.textproto" ]; then
    cp "bazel-bin/$name.textproto" "$OUT/"
    echo "$name $label" >> "$OUT/labels.txt"
  else
    echo "doc_extract.sh: no output for $label (see the build errors above)" >&2
  fi
done < labels.txt
