#!/usr/bin/env bash
# Acceptance suite: kuryr packaged as its users deploy it, against a REAL dockerd:
#  m. a managed (v2) plugin built offline by scripts/managed-plugin.sh, with no
#     settings (embedded backend): a network, two containers that ping, `plugin
#     disable` refused while the network exists, a kill -9 of the plugin process
#     (dockerd restarts it; running containers keep their network, new ones get
#     fresh addresses), and an upgrade that keeps /var/lib/kuryr;
#  c. the container image of scripts/container-image.sh serving the legacy socket.
#
#   tests/e2e/docker-managed.sh       (as root; needs target/release/kuryr)
#
# Starts a private dockerd with scripts/dockerd-up.sh unless one answers (and then
# stops and purges it at the end). Prints "MANAGED PASS (n checks)" or a FAIL line.
# Env: DOCKER [/usr/bin/docker], E2E_CMD_TIMEOUT [120], E2E_KEEP_LOGS=1
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$ROOT/tests/e2e/lib.sh"
# remove_test_objects (containers and networks labelled $LABEL)
# shellcheck source-path=SCRIPTDIR source=harness.sh
. "$ROOT/tests/e2e/harness.sh"
# shellcheck source-path=SCRIPTDIR source=packaging.sh
. "$ROOT/tests/e2e/packaging.sh"

DOCKER="${DOCKER:-/usr/bin/docker}"
PLUGIN=kuryr-e2e/kuryr:latest
IMAGE=kuryr-e2e/kuryr-image:latest
IMG=kuryr-busybox:latest
LABEL=kuryr-e2e-managed
WORK="$(mktemp -d /tmp/kuryr-managed.XXXXXX)"
STATE="$WORK/state"
CONF="$WORK/etc"
STARTED_DOCKERD=0
export DOCKER_HOST="unix://${DOCKERD_SOCK:-/run/docker-test.sock}"

log() { echo "managed: $*" >&2; }
ip_of() { d inspect -f "{{(index .NetworkSettings.Networks \"$2\").IPAddress}}" "$1"; }
# plugin_pid ID: the plugin's process, told from other kuryr plugins by its cgroup
# (runc names it after the plugin id).
plugin_pid() {
  local p
  for p in $(pgrep -f '^/usr/bin/kuryr serve'); do
    if grep -q "$1" "/proc/$p/cgroup" 2>/dev/null; then echo "$p"; return; fi
  done
}

cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  remove_test_objects
  d rm -f kuryr-e2e-ctr >/dev/null 2>&1
  d plugin disable -f "$PLUGIN" >/dev/null 2>&1
  d plugin rm -f "$PLUGIN" >/dev/null 2>&1
  d rmi -f "$IMAGE" >/dev/null 2>&1
  if [ "$STARTED_DOCKERD" = 1 ] && [ "${KEEP_DOCKERD:-0}" != 1 ]; then
    "$ROOT/scripts/dockerd-down.sh" --purge
  fi
  if [ "$rc" = 0 ] && [ "${E2E_KEEP_LOGS:-0}" != 1 ]; then rm -rf "$WORK"; else log "work dir kept: $WORK"; fi
  exit "$rc"
}
trap cleanup EXIT INT TERM



# restarted ID OLDPID SOCK: the plugin runs again under another pid, serving SOCK
restarted() {
  local now
  now="$(plugin_pid "$1")"
  [ -n "$now" ] && [ "$now" != "$2" ] && test -S "$3"
}

pings() { d exec "$1" ping -c 1 -W 2 "$2" >/dev/null 2>&1; }

