#!/usr/bin/env bash
# Start a private, low-impact dockerd (Debian docker.io 20.10) for the e2e tests.
#
#  - installs docker.io if /usr/sbin/dockerd is missing, without letting the
#    package's postinst start the system docker service (temporary
#    /usr/sbin/policy-rc.d that denies service starts)
#  - no TCP listener, no iptables/ip6tables/masquerade/ip-forward, no docker0
#    bridge; own data-root, exec-root, socket, pidfile, config file, key file
#  - waits until the API answers /_ping, then prints `export DOCKER_HOST=...`
#    on stdout (use: eval "$(scripts/dockerd-up.sh)"); messages go to stderr
#  - idempotent: if the dockerd from the pidfile already answers, it only
#    prints the export line
#
# Env overrides (defaults in brackets):
#   DOCKERD_STORAGE   [overlay2 if the kernel has it, else vfs]
#   DOCKERD_DATA_ROOT [/var/lib/docker-test]
#   DOCKERD_EXEC_ROOT [/run/docker-test]
#   DOCKERD_SOCK      [/run/docker-test.sock]
#   DOCKERD_PIDFILE   [/run/docker-test.pid]
#   DOCKERD_LOG       [/var/log/docker-test.log]
#   DOCKERD_DEBUG     [0]   1 adds --debug (logs every plugin call)
#   DOCKERD_WAIT      [60]  seconds to wait for the API
#   DOCKERD_SHUTDOWN_TIMEOUT [2] seconds dockerd gives containers on shutdown
#   DOCKERD_NETNS     [unset] run dockerd in this network namespace (a swarm node
#                     of a multi-node test); its socket stays on the shared file system
# Stop it with scripts/dockerd-down.sh (same env).
# Note: dockerd still creates /run/docker/ (plugin discovery is hard-wired to
# /run/docker/plugins); the system docker socket /var/run/docker.sock is not.
set -euo pipefail

STORAGE="${DOCKERD_STORAGE:-}"
DATA_ROOT="${DOCKERD_DATA_ROOT:-/var/lib/docker-test}"
EXEC_ROOT="${DOCKERD_EXEC_ROOT:-/run/docker-test}"
SOCK="${DOCKERD_SOCK:-/run/docker-test.sock}"
PIDFILE="${DOCKERD_PIDFILE:-/run/docker-test.pid}"
LOG="${DOCKERD_LOG:-/var/log/docker-test.log}"
WAIT="${DOCKERD_WAIT:-60}"

log() { echo "dockerd-up: $*" >&2; }

ping_api() {
  if command -v curl >/dev/null 2>&1; then
    [ "$(curl -s --max-time 2 --unix-socket "$SOCK" http://localhost/_ping 2>/dev/null)" = OK ]
  else
    DOCKER_HOST="unix://$SOCK" /usr/bin/docker version >/dev/null 2>&1
  fi
}

already_running() {
  [ -s "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null && ping_api
}

# Install docker.io (plus curl/iproute2 used by the tests) with service starts
# denied, so the host's system dockerd is never started by the package.
install_docker() {
  log "installing docker.io"
  local added_policy=0 rc=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    added_policy=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 || rc=$?
  # with Recommends (containerd, runc, tini), as tested
  [ "$rc" = 0 ] && { apt-get install -y -qq docker.io curl iproute2 >&2 || rc=$?; }
  if [ "$added_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
  return "$rc"
}

pick_storage() {
  if [ -n "$STORAGE" ]; then return; fi
  if grep -qw overlay /proc/filesystems 2>/dev/null || modprobe overlay 2>/dev/null; then
    STORAGE=overlay2
  else
    STORAGE=vfs
  fi
}

start_dockerd() {
  mkdir -p "$DATA_ROOT" "$EXEC_ROOT" "$(dirname "$LOG")" /run/docker/plugins
  local conf="$EXEC_ROOT.json"
  # Own config file, so a host /etc/docker/daemon.json is not read; the trust
  # key goes under DATA_ROOT instead of /etc/docker/key.json (20.10 only knows
  # this key in the config file, not as a flag; newer dockerd ignores it).
  printf '{"deprecated-key-path": "%s/key.json"}\n' "$DATA_ROOT" > "$conf"

  local extra=() netns=()
  if [ "${DOCKERD_DEBUG:-0}" = 1 ]; then extra+=(--debug); fi
  # nsenter, not `ip netns exec`: that remounts /sys, hiding the cgroup mounts dockerd needs.
  if [ -n "${DOCKERD_NETNS:-}" ]; then netns=(nsenter "--net=/run/netns/$DOCKERD_NETNS"); fi

  # setsid: dockerd must not die with the caller's terminal/process group.
  setsid nohup "${netns[@]}" /usr/sbin/dockerd \
    --config-file "$conf" \
    --iptables=false --ip6tables=false --ip-masq=false --ip-forward=false \
    --bridge=none \
    --shutdown-timeout "${DOCKERD_SHUTDOWN_TIMEOUT:-2}" \
    --storage-driver="$STORAGE" \
    --data-root "$DATA_ROOT" \
    --exec-root "$EXEC_ROOT" \
    -H "unix://$SOCK" \
    --pidfile "$PIDFILE" \
    "${extra[@]}" \
    >>"$LOG" 2>&1 < /dev/null &
  DPID=$!
}

wait_api() {
  local _
  for _ in $(seq 1 "$WAIT"); do
    if ping_api; then
      log "dockerd pid $DPID storage=$STORAGE log=$LOG"
      echo "export DOCKER_HOST=unix://$SOCK"
      return 0
    fi
    if ! kill -0 "$DPID" 2>/dev/null; then
      log "dockerd exited; last log lines:"
      tail -n 20 "$LOG" >&2
      return 1
    fi
    sleep 1
  done
  log "API did not answer within ${WAIT}s; last log lines:"
  tail -n 20 "$LOG" >&2
  return 1
}

main() {
  if [ "$(id -u)" != 0 ]; then log "must run as root"; exit 1; fi
  if already_running; then
    log "already running (pid $(cat "$PIDFILE"))"
    echo "export DOCKER_HOST=unix://$SOCK"
    exit 0
  fi
  if [ ! -x /usr/sbin/dockerd ]; then install_docker; fi
  pick_storage
  start_dockerd
  wait_api
}

main "$@"
