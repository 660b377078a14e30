#!/usr/bin/env bash
# The one test command, for a newcomer on a fresh Debian 12 machine (as root)
# and for CI (.ci/run):
#
#   scripts/test.sh             deps, fmt, clippy, cargo test, release build, e2e
#   SKIP_E2E=1 scripts/test.sh  everything but the docker suite
#
# Stages, in order; the first failure stops the run with a banner naming it:
#   deps    apt packages, if missing: docker.io (its postinst may NOT start the
#           system docker service), busybox-static, iproute2, curl, jq, nftables
#   fmt     cargo fmt --check
#   clippy  cargo clippy --all-targets -- -D warnings
#   test    cargo test (all tests; some need root)
#   build   cargo build --release
#   e2e     tests/e2e/docker-embedded.sh (real dockerd + target/release/kuryr)
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
PACKAGES=(docker.io busybox-static iproute2 curl jq nftables)
STAGE=""

banner() { printf '\n########## %s ##########\n' "$*"; }

on_exit() {
  local rc=$?
  if [ "$rc" != 0 ] && [ -n "$STAGE" ]; then
    banner "FAILED at stage: $STAGE (exit $rc)"
  fi
}
trap on_exit EXIT

# stage NAME CMD...: run one stage; set -e turns its failure into our exit
stage() {
  STAGE="$1"; shift
  banner "stage $STAGE: $*"
  local t0=$SECONDS
  "$@"
  echo "stage $STAGE ok ($((SECONDS - t0)) s)"
}

missing_packages() {
  local p
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || echo "$p"
  done
}

# Install what is missing. A temporary policy-rc.d (exit 101) keeps
# docker.io's postinst from starting the system dockerd: the e2e suite runs
# its own private dockerd (scripts/dockerd-up.sh) and nothing else may run.
install_deps() {
  local missing added_policy=0 rc=0
  mapfile -t missing < <(missing_packages)
  if [ "${#missing[@]}" = 0 ]; then echo "all present: ${PACKAGES[*]}"; return 0; fi
  if [ "$(id -u)" != 0 ]; then
    echo "missing packages ${missing[*]} and not root" >&2; return 1
  fi
  echo "installing: ${missing[*]}"
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    added_policy=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update -qq && apt-get install -y -qq "${missing[@]}"; } || rc=$?
  if [ "$added_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
  return "$rc"
}

main() {
  stage deps install_deps
  stage fmt cargo fmt --check
  stage clippy cargo clippy --all-targets -- -D warnings
  stage test cargo test
  stage build cargo build --release
  if [ "${SKIP_E2E:-0}" = 1 ]; then
    banner "stage e2e skipped (SKIP_E2E=1)"
  else
    stage e2e bash tests/e2e/docker-embedded.sh
  fi
  STAGE=""
  banner "ALL STAGES PASSED"
}

main "$@"
