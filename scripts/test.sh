#!/usr/bin/env bash
# The one test command, for a newcomer on a fresh Debian 12 machine (as root)
# and for CI (.ci/run):
#
#   scripts/test.sh                 deps, fmt, clippy, cargo test, release build, e2e, neutron
#   SKIP_E2E=1 scripts/test.sh      everything but the docker suites (e2e and neutron)
#   SKIP_NEUTRON=1 scripts/test.sh  everything but the Neutron stage (and Keystone)
#   SKIP_KEYSTONE=1 scripts/test.sh everything but the Keystone rig and its tests
#
# Stages, in order; the first failure stops the run with a banner naming it:
#   deps    apt packages, if missing: docker.io (its postinst may NOT start the
#           system docker service), busybox-static, iproute2, curl, jq, nftables,
#           and for Neutron postgresql (its service is not started either),
#           python3-venv, python3-dev, gcc, libc6-dev; openvswitch-switch for
#           the OVS binding test (its service is not started either)
#   fmt     cargo fmt --check
#   clippy  cargo clippy --all-targets -- -D warnings
#   fuzz-check  cargo check of the fuzz crate on stable (about 2 min the first time)
#   neutron-up  wait for the Neutron started in the background after deps
#   keystone-up wait for the Keystone started in the background after deps
#           (scripts/keystone-up.sh: Keystone 30 on 127.0.0.1:5000, cold about
#           1 min), then start the keystone-auth Neutron API on 127.0.0.1:9698
#           (scripts/neutron-keystone-up.sh, about 5 s)
#   test    cargo test --features privileged-tests,live-neutron,live-keystone:
#           the tiers a plain `cargo test` leaves ignored (root: netns, nft, OVS;
#           the rig's Neutron; the Keystone rig) on top of what runs anywhere.
#           SKIP_NEUTRON leaves out live-neutron and live-keystone, SKIP_KEYSTONE
#           live-keystone. With every tier on, a test still ignored (other than
#           the two tools marked so) fails the stage. Keystone and the
#           keystone-auth Neutron stay up for the neutron stage's bootstrap
#           suite and are stopped after that stage (or at exit) if this run
#           started them.
#   fuzz    optional: cargo +nightly fuzz, 30 s of each target in fuzz/ (plugin_calls,
#           decode) from the committed seeds; cargo-fuzz is installed if missing
#           (cargo install cargo-fuzz --locked, about 90 s, bounded); skipped with a
#           banner when the nightly toolchain is absent, the install fails, or
#           SKIP_FUZZ=1. The first build of the fuzz crate
#           takes about 3 min on 2 cores; later runs only rebuild kuryr.
#   build   cargo build --release
#   e2e     tests/e2e/docker-embedded.sh (real dockerd + target/release/kuryr)
#   managed tests/e2e/docker-managed.sh: the managed v2 plugin built offline by
#           scripts/managed-plugin.sh (ping, disable refused, kill -9, upgrade)
#           and the container image of scripts/container-image.sh
#   swarm   tests/e2e/docker-swarm.sh: the managed plugin in global scope in a
#           one-node swarm (dnsrr service, scale, dockerd restart, clean state);
#           the neutron stage runs it on Neutron too, then tests/e2e/swarm-3node.sh
#           (three dockerds in network namespaces, one Neutron)
#   neutron a real Neutron 29 on 127.0.0.1:9696 (scripts/neutron-up.sh; cold
#           start 80 s to 3 min from PyPI), then tests/e2e/docker-neutron.sh
#           (real dockerd + our plugin with backend = neutron, interop with
#           kuryr-libnetwork 18.0.0 whose venv kuryr-py-up.sh builds, about 45 s),
#           tests/e2e/docker-nested.sh (nested macvlan mode: containers on a "VM
#           NIC" veth with a Neutron port's MAC, about 20 s),
#           tests/e2e/docker-pools.sh (port pools with a real dockerd, about 20 s),
#           the swarm suites on
#           Neutron, tests/e2e/bootstrap.sh (with
#           E2E_REQUIRE_KEYSTONE=1 unless Keystone is skipped: its section a runs
#           the bootstrap's kuryr.conf and a managed plugin's OS_* settings
#           against the keystone-auth Neutron), then BENCH_ENFORCE=1
#           benches/neutron_lifecycle.sh (ours vs kuryr-libnetwork), then
#           benches/docker_run.sh report-only (docker run on Docker's bridge vs
#           kuryr embedded, Neutron and Neutron with port pools; 35 to 100 s
#           with the machine's load);
#           about 6 to 9 min in all. Neutron is stopped afterwards only if this
#           run started it.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
PACKAGES=(docker.io busybox-static iproute2 curl jq nftables
          postgresql python3-venv python3-dev gcc libc6-dev openvswitch-switch)
STAGE=""

banner() { printf '\n########## %s ##########\n' "$*"; }

