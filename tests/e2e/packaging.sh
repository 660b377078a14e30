#!/usr/bin/env bash
# Helpers shared by the suites that run kuryr as a managed plugin
# (docker-managed.sh, docker-swarm.sh). Source after lib.sh, with ROOT, DOCKER,
# WORK, STATE and STARTED_DOCKERD set.

d() { timeout "${E2E_CMD_TIMEOUT:-120}" "$DOCKER" "$@"; }

# wait_for SECONDS CMD...: until CMD succeeds, polling every 0.2 s
wait_for() {
  local n=$(($1 * 5)); shift
  while [ "$n" -gt 0 ]; do "$@" && return 0; sleep 0.2; n=$((n - 1)); done
  return 1
}

# What the plugin's store holds (pools + addresses + networks + endpoints), read
# by the host binary from the state mount while the plugin is disabled.
store_objects() {
  printf '[DEFAULT]\nstate_dir = %s\n' "$STATE" > "$WORK/state.conf"
  "$ROOT/target/release/kuryr" state --config-file "$WORK/state.conf" |
    jq -r '[.pools, .addresses, .networks, .endpoints] | map(length) | add'
}

# Root, a release build, a dockerd (started if none answers) and the busybox image.
prepare() {
  [ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 2; }
  [ -x "$ROOT/target/release/kuryr" ] || { echo "build first: cargo build --release" >&2; exit 2; }
  if ! curl -s --max-time 2 --unix-socket "${DOCKER_HOST#unix://}" http://localhost/_ping >/dev/null 2>&1; then
    eval "$("$ROOT/scripts/dockerd-up.sh")"
    STARTED_DOCKERD=1
  fi
  DOCKER="$DOCKER" "$ROOT/scripts/busybox-image.sh"
}
