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
#   remote-cache  `bazel build //:engine` through an nginx HTTP cache from two workspace copies
#             ("machines"): the second must run no compile or link; a release build must
#             change only stamped spawns, and its compiles and links come from the cache on the
#             other machine
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
#   REMOTE_CACHE_TARGETS=//:engine   what the remote-cache step builds
# Logs: $WORK/logs/<step>.{out,err}. One line per step on stdout:
#   [step] rc=N Ts <summary, or the first error>.  Exit status 1 if any step failed.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DEFAULT_STEPS="setup registry tools mod analysis build image generate test remote-cache shutdown"
# The targets analysis covers: everything a release builds, and the generator.
ANALYSIS_TARGETS=(//:engine_image //:engine_image_index //:engine_load //tools/gen:policy-builder)
IMAGE_TARGETS=(//:engine_image //:engine_image_index //:engine_load)
# What rules/engine_image.bzl promises: distroless nonroot, the binary in /app.
IMAGE_USER=65532:65532 IMAGE_CWD=/app IMAGE_CMD=(/app/policy-engine --version)
# The clean environment every Bazel client gets in the root.
ROOT_ENV=(HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin TERM=dumb
  LANG=C.UTF-8)
# What bz runs as: the client's environment and, unless BZ_HOST is empty, a host name of
# its own (UTS and mount namespaces, BZ_HOSTS bound over the root's /etc/hosts so that the
# name resolves: Bazel records an unresolvable one as "unknown"). The remote-cache step's
# machines set them (rc_machine).
BZ_ENV=("${ROOT_ENV[@]}")
BZ_HOST='' BZ_HOSTS=''

die() { echo "run.sh: $*" >&2; exit 2; }

setup_env() {
  export WORK=${WORK:-/tmp/bazel-real}
  export CHROOT=${CHROOT:-$WORK/sid}
  export REGISTRY=${REGISTRY:-$WORK/registry}
  export MODULES=${MODULES:-$HERE/modules.txt}
  export REFS=${REFS:-bazel_skylib@1.9.2=1.9.1 toml.bzl@0.4.1=HEAD}
  export EXTRA_FLAGS=${EXTRA_FLAGS:-}
  export REMOTE_CACHE_TARGETS=${REMOTE_CACHE_TARGETS:-//:engine}
  if [ -z "${GOROOT_HOST:-}" ]; then GOROOT_HOST=$(go env GOROOT); fi
  export GOROOT_HOST
  export BINDS=$WORK  # the only host directory the root sees, at the same path
  export WS=$WORK/ws TOOLS=$WORK/tools LOGS=$WORK/logs
  # bz's workspace copy and output root; the remote-cache step switches them.
  BZ_WS=$WS BZ_OUT=$WORK/out
  export PYTHONPATH=$HERE
}

# ---- inside one step (a child process, so `set -e` holds in every function) ----

# Bazel in the root, in the workspace copy. --nosystem_rc: Debian's /etc/bazel/bazelrc
# silently overrides eight modules with Debian's copies. The labelled install base
# (chroot.sh) makes Bazel report its version instead of "development version".
bz() {
  local host=()
  if [ -n "$BZ_HOST" ]; then
    # shellcheck disable=SC2016  # expanded by the inner shell
    host=(unshare --uts --mount sh -c 'hostname "$0" && mount --bind "$1" "$2" && shift 2 && exec "$@"'
      "$BZ_HOST" "$BZ_HOSTS" "$CHROOT/etc/hosts")
  fi
  # shellcheck disable=SC2016  # expanded by the inner bash
  "${host[@]}" chroot "$CHROOT" /usr/bin/env -i "${BZ_ENV[@]}" \
    bash -c 'cd "$1" && shift && exec bazel "$@"' bazel "$BZ_WS" \
    --nosystem_rc --install_base=/usr/share/bazel-labeled --trust_install_base \
    "--output_user_root=$BZ_OUT" --host_jvm_args=-Xmx3g "$@"
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

# ---- the remote-cache step ----
#
# Two "machines" build REMOTE_CACHE_TARGETS (//:engine) through one HTTP cache, nginx in the
# root (Bazel's HTTP cache protocol is GET and PUT of /ac/<digest> and /cas/<digest>; nginx's
# WebDAV module stores the PUTs). Machine A builds from $RC/a/ws with the usual client
# environment; machine B from a copy at another path, with another shell environment. Each
# has its own output root (no action cache, repository cache or output shared) and its own
# host name. Both copies are the same one-commit git checkout, so a release build stamps the
# same commit and time on both. Both take the Go SDK archive (the recipe's one edit to
# MODULE.bazel) from $WORK/dl: the same bytes, which every Go action's key depends on.

# A developer's shell on machine B: variables that would change action keys if the rules
# let the host's environment into actions.
RC_B_ENV=(USER=builder LOGNAME=builder TERM=xterm-256color LANG=en_US.UTF-8 TZ=Pacific/Auckland
  CC=cc CFLAGS=-O0 GOPATH=/nonexistent/go GOCACHE=/nonexistent/go-build)

rc_machine() {  # a | b: point bz at that machine (making its hosts file on first use)
  BZ_HOST=machine-$1 BZ_HOSTS=$RC/$1/hosts
  if [ ! -f "$BZ_HOSTS" ]; then
    mkdir -p "$RC/$1"
    printf '127.0.0.1 localhost\n127.0.1.1 %s\n' "$BZ_HOST" >"$BZ_HOSTS"
  fi
  case $1 in
    a) BZ_WS=$RC/a/ws BZ_OUT=$RC/a/out BZ_ENV=("${ROOT_ENV[@]}") ;;
    b)
      BZ_WS=$RC/b/home/src/policy-engine BZ_OUT=$RC/b/out
      BZ_ENV=("HOME=$RC/b/home" "PATH=$RC/b/home/bin:/usr/local/bin:/usr/bin:/bin"
        "TMPDIR=$RC/b/tmp" "${RC_B_ENV[@]}")
      ;;
  esac
}

# nginx in the root on a free loopback port, storing under DIR; its pid is CACHE_PID.
cache_start() {
  local dir=$1
  CACHE_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  mkdir -p "$dir/store" "$dir/tmp"
  # The workers run as nobody (the `user` line) and write the store and their temporary files.
  chown nobody:nogroup "$dir/store" "$dir/tmp"
  cat >"$dir/nginx.conf" <<CONF
worker_processes 2;
user nobody nogroup;
pid $dir/nginx.pid;
error_log $dir/error.log;
events {}
http {
  access_log $dir/access.log;
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  server {
    listen 127.0.0.1:$CACHE_PORT;
    root $dir/store;
    # Go archives and the linked binary are megabytes: no body size limit.
    client_max_body_size 0;
    # A miss is a 404 by design, not an error worth a log line.
    log_not_found off;
    location / {
      dav_methods PUT;
      create_full_put_path on;
      dav_access user:rw group:r all:r;
    }
  }
}
CONF
  chroot "$CHROOT" /usr/sbin/nginx -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" \
    -g 'daemon off;' </dev/null >"$dir/nginx.out" 2>&1 9>&- &
  CACHE_PID=$!
  for _ in $(seq 50); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$CACHE_PORT") 2>/dev/null; then return; fi
    kill -0 "$CACHE_PID" 2>/dev/null || break
    sleep 0.2
  done
  echo "ERROR: nginx is not listening on 127.0.0.1:$CACHE_PORT: $(cat "$dir/nginx.out")" >&2
  return 1
}

# Stop what this step started: both machines' Bazel servers, then nginx by its pid.
rc_stop() {
  local m
  for m in a b; do
    rc_machine "$m"
    if [ -d "$BZ_WS" ] && [ -d "$BZ_OUT" ]; then bz shutdown 2>/dev/null || true; fi
  done
  if [ -n "${CACHE_PID:-}" ]; then
    kill "$CACHE_PID" 2>/dev/null || true
    wait "$CACHE_PID" 2>/dev/null || true
    CACHE_PID=
  fi
}

# The current machine's workspace copy, committed as one commit whose id depends only on its
# files: a fixed author, the project's HEAD time.
rc_copy() {
  local when
  when="@$(git -C "$PROJECT" log -1 --format=%ct) +0000"
  python3 -m bazel_real.workspace --project "$PROJECT" --dest "$BZ_WS" --goroot "$GOROOT_HOST" \
    --downloads "$WORK/dl"
  git -C "$BZ_WS" -c init.defaultBranch=main init -q
  git -C "$BZ_WS" add -A
  GIT_AUTHOR_DATE=$when GIT_COMMITTER_DATE=$when git -C "$BZ_WS" -c user.name=bazel-real \
    -c user.email=bazel-real@localhost -c commit.gpgsign=false commit -qm "workspace snapshot"
}

# One build through the cache; its execution log and stderr are $RC/NAME.{json,err}.
rc_build() {  # NAME [FLAG...]
  local name=$1 rc=0
  shift
  # --materialize_param_files: the params files stay in bazel-out, for execlog to diff.
  bz build "${FLAGS[@]}" --config=remote "--remote_cache=http://127.0.0.1:$CACHE_PORT" \
    "--execution_log_json_file=$RC/$name.json" --materialize_param_files "$@" -- "${RC_TARGETS[@]}" 2>"$RC/$name.err" || rc=$?
  cat "$RC/$name.err" >&2
  return "$rc"
}

# An execlog comparison, kept as $RC/NAME.txt; its summary line is left in RC_LINE.
rc_compare() {  # NAME EXECLOG-ARGS...
  local name=$1 rc=0
  shift
  python3 -m bazel_real.execlog "$@" >"$RC/$name.txt" || rc=$?
  cat "$RC/$name.txt"
  RC_LINE=$(sed -n 's/^SUMMARY: //p' "$RC/$name.txt")
  return "$rc"
}

body_remote_cache() {
  RC=$WORK/remote-cache
  local failed=0 m exec_a exec_b plain stamped release
  read -ra RC_TARGETS <<<"$REMOTE_CACHE_TARGETS"
  rc_stop
  rm -rf "$RC"
  mkdir -p "$RC/b/home/bin" "$RC/b/tmp"
  trap rc_stop EXIT
  cache_start "$RC/cache"
  bazel_flags
  for m in a b; do
    rc_machine "$m"
    rc_copy
  done
  for m in a b; do
    rc_machine "$m"
    # Fetching and analysis first, so that a build's elapsed time is its actions'.
    bz build --nobuild "${FLAGS[@]}" -- "${RC_TARGETS[@]}"
    rc_build "$m-plain"
  done
  rc_machine a
  exec_a=$(bz info "${FLAGS[@]}" execution_root 2>/dev/null)
  rc_machine b
  exec_b=$(bz info "${FLAGS[@]}" execution_root 2>/dev/null)
  rc_compare plain cache --first "$RC/a-plain.json" --second "$RC/b-plain.json" \
    --first-output "$RC/a-plain.err" --second-output "$RC/b-plain.err" \
    --first-execroot "$exec_a" --second-execroot "$exec_b" || failed=1
  plain=$RC_LINE
  # A release build on B without B's action cache, so that every spawn is logged (most as
  # remote cache hits) and can be compared with A's plain build, which ran every spawn and
  # so left its params files in A's bazel-out.
  bz clean
  rc_build b-release --config=release
  rc_compare stamp stamp --plain "$RC/a-plain.json" --release "$RC/b-release.json" \
    --plain-execroot "$exec_a" --release-execroot "$exec_b" || failed=1
  stamped=$RC_LINE
  # The same release build on A: the stamped link, too, must come from the cache.
  rc_machine a
  bz clean
  rc_build a-release --config=release
  rc_compare release cache --first "$RC/b-release.json" --second "$RC/a-release.json" \
    --first-output "$RC/b-release.err" --second-output "$RC/a-release.err" \
    --first-execroot "$exec_b" --second-execroot "$exec_a" || failed=1
  release=$RC_LINE
  echo "SUMMARY: machine B: ${plain} | release vs plain: ${stamped} | release on A after B:" \
    "${release%%;*}"
  return "$failed"
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
  return "$rc"
}

main() {
  if [ "${1:-}" = --body ]; then
    PROJECT=$2
    setup_env
    "body_${3//-/_}"
    return
  fi
  [ $# -ge 1 ] || die "usage: run.sh PROJECT_DIR [STEP...] (steps: $DEFAULT_STEPS)"
  [ "$(id -u)" = 0 ] || die "run as root (chroot, mounts, runc)"
  PROJECT=$(cd "$1" && pwd)
  shift
  local steps=("$@") s failed=0
  [ ${#steps[@]} -gt 0 ] || read -ra steps <<<"$DEFAULT_STEPS"
  for s in "${steps[@]}"; do
    declare -F "body_${s//-/_}" >/dev/null || die "unknown step $s (steps: $DEFAULT_STEPS)"
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
  return "$failed"
}

# `exit` on the same line: bash reads a script as it runs, so an edit made during a run
# must not be read after main returns.
main "$@"; exit