on_exit() {
  local rc=$?
  if [ "$rc" != 0 ] && [ -n "$STAGE" ]; then
    banner "FAILED at stage: $STAGE (exit $rc)"
  fi
  if [ -n "$NEUTRON_PID" ]; then wait "$NEUTRON_PID" 2>/dev/null || true; fi
  if [ -n "$KEYSTONE_PID" ]; then wait "$KEYSTONE_PID" 2>/dev/null || true; fi
  stop_keystone
  if [ "$NEUTRON_STARTED" = 1 ]; then bash scripts/neutron-down.sh >/dev/null 2>&1 || true; fi
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

# One Neutron for the integration tests, the suite and the benchmark. It is
# started in the background right after deps, so its install overlaps the
# builds, and stopped at exit (by its saved PIDs) only if this run started it.
NEUTRON_URL=http://127.0.0.1:9696
NEUTRON_LOG="${TMPDIR:-/tmp}/kuryr-test-neutron-up.log"
NEUTRON_PID=""
NEUTRON_STARTED=0

neutron_answers() {
  [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$NEUTRON_URL/v2.0/networks")" = 200 ]
}

start_neutron() {
  if neutron_answers; then echo "Neutron already answers at $NEUTRON_URL"; return 0; fi
  bash scripts/neutron-up.sh > "$NEUTRON_LOG" 2>&1 &
  NEUTRON_PID=$!
  NEUTRON_STARTED=1
  echo "starting Neutron in the background (pid $NEUTRON_PID, log $NEUTRON_LOG)"
}

wait_neutron() {
  if [ -n "$NEUTRON_PID" ]; then
    if ! wait "$NEUTRON_PID"; then
      tail -n 40 "$NEUTRON_LOG" >&2
      return 1
    fi
    NEUTRON_PID=""
  fi
  neutron_answers
}

# The Keystone rig for tests/keystone_real.rs: Keystone is started in the
# background right after deps (its install overlaps the builds, as Neutron's);
# the keystone-auth Neutron needs both, so it starts once they answer. Each is
# stopped (by its PID file) only if this run started it.
KEYSTONE_URL=http://127.0.0.1:5000/v3
KEYSTONE_NEUTRON_URL=http://127.0.0.1:9698
KEYSTONE_LOG="${TMPDIR:-/tmp}/kuryr-test-keystone-up.log"
KEYSTONE_PID=""
KEYSTONE_STARTED=0
KEYSTONE_NEUTRON_STARTED=0

keystone_answers() { curl -s --max-time 3 "$KEYSTONE_URL" | grep -q '"id": *"v3'; }
keystone_neutron_answers() {
  [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$KEYSTONE_NEUTRON_URL/v2.0/networks")" = 401 ]
}

start_keystone() {
  if keystone_answers; then echo "Keystone already answers at $KEYSTONE_URL"; return 0; fi
  bash scripts/keystone-up.sh > "$KEYSTONE_LOG" 2>&1 &
  KEYSTONE_PID=$!
  KEYSTONE_STARTED=1
  echo "starting Keystone in the background (pid $KEYSTONE_PID, log $KEYSTONE_LOG)"
}

wait_keystone() {
  if [ -n "$KEYSTONE_PID" ]; then
    if ! wait "$KEYSTONE_PID"; then
      tail -n 40 "$KEYSTONE_LOG" >&2
      return 1
    fi
    KEYSTONE_PID=""
  fi
  keystone_answers || { echo "Keystone does not answer at $KEYSTONE_URL" >&2; return 1; }
  if keystone_neutron_answers; then
    echo "the keystone-auth Neutron already answers at $KEYSTONE_NEUTRON_URL"
  else
    KEYSTONE_NEUTRON_STARTED=1
    bash scripts/neutron-keystone-up.sh
  fi
}

# After the neutron stage (its bootstrap suite uses the rig); also the exit trap's.
stop_keystone() {
  if [ "$KEYSTONE_NEUTRON_STARTED" = 1 ]; then
    bash scripts/neutron-keystone-down.sh >/dev/null 2>&1 || true
    KEYSTONE_NEUTRON_STARTED=0
  fi
  if [ "$KEYSTONE_STARTED" = 1 ]; then
    bash scripts/keystone-down.sh >/dev/null 2>&1 || true
    KEYSTONE_STARTED=0
  fi
}

neutron_stage() {
  bash tests/e2e/docker-neutron.sh
  bash tests/e2e/docker-nested.sh
  bash tests/e2e/docker-pools.sh
  SWARM_BACKEND=neutron bash tests/e2e/docker-swarm.sh
  bash tests/e2e/swarm-3node.sh
  # Section a needs the Keystone rig: a missing rig fails it unless skipped.
  if [ "${KURYR_SKIP_KEYSTONE:-0}" = 1 ]; then
    bash tests/e2e/bootstrap.sh
  else
    E2E_REQUIRE_KEYSTONE=1 bash tests/e2e/bootstrap.sh
  fi
  # Enforced: at most 11 Neutron requests per lifecycle (deterministic, and
  # counted until our background deletes are done), and a time until Neutron is
  # clean (what everyone but dockerd sees) of at most 0.4 times kuryr-libnetwork's
  # (the median of the ratios of runs made back to back). Issue 8 fixed this bar;
  # do not loosen it.
  RUNS=7 BENCH_ENFORCE=1 BENCH_MAX_CLEAN_RATIO=0.4 bash benches/neutron_lifecycle.sh
  # Report only: docker run --rm on Docker's bridge, kuryr embedded, Neutron and
  # Neutron with port pools (issue 11 targets: 1.1, 2 and 1.3 x bridge); its table
  # goes to this log. It still fails on a failed docker command or a Neutron not
  # clean after docker network rm.
  RUNS=7 BENCH_ENFORCE=0 bash benches/docker_run.sh
}

# cargo-fuzz is installed when the nightly toolchain is there but it is not (about
# 90 s, bounded); without nightly, or if the install fails, the stage is skipped.
fuzz_available() {
  cargo +nightly --version >/dev/null 2>&1 || return 1
  cargo fuzz --version >/dev/null 2>&1 && return 0
  echo "installing cargo-fuzz (bounded to 300 s)"
  timeout 300 cargo install cargo-fuzz --locked >/dev/null 2>&1 || return 1
  cargo fuzz --version >/dev/null 2>&1
}

# Short smoke runs; any crash fails the stage and leaves its input in fuzz/artifacts/.
fuzz_stage() {
  local target
  for target in plugin_calls decode; do
    cargo +nightly fuzz run -O "$target" -- -max_total_time=30 -print_final_stats=1
  done
}

# The cargo features of the test tiers this run has (Cargo.toml [features]): root
# always (this script runs as root), the live Neutron and Keystone unless skipped.
TEST_FEATURES=privileged-tests

# With every tier on, nothing may be left ignored but the tests marked as tools
# (one run inside another test; a dump for scripts/boundary-compare.py): a new
# tier that this script does not turn on would otherwise pass unseen.
TOOLS_IGNORED='^(process::tests::probe_child_environment|dump_bad_requests): test$'
test_stage() {
  cargo test --features "$TEST_FEATURES"
  if [ "$TEST_FEATURES" = privileged-tests,live-neutron,live-keystone ]; then
    local left
    left=$(cargo test -q --features "$TEST_FEATURES" -- --ignored --list 2>/dev/null |
           grep ': test$' | grep -Ev "$TOOLS_IGNORED" || true)
    if [ -n "$left" ]; then
      echo "ignored although every tier is on:" >&2
      echo "$left" >&2
      return 1
    fi
  fi
}

main() {
  stage deps install_deps
  if [ "${SKIP_NEUTRON:-0}" != 1 ]; then
    start_neutron
    TEST_FEATURES+=,live-neutron
    # scripts/neutron-up.sh loads the trunk plugin: nested VLAN tests must not skip.
    export KURYR_REQUIRE_TRUNK=1
  fi
  # The Keystone rig runs beside a Neutron: SKIP_NEUTRON skips it too.
  if [ "${SKIP_NEUTRON:-0}" = 1 ] || [ "${SKIP_KEYSTONE:-0}" = 1 ] ||
     [ "${KURYR_SKIP_KEYSTONE:-0}" = 1 ]; then
    # Read by tests/e2e/bootstrap.sh (its section a needs the rig).
    export KURYR_SKIP_KEYSTONE=1
  else
    start_keystone
    TEST_FEATURES+=,live-keystone
  fi
  stage fmt cargo fmt --check
  stage clippy cargo clippy --all-targets -- -D warnings
  # The fuzz targets use the crate's test fakes; checked on stable too, so a rename
  # breaks this stage even where the fuzz stage is skipped (no nightly).
  stage fuzz-check cargo check --manifest-path fuzz/Cargo.toml --bins
  if [ "${SKIP_NEUTRON:-0}" != 1 ]; then stage neutron-up wait_neutron; fi
  if [ "${KURYR_SKIP_KEYSTONE:-0}" != 1 ]; then stage keystone-up wait_keystone; fi
  stage test test_stage
  if [ "${SKIP_FUZZ:-0}" = 1 ]; then
    banner "stage fuzz skipped (SKIP_FUZZ=1)"
  elif ! fuzz_available; then
    banner "stage fuzz skipped (cargo-fuzz or the nightly toolchain is absent)"
  else
    stage fuzz fuzz_stage
  fi
  stage build cargo build --release
  if [ "${SKIP_E2E:-0}" = 1 ]; then
    banner "stage e2e skipped (SKIP_E2E=1)"
  else
    stage e2e bash tests/e2e/docker-embedded.sh
    stage managed bash tests/e2e/docker-managed.sh
    stage swarm bash tests/e2e/docker-swarm.sh
    if [ "${SKIP_NEUTRON:-0}" = 1 ]; then
      banner "stage neutron skipped (SKIP_NEUTRON=1)"
    else
      stage neutron neutron_stage
    fi
  fi
  stop_keystone
  STAGE=""
  banner "ALL STAGES PASSED"
}

main "$@"
