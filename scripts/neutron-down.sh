#!/usr/bin/env bash
# Stop what scripts/neutron-up.sh and scripts/kuryr-py-up.sh started, by their
# saved PIDs only (each PID's command line is checked before it is signalled):
#   kuryr-server   ($KURYR_STATE/kuryr-server.pid)
#   neutron uWSGI  ($NEUTRON_STATE/neutron-api.pid, master; workers follow)
#   PostgreSQL     ($NEUTRON_STATE/pgdata/postmaster.pid, fast shutdown)
#
#   --keep-db   leave PostgreSQL running
#   --wipe      also delete the Neutron database (pgdata / sqlite file), so the
#               next neutron-up.sh starts from an empty Neutron
# Same env overrides as the up scripts (NEUTRON_STATE, KURYR_STATE).
set -uo pipefail

STATE=${NEUTRON_STATE:-/var/lib/neutron}
KSTATE=${KURYR_STATE:-/var/lib/kuryr}
KEEP_DB=0; WIPE=0
for a in "$@"; do
  case "$a" in --keep-db) KEEP_DB=1;; --wipe) WIPE=1;;
    *) echo "usage: $0 [--keep-db] [--wipe]" >&2; exit 2;; esac
done
[ $WIPE = 1 ] && KEEP_DB=0

log() { echo "neutron-down: $*" >&2; }
pid_is() { [ -n "$1" ] && [ -r "/proc/$1/cmdline" ] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -qF -- "$2"; }

stop_pid() { # name pid cmdline-substring signal
  local name=$1 pid=$2 want=$3 sig=$4
  if ! pid_is "$pid" "$want"; then log "$name: not running"; return 0; fi
  log "$name: kill -$sig $pid"
  kill "-$sig" "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do pid_is "$pid" "$want" || { log "$name: stopped"; return 0; }; sleep 0.25; done
  log "$name: still alive after 15s, kill -KILL $pid"
  kill -KILL "$pid" 2>/dev/null || true
}

[ -s "$KSTATE/kuryr-server.pid" ] && stop_pid kuryr-server "$(cat "$KSTATE/kuryr-server.pid")" kuryr-server TERM
rm -f "$KSTATE/kuryr-server.pid"

[ -s "$STATE/neutron-api.pid" ] && stop_pid neutron-api "$(cat "$STATE/neutron-api.pid")" uwsgi TERM
rm -f "$STATE/neutron-api.pid"

if [ $KEEP_DB = 0 ] && [ -s "$STATE/pgdata/postmaster.pid" ]; then
  # SIGINT = PostgreSQL "fast" shutdown
  stop_pid postgresql "$(head -1 "$STATE/pgdata/postmaster.pid")" postgres INT
fi

if [ $WIPE = 1 ]; then
  log "wiping $STATE/pgdata and $STATE/neutron.sqlite"
  rm -rf "$STATE/pgdata" "$STATE/neutron.sqlite"
fi
exit 0
