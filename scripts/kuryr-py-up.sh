#!/usr/bin/env bash
# Start the real Python kuryr-libnetwork (18.0.0) daemon on 127.0.0.1:23750
# against the noauth Neutron of scripts/neutron-up.sh (started first if it does
# not answer).
#
#  - venv $KURYR_VENV (separate from Neutron's), pinned by
#    scripts/kuryr-constraints.txt
#  - /etc/kuryr/kuryr.conf: keystoneauth "none" plugin + fixed endpoint, i.e.
#    no Keystone at all
#  - kuryr-server (Flask dev server) in the background, PID saved in
#    $KURYR_STATE/kuryr-server.pid; waits until POST /Plugin.Activate answers,
#    prints the URL on stdout
#
# Note: always give Docker a subnet (docker network create --subnet ...): with
# kuryr-libnetwork 18.0.0 an empty RequestPool ("Pool": "") falls back to a
# Neutron subnetpool named "kuryr" and the following CreateNetwork fails, and
# ReleasePool then deletes that "kuryr" pool.
#
# Note: NetworkDriver.CreateEndpoint makes a real veth pair in the host
# network namespace (tap<port-id[:11]> / t_c<port-id[:11]>); DeleteEndpoint
# removes it.
#
# Nothing is registered with a dockerd. To let a dockerd find it, write a spec
# file yourself, e.g. echo http://127.0.0.1:23750 > /etc/docker/plugins/kuryr.spec
# (or set KURYR_DOCKER_SPEC=/path/kuryr.spec and this script writes it).
#
# Env overrides (defaults in brackets):
#   KURYR_VENV [/opt/kuryr-venv]   KURYR_PYTHON [python3]   KURYR_PORT [23750]
#   KURYR_ETC [/etc/kuryr]         KURYR_STATE [/var/lib/kuryr]
#   KURYR_LOGDIR [/var/log/kuryr]  KURYR_DEBUG [0] (1 = very verbose, pyroute2)
#   KURYR_DOCKER_SPEC [unset]      NEUTRON_URL [http://127.0.0.1:9696]
# Stop with scripts/neutron-down.sh.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VENV=${KURYR_VENV:-/opt/kuryr-venv}
PY=${KURYR_PYTHON:-python3}
PORT=${KURYR_PORT:-23750}
ETC=${KURYR_ETC:-/etc/kuryr}
STATE=${KURYR_STATE:-/var/lib/kuryr}
LOGDIR=${KURYR_LOGDIR:-/var/log/kuryr}
DEBUG=$([ "${KURYR_DEBUG:-0}" = 1 ] && echo true || echo false)
NEUTRON_URL=${NEUTRON_URL:-http://127.0.0.1:9696}
URL="http://127.0.0.1:$PORT"
PIDFILE="$STATE/kuryr-server.pid"
CONSTRAINTS="$HERE/kuryr-constraints.txt"

log() { echo "kuryr-py-up: $*" >&2; }
[ "$(id -u)" = 0 ] || { log "must run as root"; exit 1; }
case "$NEUTRON_URL" in http://127.0.0.1:*|http://localhost:*|http://\[::1\]:*) ;;
  *) log "NEUTRON_URL must be a loopback URL"; exit 1;; esac

activate_ok() { curl -s --max-time 3 -X POST "$URL/Plugin.Activate" -d '{}' 2>/dev/null | grep -q NetworkDriver; }
pid_is() { [ -n "$1" ] && [ -r "/proc/$1/cmdline" ] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -qF -- "$2"; }

if [ -s "$PIDFILE" ] && pid_is "$(cat "$PIDFILE")" kuryr-server && activate_ok; then
  log "already running (pid $(cat "$PIDFILE"))"; echo "$URL"; exit 0
fi

# --- Neutron ------------------------------------------------------------------
if [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$NEUTRON_URL/v2.0/networks")" != 200 ]; then
  log "neutron at $NEUTRON_URL does not answer; running neutron-up.sh"
  "$HERE/neutron-up.sh" >/dev/null
fi

# --- venv ---------------------------------------------------------------------
if ! "$VENV/bin/python" -c 'import kuryr_libnetwork.server' 2>/dev/null; then
  log "creating $VENV and installing kuryr-libnetwork (about 40 s)"
  [ -x "$VENV/bin/pip" ] || "$PY" -m venv "$VENV"
  C=(); [ -f "$CONSTRAINTS" ] && C=(-c "$CONSTRAINTS")
  "$VENV/bin/pip" install -q "${C[@]}" kuryr-libnetwork==18.0.0 >&2
fi

# --- config -------------------------------------------------------------------
mkdir -p "$ETC" "$STATE" "$LOGDIR"
cat >"$ETC/kuryr.conf" <<EOF
[DEFAULT]
kuryr_uri = $URL
capability_scope = local
# no router / external network handling (Neutron here has no L3 plugin)
process_external_connectivity = false
# binding scripts shipped in the venv (vif_type tap -> libexec/kuryr/tap, a no-op)
bindir = $VENV/libexec/kuryr
log_dir = $LOGDIR
log_file = kuryr-server.log
debug = $DEBUG

[neutron]
# keystoneauth1 'none' plugin: no Keystone, every call goes to this endpoint
# (Neutron noauth then treats it as admin of project fake_project_id)
auth_type = none
endpoint = $NEUTRON_URL
enable_dhcp = False
EOF

# --- start ----------------------------------------------------------------------
if [ -s "$PIDFILE" ] && pid_is "$(cat "$PIDFILE")" kuryr-server; then
  log "pid $(cat "$PIDFILE") alive but not answering; stopping it"
  kill -TERM "$(cat "$PIDFILE")" || true; sleep 2
fi
T0=$(date +%s)
cd "$STATE"
setsid "$VENV/bin/kuryr-server" --config-file "$ETC/kuryr.conf" </dev/null >"$LOGDIR/kuryr-stdout.log" 2>&1 &
echo $! >"$PIDFILE"
for _ in $(seq 1 120); do
  activate_ok && break
  pid_is "$(cat "$PIDFILE")" kuryr-server || break
  sleep 0.25
done
if ! activate_ok; then
  log "kuryr-server did not come up; last log lines:"
  tail -20 "$LOGDIR/kuryr-stdout.log" "$LOGDIR/kuryr-server.log" >&2 2>/dev/null || true; exit 1
fi
if [ -n "${KURYR_DOCKER_SPEC:-}" ]; then
  mkdir -p "$(dirname "$KURYR_DOCKER_SPEC")"; echo "$URL" >"$KURYR_DOCKER_SPEC"
  log "wrote $KURYR_DOCKER_SPEC"
fi
log "up: pid $(cat "$PIDFILE"), neutron $NEUTRON_URL, start $(( $(date +%s) - T0 ))s"
echo "$URL"