scenario_managed() {
  section "m. managed plugin, no settings: embedded backend"
  local out id sock pid newpid a1 a2 a3 a4
  check "scripts/managed-plugin.sh builds config.json and rootfs" \
    bash -c "bash '$ROOT/scripts/managed-plugin.sh' '$WORK/plugin' > '$WORK/mkdir.txt'"
  assert_contains "$(cat "$WORK/mkdir.txt")" "mkdir -p /etc/kuryr /var/lib/kuryr" "it prints the mount sources to create"
  mkdir -p "$STATE" "$CONF" /var/run/openvswitch
  assert_ok d plugin create "$PLUGIN" "$WORK/plugin"
  assert_ok d plugin set "$PLUGIN" "state.source=$STATE" "config.source=$CONF"
  assert_ok d plugin enable "$PLUGIN"
  id="$(d plugin inspect -f '{{.Id}}' "$PLUGIN")"
  # dockerd puts managed plugins' sockets under /run/docker/plugins/<id>/ whatever
  # its --exec-root.
  sock="/run/docker/plugins/$id/kuryr.sock"
  check "the socket is /run/docker/plugins/<id>/kuryr.sock" test -S "$sock"
  out="$(curl -s --max-time 5 --unix-socket "$sock" -X POST http://localhost/NetworkDriver.GetCapabilities || true)"
  assert_contains "$out" '"Scope":"local"' "GetCapabilities: local scope by default"

  assert_ok d network create -d "$PLUGIN" --ipam-driver "$PLUGIN" --label "$LABEL" \
    --subnet 10.78.0.0/24 --gateway 10.78.0.1 kmp-a
  assert_ok d run -d --name kmp-1 --label "$LABEL" --network kmp-a "$IMG" sleep 600
  assert_ok d run -d --name kmp-2 --label "$LABEL" --network kmp-a "$IMG" sleep 600
  a1="$(ip_of kmp-1 kmp-a)"; a2="$(ip_of kmp-2 kmp-a)"
  assert_in4 "$a1" 10.78.0.0/24
  check "kmp-1 pings kmp-2 ($a2)" pings kmp-1 "$a2"

  out="$(d plugin disable "$PLUGIN" 2>&1 || true)"
  assert_contains "$out" "in use" "plugin disable is refused while a network uses it"

  pid="$(plugin_pid "$id")"
  check "the plugin process runs (pid $pid)" test -n "$pid"
  kill -9 "$pid"
  check "dockerd restarts the killed plugin" \
    wait_for 30 restarted "$id" "$pid" "$sock"
  check "after the kill, kmp-1 still pings kmp-2" pings kmp-1 "$a2"
  assert_ok d run -d --name kmp-3 --label "$LABEL" --network kmp-a "$IMG" sleep 600
  a3="$(ip_of kmp-3 kmp-a)"
  assert_no_dups "addresses after the restart" "$a1" "$a2" "$a3"
  check "kmp-3 pings kmp-1" pings kmp-3 "$a1"

  # An upgrade: a new build of the plugin replaces the old one; the state mount is
  # the same host directory, so allocations survive. (`docker plugin upgrade` pulls
  # from a registry, which this offline suite has none of; disable, rm and create
  # from the new directory is the same replacement of the rootfs.)
  assert_ok d plugin disable -f "$PLUGIN"
  assert_ok d plugin rm -f "$PLUGIN"
  check "a new build of the plugin" \
    bash -c "bash '$ROOT/scripts/managed-plugin.sh' '$WORK/plugin2' >/dev/null"
  assert_ok d plugin create "$PLUGIN" "$WORK/plugin2"
  assert_ok d plugin set "$PLUGIN" "state.source=$STATE" "config.source=$CONF"
  assert_ok d plugin enable "$PLUGIN"
  assert_ok d run -d --name kmp-4 --label "$LABEL" --network kmp-a "$IMG" sleep 600
  a4="$(ip_of kmp-4 kmp-a)"
  assert_no_dups "addresses after the upgrade (allocations kept)" "$a1" "$a2" "$a3" "$a4"
  check "kmp-4 pings kmp-2" pings kmp-4 "$a2"

  remove_test_objects
  assert_ok d plugin disable "$PLUGIN"
  assert_eq 0 "$(store_objects)" "the plugin's store is empty after network rm (pools, addresses, networks, endpoints)"
}

scenario_container() {
  section "c. container image serving the legacy socket"
  local a1 a2 cstate="$WORK/cstate"
  check "scripts/container-image.sh builds $IMAGE" \
    bash -c "DOCKER='$DOCKER' bash '$ROOT/scripts/container-image.sh' '$IMAGE' 2>/dev/null"
  mkdir -p "$cstate"
  rm -f /run/docker/plugins/kuryr.sock
  assert_ok d run -d --name kuryr-e2e-ctr --net=host --cap-add=NET_ADMIN \
    -v "$cstate:/var/lib/kuryr" -v /run/docker/plugins:/run/docker/plugins "$IMAGE"
  check "the container serves /run/docker/plugins/kuryr.sock" \
    wait_for 30 test -S /run/docker/plugins/kuryr.sock
  assert_ok d network create -d kuryr --ipam-driver kuryr --label "$LABEL" \
    --subnet 10.79.0.0/24 kct-a
  assert_ok d run -d --name kct-1 --label "$LABEL" --network kct-a "$IMG" sleep 600
  assert_ok d run -d --name kct-2 --label "$LABEL" --network kct-a "$IMG" sleep 600
  a1="$(ip_of kct-1 kct-a)"; a2="$(ip_of kct-2 kct-a)"
  assert_in4 "$a1" 10.79.0.0/24
  check "kct-1 pings kct-2 ($a2)" pings kct-1 "$a2"
  remove_test_objects
  assert_ok d stop -t 10 kuryr-e2e-ctr
  check "the socket is removed when the container stops" \
    bash -c "! test -e /run/docker/plugins/kuryr.sock"
  d rm -f kuryr-e2e-ctr >/dev/null 2>&1 || true
}

main() {
  prepare
  scenario_managed
  scenario_container
  summary MANAGED
}

main "$@"
