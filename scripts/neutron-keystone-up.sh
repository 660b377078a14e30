#!/usr/bin/env bash
# Start a second Neutron API server, with auth_strategy = keystone, beside the
# noauth one of scripts/neutron-up.sh and on the SAME database: keystonemiddleware
# checks every request's token against the Keystone of scripts/keystone-up.sh.
# It is the `network` endpoint of that Keystone's catalog (127.0.0.1:9698).
#
# Needs neutron-up.sh (its venv, config and database) and keystone-up.sh (the
# `neutron` service user) to have run. Copies $NEUTRON_ETC's config into
# $NEUTRON_KS_ETC, changing only the auth strategy, the port and the worker
# count, and adds [keystone_authtoken] with token_cache_time = -1: every
# request's token is validated by Keystone, so a revoked token fails at once
# (keystonemiddleware's default keeps a token for 300 s per worker).
#
# Idempotent: if it already answers, it only prints the URL. Stop it with
# scripts/neutron-keystone-down.sh (by its PID file). Bounded: the API start
# waits at most $NEUTRON_KS_WAIT s. Listens on 127.0.0.1 only.
# Times on 2 cores: about 4 to 6 s to start, under 0.1 s when already up.
#
# Env overrides (defaults in brackets):
#   NEUTRON_VENV [/opt/neutron-venv]     NEUTRON_ETC [/etc/neutron]
#   NEUTRON_STATE [/var/lib/neutron]     NEUTRON_LOGDIR [/var/log/neutron]
#   NEUTRON_KS_ETC [/etc/neutron-keystone]  NEUTRON_KS_PORT [9698]
#   NEUTRON_KS_WORKERS [1]               NEUTRON_KS_WAIT [90] seconds
#   KEYSTONE_PORT [5000]
set -euo pipefail

VENV=${NEUTRON_VENV:-/opt/neutron-venv}
SRC=${NEUTRON_ETC:-/etc/neutron}
STATE=${NEUTRON_STATE:-/var/lib/neutron}
LOGDIR=${NEUTRON_LOGDIR:-/var/log/neutron}
ETC=${NEUTRON_KS_ETC:-/etc/neutron-keystone}
PORT=${NEUTRON_KS_PORT:-9698}
WORKERS=${NEUTRON_KS_WORKERS:-1}
WAIT=${NEUTRON_KS_WAIT:-90}
KEYSTONE="http://127.0.0.1:${KEYSTONE_PORT:-5000}"
URL="http://127.0.0.1:$PORT"
PIDFILE="$STATE/neutron-keystone-api.pid"
LOG="$LOGDIR/neutron-keystone-api.log"

log() { echo "neutron-keystone-up: $*" >&2; }
[ "$(id -u)" = 0 ] || { log "must run as root"; exit 1; }

# Without a token, keystonemiddleware answers 401: the server is up and guarded.
api_ok() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$URL/v2.0/networks" 2>/dev/null)" = 401 ]; }
pid_is() { [ -n "$1" ] && [ -r "/proc/$1/cmdline" ] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -qF -- "$2"; }

if [ -s "$PIDFILE" ] && pid_is "$(cat "$PIDFILE")" uwsgi && api_ok; then
  log "already running (uwsgi master pid $(cat "$PIDFILE"))"
  echo "$URL"; exit 0
fi
if ! [ -f "$SRC/neutron.conf" ] || ! [ -x "$VENV/bin/uwsgi" ]; then
  log "no Neutron installed at $SRC / $VENV: run scripts/neutron-up.sh first"; exit 1
fi
curl -s --max-time 3 "$KEYSTONE/v3" | grep -q '"id": *"v3' || {
  log "no Keystone answers at $KEYSTONE: run scripts/keystone-up.sh first"; exit 1; }
T_START=$(date +%s)

mkdir -p "$ETC/plugins/ml2" "$LOGDIR"
cp "$SRC/api-paste.ini" "$ETC/api-paste.ini"
cp "$SRC/plugins/ml2/ml2_conf.ini" "$ETC/plugins/ml2/ml2_conf.ini"
sed -e 's/^auth_strategy = .*/auth_strategy = keystone/' \
    -e "s#^api_paste_config = .*#api_paste_config = $ETC/api-paste.ini#" \
    "$SRC/neutron.conf" >"$ETC/neutron.conf"
grep -q '^auth_strategy = keystone$' "$ETC/neutron.conf" || { log "no auth_strategy line in $SRC/neutron.conf"; exit 1; }
cat >>"$ETC/neutron.conf" <<EOF

[keystone_authtoken]
www_authenticate_uri = $KEYSTONE
auth_url = $KEYSTONE
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = service
username = neutron
password = neutron-rig-pw
# no cache: every token is checked with Keystone, so revocation shows at once
token_cache_time = -1
EOF
chmod 600 "$ETC/neutron.conf"
sed -e "s#^http-socket = .*#http-socket = 127.0.0.1:$PORT#" \
    -e "s#^processes = .*#processes = $WORKERS#" \
    "$SRC/neutron-api-uwsgi.ini" >"$ETC/neutron-api-uwsgi.ini"

if [ -s "$PIDFILE" ] && pid_is "$(cat "$PIDFILE")" uwsgi; then
  log "uwsgi pid $(cat "$PIDFILE") is alive but the API does not answer; stopping it"
  kill -TERM "$(cat "$PIDFILE")" || true; sleep 3
fi
rm -f "$PIDFILE"
log "starting the keystone-auth neutron API on $URL (log $LOG)"
cd "$STATE"
OS_NEUTRON_CONFIG_DIR="$ETC" OS_NEUTRON_CONFIG_FILES="neutron.conf;plugins/ml2/ml2_conf.ini" \
  setsid "$VENV/bin/uwsgi" --ini "$ETC/neutron-api-uwsgi.ini" --pidfile "$PIDFILE" \
  </dev/null >"$LOG" 2>&1 &
for _ in $(seq 1 $((WAIT * 4))); do
  api_ok && break
  if [ -s "$PIDFILE" ] && ! pid_is "$(cat "$PIDFILE")" uwsgi; then break; fi
  sleep 0.25
done
if ! api_ok; then
  log "the API did not answer 401; last log lines:"; tail -30 "$LOG" >&2; exit 1
fi
log "up: uwsgi master pid $(cat "$PIDFILE"), $(( $(date +%s) - T_START ))s"
echo "$URL"
