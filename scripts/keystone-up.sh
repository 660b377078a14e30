#!/usr/bin/env bash
# Start a REAL OpenStack Keystone (keystone 30.0.0 from PyPI) on loopback for
# tests/keystone_real.rs: SQLite, fernet tokens, under uWSGI, no Apache.
#
#  - installs a venv with keystone + uWSGI pinned by scripts/keystone-constraints.txt
#    (uWSGI compiles: gcc and the Python headers must be there, as for neutron-up.sh)
#  - writes $KEYSTONE_ETC/{keystone.conf,keystone-uwsgi.ini}; the database and
#    the fernet/credential keys live in $KEYSTONE_STATE
#  - first time only: db_sync, fernet and credential keys, `keystone-manage
#    bootstrap` (admin / admin-rig-pw, project admin, region RegionOne, identity
#    endpoints http://127.0.0.1:$KEYSTONE_PORT/v3)
#  - starts uWSGI in the background, waits for GET /v3, then runs
#    scripts/keystone/seed.py (idempotent, through the API): project service,
#    users neutron / neutron-rig-pw and kuryr / kuryr-rig-pw (Default), domain
#    kuryr-rig with its own kuryr / kuryr-other-rig-pw and project service, and
#    the network catalog (RegionOne and RegionTwo; a wrong interface or region
#    lands on a dead port, see seed.py)
#
# Tokens live $KEYSTONE_TOKEN_EXPIRATION seconds (40 by default) so the tests can
# watch one expire; clients re-authenticate on 401. The price: keystoneauth renews
# any token with less than 120 s left before each use, so the keystone-auth
# Neutron's middleware logs in anew for every request it checks (about 0.5 s a
# Neutron request instead of 0.2 s). Passwords are hashed with the fewest bcrypt
# rounds: this is a test rig, and every token costs one hash check.
#
# Idempotent: if it already answers, it only prints the URL. Stop it with
# scripts/keystone-down.sh (by its PID file). Bounded: pip 15 min, db 5 min, API
# start $KEYSTONE_WAIT s. Listens on 127.0.0.1 only and contacts nothing else
# (but PyPI for the install).
# Times on 2 cores: about 60 s from nothing with a warm pip cache (90 s with a
# cold one), about 8 s when installed, under 0.1 s when already up.
#
# Env overrides (defaults in brackets):
#   KEYSTONE_VENV [/opt/keystone-venv]   KEYSTONE_PYTHON [python3]
#   KEYSTONE_PORT [5000]                 KEYSTONE_ETC [/etc/keystone]
#   KEYSTONE_STATE [/var/lib/keystone]   KEYSTONE_LOGDIR [/var/log/keystone]
#   KEYSTONE_WAIT [60] seconds           KEYSTONE_TOKEN_EXPIRATION [40] seconds
#   KEYSTONE_NETWORK_URL [http://127.0.0.1:9698] (neutron-keystone-up.sh)
#   KEYSTONE_DEAD_URL [http://127.0.0.1:1] (where wrong catalog choices go)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VENV=${KEYSTONE_VENV:-/opt/keystone-venv}
PY=${KEYSTONE_PYTHON:-python3}
PORT=${KEYSTONE_PORT:-5000}
ETC=${KEYSTONE_ETC:-/etc/keystone}
STATE=${KEYSTONE_STATE:-/var/lib/keystone}
LOGDIR=${KEYSTONE_LOGDIR:-/var/log/keystone}
WAIT=${KEYSTONE_WAIT:-60}
EXPIRATION=${KEYSTONE_TOKEN_EXPIRATION:-40}
NETWORK_URL=${KEYSTONE_NETWORK_URL:-http://127.0.0.1:9698}
DEAD_URL=${KEYSTONE_DEAD_URL:-http://127.0.0.1:1}
URL="http://127.0.0.1:$PORT/v3"
PIDFILE="$STATE/keystone-uwsgi.pid"
CONSTRAINTS="$HERE/keystone-constraints.txt"

log() { echo "keystone-up: $*" >&2; }
[ "$(id -u)" = 0 ] || { log "must run as root"; exit 1; }

api_ok() { curl -s --max-time 3 "$URL" 2>/dev/null | grep -q '"id": *"v3'; }
pid_is() { # pid substring: is pid alive and its cmdline contains substring?
  [ -n "$1" ] && [ -r "/proc/$1/cmdline" ] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -qF -- "$2"; }

if [ -s "$PIDFILE" ] && pid_is "$(cat "$PIDFILE")" uwsgi && api_ok; then
  log "already running (uwsgi master pid $(cat "$PIDFILE"))"
  echo "$URL"; exit 0
fi
if api_ok; then
  log "something else already answers at $URL; not starting a second Keystone"; exit 1
fi
T_START=$(date +%s)

# --- Python venv ----------------------------------------------------------------
if ! { [ -x "$VENV/bin/uwsgi" ] && "$VENV/bin/python" -c 'import keystone.server.wsgi' 2>/dev/null; }; then
  command -v gcc >/dev/null || { log "gcc is missing (uWSGI compiles); apt-get install gcc libc6-dev python3-dev"; exit 1; }
  log "creating $VENV and installing keystone (about 40 s)"
  [ -x "$VENV/bin/pip" ] || "$PY" -m venv "$VENV"
  timeout 900 "$VENV/bin/pip" install -q -c "$CONSTRAINTS" keystone==30.0.0 uwsgi >&2
fi
SITE=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')

# --- config ---------------------------------------------------------------------
mkdir -p "$ETC" "$STATE/fernet-keys" "$STATE/credential-keys" "$LOGDIR"
chmod 700 "$STATE/fernet-keys" "$STATE/credential-keys"
cat >"$ETC/keystone.conf" <<EOF
[DEFAULT]
log_file = $LOGDIR/keystone.log
debug = false

[database]
connection = sqlite:///$STATE/keystone.db

[token]
provider = fernet
# short on purpose: tests/keystone_real.rs watches a token expire
expiration = $EXPIRATION

[identity]
# the fewest bcrypt rounds: a test rig, where every token costs one check
password_hash_rounds = 4

[fernet_tokens]
key_repository = $STATE/fernet-keys

[credential]
key_repository = $STATE/credential-keys
EOF
cat >"$ETC/keystone-uwsgi.ini" <<EOF
[uwsgi]
http-socket = 127.0.0.1:$PORT
wsgi-file = $SITE/keystone/wsgi/api.py
master = true
processes = 2
threads = 1
enable-threads = true
lazy-apps = true
buffer-size = 65535
add-header = Connection: close
die-on-term = true
exit-on-reload = false
need-app = true
env = OS_KEYSTONE_CONFIG_FILES=$ETC/keystone.conf
EOF

# --- database and keys, once ------------------------------------------------------
KM=(timeout 300 "$VENV/bin/keystone-manage" --config-file "$ETC/keystone.conf")
if [ ! -e "$STATE/bootstrapped" ]; then
  # A run that died half-way left a partial database: start it over.
  rm -f "$STATE/keystone.db"
  log "db_sync, keys and bootstrap (log $LOGDIR/keystone-manage.log)"
  {
    "${KM[@]}" db_sync
    [ -e "$STATE/fernet-keys/0" ] || "${KM[@]}" fernet_setup --keystone-user root --keystone-group root
    [ -e "$STATE/credential-keys/0" ] || "${KM[@]}" credential_setup --keystone-user root --keystone-group root
    "${KM[@]}" bootstrap --bootstrap-password admin-rig-pw \
      --bootstrap-admin-url "$URL" --bootstrap-internal-url "$URL" \
      --bootstrap-public-url "$URL" --bootstrap-region-id RegionOne
  } >"$LOGDIR/keystone-manage.log" 2>&1 || {
    log "keystone-manage failed:"; tail -20 "$LOGDIR/keystone-manage.log" >&2; exit 1; }
  touch "$STATE/bootstrapped"
fi

# --- API under uWSGI ---------------------------------------------------------------
if [ -s "$PIDFILE" ] && pid_is "$(cat "$PIDFILE")" uwsgi; then
  log "uwsgi pid $(cat "$PIDFILE") is alive but the API does not answer; stopping it"
  kill -TERM "$(cat "$PIDFILE")" || true; sleep 3
fi
rm -f "$PIDFILE"
log "starting keystone on $URL (log $LOGDIR/keystone-uwsgi.log)"
cd "$STATE"
setsid "$VENV/bin/uwsgi" --ini "$ETC/keystone-uwsgi.ini" --pidfile "$PIDFILE" \
  </dev/null >"$LOGDIR/keystone-uwsgi.log" 2>&1 &
for _ in $(seq 1 $((WAIT * 4))); do
  api_ok && break
  if [ -s "$PIDFILE" ] && ! pid_is "$(cat "$PIDFILE")" uwsgi; then break; fi
  sleep 0.25
done
if ! api_ok; then
  log "keystone did not come up; last log lines:"; tail -30 "$LOGDIR/keystone-uwsgi.log" >&2; exit 1
fi

KS_URL="$URL" KS_NETWORK_URL="$NETWORK_URL" KS_DEAD_URL="$DEAD_URL" \
KS_ADMIN_PASSWORD=admin-rig-pw KS_NEUTRON_PASSWORD=neutron-rig-pw \
KS_KURYR_PASSWORD=kuryr-rig-pw KS_KURYR_RIG_PASSWORD=kuryr-other-rig-pw \
  timeout 120 "$PY" "$HERE/keystone/seed.py"
log "up: uwsgi master pid $(cat "$PIDFILE"), total $(( $(date +%s) - T_START ))s"
echo "$URL"
