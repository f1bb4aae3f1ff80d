#!/usr/bin/env bash
# Real Bazel's `starlark_doc_extract` over the .bzl files listed in doc_extract.labels, in a
# throwaway workspace whose bazel_deps are this project's: the text protos go to OUT_DIR, for
# `make bazel-facts DOCS=OUT_DIR` (rules the static reader cannot evaluate) and for the
# cross-check (`make bazel-facts-crosscheck`, docs/bazel.md).
#
#   tools/bazel_facts/doc_extract.sh OUT_DIR
#
# BAZEL: the command that runs Bazel at .bazelversion (default `bazel`), started inside the
#   throwaway workspace; it must reach the project's pinned modules offline or online.
# BAZEL_FLAGS: flags for the build (e.g. --registry=file://…).
# EXTRA_MODULE: lines appended to the workspace's MODULE.bazel (e.g. a go_sdk.download from a
#   local archive, where rules_go's default SDK cannot be downloaded).
# WORK: the throwaway workspace's parent (default $TMPDIR or /tmp).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
PROJECT=$(cd "$HERE/../.." && pwd)
OUT=$(mkdir -p "${1:?usage: doc_extract.sh OUT_DIR}" && cd "$1" && pwd)
WS=${WORK:-${TMPDIR:-/tmp}}/bazel-facts-docws
read -r -a BAZEL_CMD <<< "${BAZEL:-bazel}"
read -r -a FLAGS <<< "${BAZEL_FLAGS:-}"
rm -rf "$WS" && mkdir -p "$WS/deps"
{
  echo 'module(name = "bazel_facts_doc_extract")'
  grep -E '^bazel_dep\(' "$PROJECT/MODULE.bazel"
  echo "${EXTRA_MODULE:-}"
} > "$WS/MODULE.bazel"
grep -vE '^(#|$)' "$HERE/doc_extract.labels" | while read -r label; do
  echo "$(echo "$label" | tr -c 'a-zA-Z0-9_\n' '_') $label"
done > "$WS/labels.txt"
cd "$WS"
write_build() {
  : > BUILD.bazel
  while read -r name label; do
    # The rule wants every .bzl file src loads, transitively, as deps: a filegroup of the
    # files Bazel named as missing in the previous round.
    deps=""
    if [ -s "deps/$name" ]; then
      printf 'filegroup(\n    name = "%s_deps",\n    srcs = [%s],\n)\n\n' "$name" \
        "$(sort -u "deps/$name" | sed 's/.*/"&"/' | paste -sd, -)" >> BUILD.bazel
      deps="\":${name}_deps\""
    fi
    printf 'starlark_doc_extract(\n    name = "%s",\n    src = "%s",\n    deps = [%s],\n)\n\n' \
      "$name" "$label" "$deps" >> BUILD.bazel
  done < labels.txt
}
targets=($(awk '{print "//:" $1 ".textproto"}' labels.txt))
for round in 1 2 3 4 5 6 7 8 9 10; do
  write_build
  if "${BAZEL_CMD[@]}" build "${FLAGS[@]}" --check_visibility=false --jobs=2 -k "${targets[@]}" 2> build.err; then
    break
  fi
  grep -qE 'missing bzl_library targets|not declared in package' build.err || break
  sed -n 's/.*starlark_doc_extract rule \/\/:\([A-Za-z0-9_]*\): missing bzl_library targets for Starlark module(s) \(.*\)$/\1 \2/p' build.err |
    while read -r name modules; do tr ',' '\n' <<< "$modules" | sed 's/^ *//' >> "deps/$name"; done
  # A file its package uses in a rule is no target of its own: take the bzl_library listing it.
  sed -n "s/.*no such target '@@\([^~']*\)~*\/\/\([^:']*\):\([^']*\)': target .* not declared.*/\1 \2 \3/p" build.err |
    sort -u | while read -r repo pkg file; do
      lib=$("${BAZEL_CMD[@]}" query "${FLAGS[@]}" "attr(srcs, ':${file//./\\.}]', kind(bzl_library, @$repo//$pkg:*))" 2>/dev/null | head -1 || true)
      if [ -n "$lib" ]; then sed -i "s|^@$repo//$pkg:$file\$|$lib|" deps/*; fi
    done
  echo "doc_extract.sh: round $round: more loaded files to list" >&2
done
cat build.err >&2
# Bazel's own attributes, as its query reports them for a plain, an executable and a test
# Starlark rule and for the native alias and platform (crosscheck compares them with the facts).
mkdir -p attrs
printf 'def _impl(ctx):\n    pass\n\nplain = rule(_impl)\nexe = rule(_impl, executable = True)\nt_test = rule(_impl, test = True)\n' > attrs/defs.bzl
printf 'load(":defs.bzl", "exe", "plain", "t_test")\n\nplain(name = "plain")\n\nexe(name = "exe")\n\nt_test(name = "t_test")\n\nalias(name = "alias", actual = ":plain")\n\nplatform(name = "platform")\n' > attrs/BUILD.bazel
"${BAZEL_CMD[@]}" query "${FLAGS[@]}" --output=xml --xml:default_values //attrs:all > "$OUT/bazel_attrs.xml"
: > "$OUT/labels.txt"
while read -r name label; do
  if [ -f "bazel-bin/$name.textproto" ]; then
    cp "bazel-bin/$name.textproto" "$OUT/"
    echo "$name $label" >> "$OUT/labels.txt"
  else
    echo "doc_extract.sh: no output for $label (see the errors above)" >&2
  fi
done < labels.txt
