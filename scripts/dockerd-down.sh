#!/usr/bin/env bash
# Stop the dockerd started by scripts/dockerd-up.sh, by the PID in its
# pidfile only (never by process name: the machine may run other dockerds).
#   dockerd-down.sh           stop it (SIGTERM, then SIGKILL after 30 s)
#   dockerd-down.sh --purge   also unmount leftovers and delete its data-root,
#                             exec-root and config file
# Same env overrides as dockerd-up.sh (DOCKERD_DATA_ROOT, DOCKERD_EXEC_ROOT,
# DOCKERD_SOCK, DOCKERD_PIDFILE).
set -euo pipefail

DATA_ROOT="${DOCKERD_DATA_ROOT:-/var/lib/docker-test}"
EXEC_ROOT="${DOCKERD_EXEC_ROOT:-/run/docker-test}"
SOCK="${DOCKERD_SOCK:-/run/docker-test.sock}"
PIDFILE="${DOCKERD_PIDFILE:-/run/docker-test.pid}"

log() { echo "dockerd-down: $*" >&2; }

stop_dockerd() {
  if [ ! -s "$PIDFILE" ]; then
    log "no pidfile $PIDFILE"
    return 0
  fi
  local pid _
  pid="$(cat "$PIDFILE")"
  # check the comm so a stale pidfile never makes us signal a reused PID
  if kill -0 "$pid" 2>/dev/null && grep -q dockerd "/proc/$pid/comm" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 30); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 1
    done
    if kill -0 "$pid" 2>/dev/null; then
      log "pid $pid still alive after 30s, sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    log "stopped dockerd pid $pid"
  else
    log "pid $pid from $PIDFILE is not a running dockerd"
  fi
  rm -f "$PIDFILE"
}

# netns bind mounts / overlay mounts left behind by a killed daemon must go
# before rm -rf, or the removal fails with EBUSY; so must the data root's own
# private bind mount onto itself, which a daemon killed mid-shutdown leaves.
purge() {
  local base m
  for base in "$EXEC_ROOT" "$DATA_ROOT"; do
    awk -v b="$base" 'index($2, b "/") == 1 || $2 == b {print $2}' /proc/mounts | sort -r |
      while read -r m; do umount -l "$m" 2>/dev/null || true; done
  done
  rm -rf --one-file-system "$DATA_ROOT" "$EXEC_ROOT" "$EXEC_ROOT.json"
  log "purged $DATA_ROOT $EXEC_ROOT"
}

main() {
  stop_dockerd
  rm -f "$SOCK"
  if [ "${1:-}" = --purge ]; then purge; fi
}

main "$@"
