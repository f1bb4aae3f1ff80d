#!/usr/bin/env bash
# Installs the system packages `make test` needs (mk/system.mk) that the machine lacks.
# Arguments: PACKAGE=PROBE, the probe a command on PATH or an absolute file path.
# As root with apt: `apt-get update` once, then one `apt-get install` of the missing
# packages. Otherwise: one line naming them, and exit 1.
set -euo pipefail

present() {
  if [[ $1 == /* ]]; then [[ -e $1 ]]; else command -v "$1" >/dev/null 2>&1; fi
}

missing() {
  local spec
  for spec in "$@"; do
    present "${spec#*=}" || echo "${spec%%=*}"
  done
}

mapfile -t need < <(missing "$@")
if ((${#need[@]} == 0)); then
  exit 0
fi

if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
  echo "make test needs system packages this machine lacks: ${need[*]} (Debian/Ubuntu: sudo apt-get install -y ${need[*]}); then run make test again" >&2
  exit 1
fi

echo "make test: installing system packages: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null

mapfile -t still < <(missing "$@")
if ((${#still[@]})); then
  echo "make test: apt-get installed ${need[*]}, yet these are still missing: ${still[*]}" >&2
  exit 1
fi
