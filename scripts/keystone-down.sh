#!/usr/bin/env bash
# Stop the Keystone that scripts/keystone-up.sh started, by its saved PID only
# (the PID's command line is checked before it is signalled): the uWSGI master
# in $KEYSTONE_STATE/keystone-uwsgi.pid; its workers follow it.
#
#   --wipe   also delete the database and the keys, so the next keystone-up.sh
#            bootstraps an empty Keystone (the venv stays)
# Same env overrides as keystone-up.sh (KEYSTONE_STATE).
set -uo pipefail

STATE=${KEYSTONE_STATE:-/var/lib/keystone}
PIDFILE="$STATE/keystone-uwsgi.pid"
WIPE=0
for a in "$@"; do
  case "$a" in --wipe) WIPE=1;; *) echo "usage: $0 [--wipe]" >&2; exit 2;; esac
done

log() { echo "keystone-down: $*" >&2; }
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
if [ $WIPE = 1 ]; then
  log "wiping $STATE (database, keys)"
  rm -rf "$STATE/keystone.db" "$STATE/fernet-keys" "$STATE/credential-keys" "$STATE/bootstrapped"
fi
exit 0
