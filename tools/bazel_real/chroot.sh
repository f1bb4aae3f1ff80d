#!/usr/bin/env bash
# The Debian sid root that holds Debian's bazel-bootstrap (Bazel 7.7.1), so neither sid's libc
# nor any sid package lands on the (bookworm) host. Run as root.
#
#   chroot.sh setup    create the root (debootstrap) if absent, install what is missing, label
#                      Bazel's install base; also installs the host tools run.sh needs
#   chroot.sh mount    proc, dev, sys and the BINDS directories (at the same paths inside)
#   chroot.sh umount   undo `mount` for BINDS; proc/dev/sys too unless another WORK still
#                      has directories bound into this root
#   chroot.sh shell [CMD...]   a clean environment inside the root
#
# Variables: WORK (/tmp/bazel-real), CHROOT ($WORK/sid), BINDS ($WORK),
#   DEBIAN_ARCHIVE (default: the Debian archive this host's apt sources name).
# setup is idempotent: on a complete root it only checks, so a root shared by several WORKs
# is never rebuilt under a running Bazel server.
set -euo pipefail

WORK=${WORK:-/tmp/bazel-real}
CHROOT=${CHROOT:-$WORK/sid}
BINDS=${BINDS:-$WORK}
cmd=${1:-setup}
[ $# -gt 0 ] && shift

# What the root needs: Bazel, a C toolchain (rules_cc's autodetected one), the tools the
# stand-ins wrap (jq, bsdtar, zstd, coreutils, python3), redis-server, which the
# rate-limiting policy's Go tests start, and nginx, run.sh's remote cache (WebDAV PUT).
CHROOT_PACKAGES=(bazel-bootstrap ca-certificates git python3 gcc g++ libc6-dev jq
  libarchive-tools zstd xz-utils redis-server nginx)
# What the host needs: debootstrap for setup; umoci and runc for run.sh's image step.
HOST_TOOLS=(debootstrap umoci runc)
LABELLED=/usr/share/bazel-labeled

die() { echo "chroot.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root"

in_root() {
  chroot "$CHROOT" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    TERM="${TERM:-dumb}" LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"
}

debian_archive() {
  if [ -n "${DEBIAN_ARCHIVE:-}" ]; then echo "$DEBIAN_ARCHIVE"; return; fi
  # Both source formats: one-line "deb URL ..." and deb822 "URIs: URL".
  grep -rhE '^(URIs:|deb) ' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null \
    | grep -oE 'https?://[^ ]+/debian' | head -1 || true
}

do_mount() {
  mountpoint -q "$CHROOT/proc" || mount -t proc proc "$CHROOT/proc"
  mountpoint -q "$CHROOT/dev" || mount --rbind /dev "$CHROOT/dev"
  mountpoint -q "$CHROOT/sys" || mount --rbind /sys "$CHROOT/sys"
  local d
  for d in $BINDS; do
    mkdir -p "$CHROOT$d"
    mountpoint -q "$CHROOT$d" || mount --bind "$d" "$CHROOT$d"
  done
  cp -L /etc/resolv.conf "$CHROOT/etc/resolv.conf"
}

do_umount() {
  local d m
  for d in $BINDS; do
    if mountpoint -q "$CHROOT$d"; then umount -l "$CHROOT$d"; fi
  done
  # Binds of other WORKs sharing this root still need proc, dev and sys.
  local others
  others=$(findmnt -rn -o TARGET | grep -E "^$CHROOT/" | grep -vE "^$CHROOT/(proc|dev|sys)(/|$)" || true)
  if [ -n "$others" ]; then
    echo "chroot.sh: kept proc, dev, sys: still bound: $(echo "$others" | tr '\n' ' ')" >&2
    return
  fi
  for m in sys dev proc; do
    if mountpoint -q "$CHROOT/$m"; then umount -l "$CHROOT/$m"; fi
  done
}

missing_packages() {
  local p status
  for p in "${CHROOT_PACKAGES[@]}"; do
    # shellcheck disable=SC2016  # dpkg-query's own ${field} syntax
    status=$(in_root dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [ "$status" = "install ok installed" ] || echo "$p"
  done
}

# Debian's bootstrap build of Bazel has no build label (`bazel info release` says
# "development version", native.bazel_version is ""), which bazel_features reads as a dev
# build newer than everything: it then references Bazel-8-only globals such as `macro`.
# A copy of the install base whose server jar carries the packaged version's label fixes that.
label_install_base() {
  local version jar
  # shellcheck disable=SC2016  # dpkg-query's own ${field} syntax
  version=$(in_root dpkg-query -W -f='${Version}' bazel-bootstrap | sed 's/+.*//')
  jar=$CHROOT$LABELLED/A-server.jar
  LABEL=$version
  if [ -f "$jar" ] && [ "$(jar_label "$jar")" = "$version" ]; then return; fi
  rm -rf "${CHROOT:?}$LABELLED"
  cp -a "$CHROOT/usr/share/bazel" "$CHROOT$LABELLED"
  python3 - "$jar" "$version" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "a") as z:
    z.writestr("build-data.properties", f"build.label={sys.argv[2]}\n")
PY
  local check=(bazel --nosystem_rc "--install_base=$LABELLED" --trust_install_base
    --output_user_root=/tmp/bazel-version-check)
  in_root "${check[@]}" version | grep -i 'build label'
  in_root "${check[@]}" shutdown
}

jar_label() {  # the build.label a server jar carries, or nothing
  python3 - "$1" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    if "build-data.properties" in z.namelist():
        for line in z.read("build-data.properties").decode().splitlines():
            if line.startswith("build.label="):
                print(line.split("=", 1)[1])
PY
}

do_setup() {
  local t need=()
  for t in "${HOST_TOOLS[@]}"; do command -v "$t" >/dev/null || need+=("$t"); done
  if [ ${#need[@]} -gt 0 ]; then apt-get install -y "${need[@]}"; fi
  if [ ! -x "$CHROOT/usr/bin/apt-get" ]; then
    local archive
    archive=$(debian_archive)
    [ -n "$archive" ] || die "set DEBIAN_ARCHIVE to a Debian archive URL"
    mkdir -p "$CHROOT"
    # bookworm's keyring may lack the key sid is signed with: fall back to --no-check-gpg
    debootstrap --variant=minbase sid "$CHROOT" "$archive" \
      || debootstrap --no-check-gpg --variant=minbase sid "$CHROOT" "$archive"
  fi
  do_mount
  # Package scripts start no service in the root: the Go tests start their own redis-server,
  # run.sh its own nginx.
  printf '#!/bin/sh\nexit 101\n' >"$CHROOT/usr/sbin/policy-rc.d"
  chmod 0755 "$CHROOT/usr/sbin/policy-rc.d"
  # The archive may serve a frozen snapshot whose Release file is past its Valid-Until.
  echo 'Acquire::Check-Valid-Until "false";' >"$CHROOT/etc/apt/apt.conf.d/99no-valid-until"
  # Source packages: run.sh takes gawk's source from Debian (the BCR's archive is offline).
  local src=$CHROOT/etc/apt/sources.list.d/src.list updated=0 lists=() f
  if ! grep -qs '^deb-src' "$src"; then
    for f in "$CHROOT"/etc/apt/sources.list "$CHROOT"/etc/apt/sources.list.d/*.list; do
      if [ -f "$f" ]; then lists+=("$f"); fi
    done
    [ ${#lists[@]} -gt 0 ] || die "no apt sources list in $CHROOT"
    grep -h '^deb ' "${lists[@]}" | sed -n '1s/^deb /deb-src /p' >"$src" \
      || die "no 'deb' line in $CHROOT's apt sources"
    in_root apt-get update -qq; updated=1
  fi
  mapfile -t need < <(missing_packages)
  if [ ${#need[@]} -gt 0 ]; then
    [ $updated = 1 ] || in_root apt-get update -qq
    in_root apt-get install -y --no-install-recommends "${need[@]}"
  fi
  # Trust the host's extra CAs (an egress proxy's) in the root, Java's cacerts included.
  local crt changed=0
  for crt in /usr/local/share/ca-certificates/*.crt; do
    [ -f "$crt" ] || continue
    cmp -s "$crt" "$CHROOT$crt" || { cp "$crt" "$CHROOT$crt"; changed=1; }
  done
  if [ $changed = 1 ]; then in_root update-ca-certificates; fi
  label_install_base
  echo "SUMMARY: $CHROOT: bazel-bootstrap labelled $LABEL; ${#CHROOT_PACKAGES[@]} packages, host tools present"
}

case "$cmd" in
  setup) do_setup ;;
  mount) do_mount ;;
  umount) do_umount ;;
  shell) do_mount; in_root "${@:-/bin/bash}" ;;
  *) die "usage: chroot.sh setup|mount|umount|shell [CMD...]" ;;
esac
