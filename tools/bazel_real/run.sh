#!/usr/bin/env bash
# The step bodies are called by name ("body_$step"), which shellcheck cannot follow.
# shellcheck disable=SC2317
# Real Bazel 7.7.1 (Debian sid's bazel-bootstrap, in the root chroot.sh makes) against a copy
# of the project, with a local registry built from git snapshots: offline but for the Go
# module proxy and PyPI. Run as root. README.md says what is real and what is stood in.
#
#   run.sh PROJECT_DIR [STEP...]
#
# STEPs, in the default order:
#   setup     chroot.sh setup: the sid root with Bazel, host tools (quick when all is there)
#   registry  the local registry (registry.py; skipped when its inputs are unchanged)
#   tools     regctl and bazel-lib's Go tools built from source; the stand-ins (standins.py)
#   mod       copy the project to $WORK/ws (workspace.py); `bazel mod graph`
#   analysis  `bazel build --nobuild` of the image, index, load and generator targets
#   build     `bazel build //:engine`; bazel-bin/policy-engine --version lists every policy
#   image     build the image, index and load targets; run the amd64 image with runc
#   generate  `bazel run //tools/gen:policy-builder -- generate --check` (Bazel's Go SDK)
#   test      `bazel test //...`
#   shutdown  `bazel shutdown`
#
# Variables:
#   MIRROR (registry)   folder of git snapshots, <owner>+<repo>/repo (repos.txt lists them)
#   WORK=/tmp/bazel-real   everything this writes: registry, tools, ws, out (Bazel), logs
#   CHROOT=$WORK/sid       the sid root; may be shared between WORKs
#   REGISTRY=$WORK/registry  BCR=$MIRROR/bazelbuild+bazel-central-registry/repo
#   MODULES=<this dir>/modules.txt   modules that get sources (`bazel mod graph`'s output)
#   REFS="bazel_skylib@1.9.2=1.9.1 toml.bzl@0.4.1=HEAD"   versions whose tag a snapshot lacks
#   GOROOT_HOST=$(go env GOROOT)   the host's Go: builds the tools, stands in for the Go SDK
#   EXTRA_FLAGS   more flags for every Bazel command (e.g. --config=remote --remote_cache=…)
# Logs: $WORK/logs/<step>.{out,err}. One line per step on stdout:
#   [step] rc=N Ts <summary, or the first error>.  Exit status 1 if any step failed.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DEFAULT_STEPS="setup registry tools mod analysis build image generate test shutdown"
# The targets analysis covers: everything a release builds, and the generator.
ANALYSIS_TARGETS=(//:engine_image //:engine_image_index //:engine_load //tools/gen:policy-builder)
IMAGE_TARGETS=(//:engine_image //:engine_image_index //:engine_load)
# What rules/engine_image.bzl promises: distroless nonroot, the binary in /app.
IMAGE_USER=65532:65532 IMAGE_CWD=/app IMAGE_CMD=(/app/policy-engine --version)

die() { echo "run.sh: $*" >&2; exit 2; }

setup_env() {
  export WORK=${WORK:-/tmp/bazel-real}
  export CHROOT=${CHROOT:-$WORK/sid}
  export REGISTRY=${REGISTRY:-$WORK/registry}
  export MODULES=${MODULES:-$HERE/modules.txt}
  export REFS=${REFS:-bazel_skylib@1.9.2=1.9.1 toml.bzl@0.4.1=HEAD}
  export EXTRA_FLAGS=${EXTRA_FLAGS:-}
  if [ -z "${GOROOT_HOST:-}" ]; then GOROOT_HOST=$(go env GOROOT); fi
  export GOROOT_HOST
  export BINDS=$WORK  # the only host directory the root sees, at the same path
  export WS=$WORK/ws TOOLS=$WORK/tools LOGS=$WORK/logs
  export PYTHONPATH=$HERE
}

# ---- inside one step (a child process, so `set -e` holds in every function) ----

# Bazel in the root, in the workspace copy. --nosystem_rc: Debian's /etc/bazel/bazelrc
# silently overrides eight modules with Debian's copies. The labelled install base
# (chroot.sh) makes Bazel report its version instead of "development version".
bz() {
  # shellcheck disable=SC2016  # expanded by the inner bash
  chroot "$CHROOT" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    TERM=dumb LANG=C.UTF-8 bash -c 'cd "$1" && shift && exec bazel "$@"' bazel "$WS" \
    --nosystem_rc --install_base=/usr/share/bazel-labeled --trust_install_base \
    "--output_user_root=$WORK/out" --host_jvm_args=-Xmx3g "$@"
}

# The flags every build command gets: the local registry, no lockfile (the registry is not
# the BCR the lockfile was written against), Bazel 8's default of no WORKSPACE (Bazel 7's
# WORKSPACE suffix downloads rules_cc), and the stand-ins.
bazel_flags() {
  local overrides
  mapfile -t overrides <"$WORK/standins.flags"
  FLAGS=(--lockfile_mode=off "--registry=file://$REGISTRY" --noenable_workspace "${overrides[@]}")
  # shellcheck disable=SC2206  # EXTRA_FLAGS is a list of flags, split on purpose
  FLAGS+=($EXTRA_FLAGS)
}

pin() { python3 -m bazel_real.pins --workspace "$PROJECT" --registry "$REGISTRY" "$1"; }

# gawk's source from Debian (tar.bzl's tar has an implicit @gawk dependency, so analysis
# loads it; the BCR's source is a GNU release archive, offline here). Debian's upstream
# version must be the module's.
gawk_source() {
  local want have dir=$WORK/gawk
  want=$(grep -oE '^gawk@[^ #]+' "$MODULES" | sed 's/^gawk@//; s/\.bcr\.[0-9]*$//') || return 0
  if [ ! -f "$dir/src/configure" ]; then
    rm -rf "$dir" && mkdir -p "$dir"
    chroot "$CHROOT" bash -c "cd '$dir' && apt-get source --download-only -qq gawk" >&2
    tar -xf "$dir"/gawk_*.orig.tar.* -C "$dir" && mv "$dir"/gawk-*/ "$dir/src"
  fi
  have=$(sed -n 's/^PACKAGE_VERSION=.\([^'"'"']*\).*/\1/p' "$dir/src/configure")
  [ "$have" = "$want" ] || { echo "ERROR: Debian's gawk is $have, the module is $want" >&2; return 1; }
  echo "--extra-module-dir=$(grep -oE '^gawk@[^ #]+' "$MODULES")=$dir/src"
}

body_setup() { "$HERE/chroot.sh" setup; }

body_registry() {
  : "${MIRROR:?set MIRROR to the folder of repository snapshots}"
  local args=() r gawk
  for r in $REFS; do args+=("--ref=$r"); done
  gawk=$(gawk_source)
  if [ -n "$gawk" ]; then args+=("$gawk"); fi
  python3 -m bazel_real.registry build --bcr "${BCR:-$MIRROR/bazelbuild+bazel-central-registry/repo}" \
    --mirror "$MIRROR" --out "$REGISTRY" --modules-file "$MODULES" "${args[@]}"
}

body_tools() {
  # Release binaries are downloads; these are built from the same sources, statically, with
  # the host Go: regctl at the version rules_oci pins, bazel-lib's tools from the pinned
  # tags' trees in the registry (the very sources Bazel loads those rule sets from).
  local go="$GOROOT_HOST/bin/go" pkg version m src tool python
  # The Python stand-in runs the root's python3: it must be the minor MODULE.bazel pins, or
  # the wheels pip.parse fetches for that minor do not load.
  python=$(chroot "$CHROOT" /usr/bin/python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  [ "$python" = "$(pin python)" ] || { echo "ERROR: the root's python3 is $python, MODULE.bazel pins $(pin python)" >&2; return 1; }
  pkg=$(pin regctl-package) version=$(pin regctl-version)
  rm -rf "$TOOLS" && mkdir -p "$TOOLS"
  GOBIN=$TOOLS CGO_ENABLED=0 GOWORK=off "$go" install -trimpath "$pkg@$version"
  local built="regctl $version"
  # The modules and tools standins.py expects (BAZEL_LIB_MODULES, BAZEL_LIB_GO_TOOLS).
  for m in bazel_lib aspect_bazel_lib; do
    src=$REGISTRY/sources/$m/$(pin "dep:$m")
    for tool in copy_to_directory copy_directory expand_template; do
      (cd "$src" && CGO_ENABLED=0 GOWORK=off "$go" build -trimpath -mod=readonly \
        -o "$TOOLS/$m/$tool" "./tools/$tool")
    done
    built+=", $m $(pin "dep:$m")"
  done
  python3 -m bazel_real.standins --workspace "$PROJECT" --registry "$REGISTRY" --tools "$TOOLS" \
    --out "$WORK/standins" >"$WORK/standins.flags"
  echo "SUMMARY: built $built with $("$go" env GOVERSION); $(wc -l <"$WORK/standins.flags") stand-ins"
}

body_mod() {
  python3 -m bazel_real.workspace --project "$PROJECT" --dest "$WS" --goroot "$GOROOT_HOST" \
    --downloads "$WORK/dl"
  bazel_flags
  bz mod graph "${FLAGS[@]}"
  echo "SUMMARY: $(grep -v '^<root>' "$LOGS/mod.out" | grep -oE '[A-Za-z0-9_.-]+@[0-9][^ ]*' | sort -u | wc -l) modules besides the root resolved"
}

body_analysis() {
  bazel_flags
  bz build -k --nobuild "${FLAGS[@]}" "${ANALYSIS_TARGETS[@]}"
  echo "SUMMARY: $(grep -oE 'Analyzed [0-9]+ targets \([^)]*\)' "$LOGS/analysis.err" | tail -1)"
}

body_build() {
  bazel_flags
  bz build "${FLAGS[@]}" //:engine
  python3 -m bazel_real.policies --policies "$WS/policies" -- "$WS/bazel-bin/policy-engine" --version
}

body_image() {
  bazel_flags
  bz build "${FLAGS[@]}" "${IMAGE_TARGETS[@]}"
  python3 -m bazel_real.oci_run --layout "$WS/bazel-bin/engine_image_linux_amd64" \
    --work "$WORK/image" --policies "$WS/policies" --user "$IMAGE_USER" --cwd "$IMAGE_CWD" \
    -- "${IMAGE_CMD[@]}"
}

body_generate() {
  # The root has no Go: the generator reaches Go only through the SDK MODULE.bazel pins.
  bazel_flags
  bz run "${FLAGS[@]}" //tools/gen:policy-builder -- generate --check
  echo "SUMMARY: generated files up to date (generator run by Bazel, Go SDK $(pin go-sdk))"
}

body_test() {
  bazel_flags
  bz test "${FLAGS[@]}" --test_output=errors //...
  echo "SUMMARY: $(grep -hoE 'Executed [0-9]+ out of [0-9]+ tests?: .*' "$LOGS"/test.* | tail -1)"
}

body_shutdown() {
  bz shutdown
  echo "SUMMARY: Bazel server of $WS stopped"
}

# ---- the driver ----

run_step() {
  local name=$1 rc=0 t0=$SECONDS line
  # 9>&-: the Bazel server a step starts outlives it and must not hold run.sh's lock.
  "${BASH_SOURCE[0]}" --body "$PROJECT" "$name" >"$LOGS/$name.out" 2>"$LOGS/$name.err" 9>&- || rc=$?
  if [ $rc = 0 ]; then
    line=$(grep -h '^SUMMARY: ' "$LOGS/$name.out" "$LOGS/$name.err" | tail -1 | cut -c10- || true)
  else
    line=$(grep -hm1 -E '^(ERROR|FAILED)' "$LOGS/$name.err" "$LOGS/$name.out" | head -1 || true)
    [ -n "$line" ] || line=$(grep -v '^\s*$' "$LOGS/$name.err" | tail -1 || true)
    line="first error: $line"
  fi
  echo "[$name] rc=$rc $((SECONDS - t0))s ${line:0:300}"
  return $rc
}

main() {
  if [ "${1:-}" = --body ]; then
    PROJECT=$2
    setup_env
    "body_$3"
    return
  fi
  [ $# -ge 1 ] || die "usage: run.sh PROJECT_DIR [STEP...] (steps: $DEFAULT_STEPS)"
  [ "$(id -u)" = 0 ] || die "run as root (chroot, mounts, runc)"
  PROJECT=$(cd "$1" && pwd)
  shift
  local steps=("$@") s failed=0
  [ ${#steps[@]} -gt 0 ] || read -ra steps <<<"$DEFAULT_STEPS"
  for s in "${steps[@]}"; do
    declare -F "body_$s" >/dev/null || die "unknown step $s (steps: $DEFAULT_STEPS)"
  done
  setup_env
  mkdir -p "$LOGS"
  exec 9>"$WORK/run.lock"
  flock -n 9 || die "another run.sh is using $WORK"
  for s in "${steps[@]}"; do
    if [ "$s" != setup ]; then
      [ -x "$CHROOT/usr/bin/bazel" ] || die "no Bazel in $CHROOT: run the setup step first"
      "$HERE/chroot.sh" mount 9>&-
    fi
    run_step "$s" || failed=1
  done
  return $failed
}

# `exit` on the same line: bash reads a script as it runs, so an edit made during a run
# must not be read after main returns.
main "$@"; exit
