#!/usr/bin/env bash
# Stop the keystone-auth Neutron API that scripts/neutron-keystone-up.sh started,
# by its saved PID only (the PID's command line is checked before it is
# signalled): the uWSGI master in $NEUTRON_STATE/neutron-keystone-api.pid. The
# noauth Neutron, PostgreSQL and the shared database are left alone.
set -uo pipefail

STATE=${NEUTRON_STATE:-/var/lib/neutron}
PIDFILE="$STATE/neutron-keystone-api.pid"

log() { echo "neutron-keystone-down: $*" >&2; }
pid_is() { [ -n "$1" ] && [ -r "/proc/$1/cmdline" ] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -qF -- "$2"; }

pid=$(cat "$PIDFILE" 2>/dev/null || true)
if pid_is "$pid" uwsgi; then
  log "kill -TERM $pid"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do pid_is "$pid" uwsgi || break; sleep 0.25; done
  if pid_is "$pid" uwsgi; then log "still alive after 15 s, kill -KILL $pid"; kill -KILL "$pid" 2>/dev/null || true; fi
  log "stopped"
else
  log "not running"
fi
rm -f "$PIDFILE"
exit 0
