#!/usr/bin/env bash
# Start a REAL OpenStack Neutron API server (neutron 29.0.0, ML2 core plugin,
# auth_strategy=noauth, no Keystone, no RabbitMQ, no L2 agent) on loopback,
# for testing a Docker network plugin (Kuryr) against it.
#
#  - installs what is missing: Debian postgresql (+ gcc/python headers for
#    building uWSGI), a venv with neutron + uWSGI + psycopg2-binary pinned by
#    scripts/neutron-constraints.txt
#  - installs an agentless ML2 mechanism driver "loopback_tap"
#    (scripts/neutron/loopback_tap.py, copied into the venv as module
#    neutron_loopback_tap plus a hand-made .dist-info carrying the
#    neutron.ml2.mechanism_drivers entry point) that binds every normal port
#    to binding:vif_type=tap (status ACTIVE), so port binding succeeds
#    without OVS or any agent; the same module holds an agentless trunk
#    driver, so that the `trunk` service plugin loads (it refuses to start
#    without a loaded trunk driver): extensions trunk and trunk-details, VLAN
#    subports, bound parents may be trunked; subports are bound to the
#    parent's host (device_owner trunk:subport, hence ACTIVE) and the trunk is
#    set ACTIVE at once, as the OVS agent would have it done
#  - ML2 extension driver port_security (with allowed-address-pairs, at most
#    max_allowed_address_pair = 10 per port, Neutron's default), for the
#    nested macvlan mode; revision-if-match (If-Match: revision_number=N) is
#    always on
#  - writes /etc/neutron/{neutron.conf,plugins/ml2/ml2_conf.ini,api-paste.ini,
#    neutron-api-uwsgi.ini}
#  - database: a private PostgreSQL cluster on 127.0.0.1:$NEUTRON_PG_PORT
#    (default), migrated with neutron-db-manage; or NEUTRON_DB=sqlite (schema
#    made from the models with create_all + alembic stamp, as Neutron's own
#    unit tests do, because the sqlite migrations fail)
#  - starts the API under uWSGI in the background (neutron 29 has no
#    neutron-server eventlet binary any more: only neutron.wsgi.api), waits
#    until GET /v2.0/networks answers, prints the URL on stdout
#
# Idempotent: if it is already up, it only prints the URL.
# Stop with scripts/neutron-down.sh (by saved PIDs).
# Times on a 2-core machine: about 80 s from nothing with a warm pip cache
# (longer with a cold one), about 10 s when installed and the database exists.
# Listens on 127.0.0.1 only (uWSGI and PostgreSQL); contacts nothing else.
#
# Env overrides (defaults in brackets):
#   NEUTRON_VENV [/opt/neutron-venv]   NEUTRON_PYTHON [python3]
#   NEUTRON_PORT [9696]                NEUTRON_DB [postgresql] | sqlite
#   NEUTRON_PG_PORT [5433]             NEUTRON_API_WORKERS [2] (1 for sqlite)
#   NEUTRON_ETC [/etc/neutron]         NEUTRON_STATE [/var/lib/neutron]
#   NEUTRON_LOGDIR [/var/log/neutron]  NEUTRON_WAIT [120] seconds
#   NEUTRON_DEBUG [0]
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VENV=${NEUTRON_VENV:-/opt/neutron-venv}
PY=${NEUTRON_PYTHON:-python3}
PORT=${NEUTRON_PORT:-9696}
DB=${NEUTRON_DB:-postgresql}
PG_PORT=${NEUTRON_PG_PORT:-5433}
ETC=${NEUTRON_ETC:-/etc/neutron}
STATE=${NEUTRON_STATE:-/var/lib/neutron}
LOGDIR=${NEUTRON_LOGDIR:-/var/log/neutron}
WAIT=${NEUTRON_WAIT:-120}
DEBUG=$([ "${NEUTRON_DEBUG:-0}" = 1 ] && echo true || echo false)
WORKERS=${NEUTRON_API_WORKERS:-2}
[ "$DB" = sqlite ] && WORKERS=1
URL="http://127.0.0.1:$PORT"
PIDFILE="$STATE/neutron-api.pid"
PGDATA="$STATE/pgdata"
PGSOCK="$STATE/pgsock"
CONSTRAINTS="$HERE/neutron-constraints.txt"

log() { echo "neutron-up: $*" >&2; }
[ "$(id -u)" = 0 ] || { log "must run as root"; exit 1; }
case "$DB" in postgresql|sqlite) ;; *) log "NEUTRON_DB must be postgresql or sqlite"; exit 1;; esac

api_ok() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$URL/v2.0/networks" 2>/dev/null)" = 200 ]; }
pid_is() { # pid substring: is pid alive and its cmdline contains substring?
  [ -n "$1" ] && [ -r "/proc/$1/cmdline" ] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -qF -- "$2"; }

# --- already running? -------------------------------------------------------
if [ -s "$PIDFILE" ] && pid_is "$(cat "$PIDFILE")" uwsgi && api_ok; then
  log "already running (uwsgi master pid $(cat "$PIDFILE"))"
  # started by an older neutron-up.sh: its config stays until a restart
  [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$URL/v2.0/extensions/trunk")" = 200 ] || \
    log "it has no trunk extension (older config): neutron-down.sh --keep-db && neutron-up.sh to get it"
  echo "$URL"; exit 0
fi
T_START=$(date +%s)

# --- Debian packages ----------------------------------------------------------
APT_UPDATED=0
apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  [ $APT_UPDATED = 1 ] || { apt-get update -qq >&2; APT_UPDATED=1; }
  apt-get install -y -qq --no-install-recommends "$@" >&2
}
command -v curl >/dev/null || apt_install curl ca-certificates
pg_bin() { local d; for d in /usr/lib/postgresql/*/bin; do if [ -x "$d/initdb" ]; then echo "$d"; fi; done | sort -V | tail -1; }
PG_BIN=$(pg_bin)
if [ "$DB" = postgresql ] && [ ! -x "$PG_BIN/initdb" ]; then
  log "installing postgresql (Debian)"
  # keep the package's postinst from starting the default cluster/service
  added_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; added_policy=1
  fi
  apt_install postgresql || { [ $added_policy = 1 ] && rm -f /usr/sbin/policy-rc.d; exit 1; }
  [ $added_policy = 1 ] && rm -f /usr/sbin/policy-rc.d
  PG_BIN=$(pg_bin)
fi

# --- Python venv ------------------------------------------------------------
if ! { [ -x "$VENV/bin/uwsgi" ] && "$VENV/bin/python" -c 'import neutron.wsgi, psycopg2' 2>/dev/null; }; then
  command -v gcc >/dev/null || apt_install gcc libc6-dev
  if ! "$PY" -c 'import os,sysconfig,sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"],"Python.h")))'; then
    apt_install python3-dev
  fi
  log "creating $VENV and installing neutron (about 1.5 min)"
  [ -x "$VENV/bin/pip" ] || "$PY" -m venv "$VENV"
  C=(); [ -f "$CONSTRAINTS" ] && C=(-c "$CONSTRAINTS")
  "$VENV/bin/pip" install -q "${C[@]}" neutron==29.0.0 uwsgi psycopg2-binary >&2
fi
SITE=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')

# --- agentless ML2 mechanism driver "loopback_tap" ---------------------------
mkdir -p "$SITE/neutron_loopback_tap" "$SITE/neutron_loopback_tap-0.1.dist-info"
cp "$HERE/neutron/loopback_tap.py" "$SITE/neutron_loopback_tap/__init__.py"
printf 'Metadata-Version: 2.1\nName: neutron-loopback-tap\nVersion: 0.1\nSummary: Agentless ML2 mechanism driver (vif_type tap) for test rigs\n' \
  >"$SITE/neutron_loopback_tap-0.1.dist-info/METADATA"
printf '[neutron.ml2.mechanism_drivers]\nloopback_tap = neutron_loopback_tap:LoopbackTapMechanismDriver\n' \
  >"$SITE/neutron_loopback_tap-0.1.dist-info/entry_points.txt"
printf 'neutron_loopback_tap/__init__.py,,\n' >"$SITE/neutron_loopback_tap-0.1.dist-info/RECORD"

# --- config -----------------------------------------------------------------
mkdir -p "$ETC/plugins/ml2" "$STATE/lock" "$LOGDIR"
cp "$VENV/etc/neutron/api-paste.ini" "$ETC/api-paste.ini"
if [ "$DB" = postgresql ]; then
  CONNECTION="postgresql+psycopg2://neutron:neutron@127.0.0.1:$PG_PORT/neutron"
else
  CONNECTION="sqlite:///$STATE/neutron.sqlite"
fi
cat >"$ETC/neutron.conf" <<EOF
[DEFAULT]
# no Keystone: every request is admin in project "fake_project_id" unless the
# body names a project_id (NoauthFakeProjectId middleware)
auth_strategy = noauth
core_plugin = ml2
# trunk (nested VLAN mode; loaded thanks to the loopback_tap trunk driver).
# The defaults (tag, timestamp, revisions, flavors, auto_allocate,
# network_ip_availability) are always loaded; address scopes, subnet pools and
# standard-attr-tag come with ML2 itself
service_plugins = trunk
api_paste_config = $ETC/api-paste.ini
# in-memory oslo.messaging driver: no RabbitMQ, RPC casts go nowhere
transport_url = fake://
state_path = $STATE
notify_nova_on_port_status_changes = false
notify_nova_on_port_data_changes = false
dhcp_agent_notification = false
debug = $DEBUG

[database]
connection = $CONNECTION

[oslo_concurrency]
lock_path = $STATE/lock
EOF
# tag_ports_during_bulk_creation: tags in a port's POST body (single or bulk) are
# kept (without it Neutron accepts and drops them). kuryr-kubernetes' port pools
# rely on it; kuryr uses it when Neutron announces tag-ports-during-bulk-creation.
cat >"$ETC/plugins/ml2/ml2_conf.ini" <<'EOF'
[ml2]
type_drivers = flat,vlan,vxlan,local
tenant_network_types = local
mechanism_drivers = loopback_tap
extension_drivers = port_security,tag_ports_during_bulk_creation

[ml2_type_flat]
flat_networks = *

[ml2_type_vxlan]
vni_ranges = 1:1000
EOF
cat >"$ETC/neutron-api-uwsgi.ini" <<EOF
[uwsgi]
http-socket = 127.0.0.1:$PORT
module = neutron.wsgi.api:application
master = true
processes = $WORKERS
threads = 1
enable-threads = true
lazy-apps = true
thunder-lock = true
buffer-size = 65535
add-header = Connection: close
die-on-term = true
exit-on-reload = false
hook-master-start = unix_signal:15 gracefully_kill_them_all
worker-reload-mercy = 80
need-app = true
EOF

NDM=("$VENV/bin/neutron-db-manage" --config-file "$ETC/neutron.conf" --config-file "$ETC/plugins/ml2/ml2_conf.ini")

# --- database -----------------------------------------------------------------
if [ "$DB" = postgresql ]; then
  pg_pid() { if [ -s "$PGDATA/postmaster.pid" ]; then head -1 "$PGDATA/postmaster.pid"; fi; }
  if [ ! -s "$PGDATA/PG_VERSION" ]; then
    log "initdb $PGDATA"
    mkdir -p "$PGDATA"; chown postgres:postgres "$PGDATA"; chmod 700 "$PGDATA"
    runuser -u postgres -- "$PG_BIN/initdb" -D "$PGDATA" -U postgres -E UTF8 \
      --auth-local=trust --auth-host=scram-sha-256 >"$LOGDIR/initdb.log" 2>&1
  fi
  mkdir -p "$PGSOCK"; chown postgres:postgres "$PGSOCK"
  touch "$LOGDIR/postgresql.log"; chown postgres:postgres "$LOGDIR/postgresql.log"
  if ! pid_is "$(pg_pid)" postgres; then
    log "starting postgresql on 127.0.0.1:$PG_PORT"
    runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PGDATA" -l "$LOGDIR/postgresql.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PGSOCK -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c jit=off" \
      start >&2
  fi
  psql_pg() { runuser -u postgres -- "$PG_BIN/psql" -h "$PGSOCK" -p "$PG_PORT" -U postgres -v ON_ERROR_STOP=1 -qtA "$@"; }
  [ "$(psql_pg -c "select 1 from pg_roles where rolname='neutron'")" = 1 ] || \
    psql_pg -c "CREATE ROLE neutron LOGIN PASSWORD 'neutron'"
  [ "$(psql_pg -c "select 1 from pg_database where datname='neutron'")" = 1 ] || \
    psql_pg -c "CREATE DATABASE neutron OWNER neutron"
  log "neutron-db-manage upgrade heads"
  if ! (cd "$STATE" && "${NDM[@]}" upgrade heads >"$LOGDIR/db-manage.log" 2>&1); then
    # Migration d553edeb540f (2025.2, "tag case sensitive") runs MySQL-only SQL
    # (ALTER TABLE tags CONVERT TO CHARACTER SET utf8mb4) and fails on
    # PostgreSQL, whose collations are case sensitive anyway. PostgreSQL DDL is
    # transactional, so the failed run left nothing behind: migrate to its
    # parent, stamp it as done, and go on.
    log "upgrade failed (expected on PostgreSQL): stepping over MySQL-only migration d553edeb540f"
    (cd "$STATE" && "${NDM[@]}" upgrade ad80a9f07c5c && "${NDM[@]}" stamp d553edeb540f && \
      "${NDM[@]}" upgrade heads) >>"$LOGDIR/db-manage.log" 2>&1 || {
      log "migrations failed, see $LOGDIR/db-manage.log"; tail -20 "$LOGDIR/db-manage.log" >&2; exit 1; }
  fi
else
  if [ ! -s "$STATE/neutron.sqlite" ]; then
    log "creating sqlite schema from the models (alembic migrations do not run on sqlite)"
    "$VENV/bin/python" - "$CONNECTION" >"$LOGDIR/db-manage.log" 2>&1 <<'EOF'
import sys
import sqlalchemy as sa
from neutron.db.migration.models import head  # noqa: F401 (imports every model)
from neutron_lib.db import model_base
model_base.BASEV2.metadata.create_all(sa.create_engine(sys.argv[1]))
EOF
    (cd "$STATE" && "${NDM[@]}" stamp heads >>"$LOGDIR/db-manage.log" 2>&1)
  fi
fi

# --- neutron API under uWSGI ---------------------------------------------------
if [ -s "$PIDFILE" ] && pid_is "$(cat "$PIDFILE")" uwsgi; then
  log "uwsgi pid $(cat "$PIDFILE") is alive but the API does not answer; stopping it"
  kill -TERM "$(cat "$PIDFILE")" || true; sleep 3
fi
rm -f "$PIDFILE"
T_API=$(date +%s)
log "starting neutron API on $URL (log $LOGDIR/neutron-api.log)"
cd "$STATE"
OS_NEUTRON_CONFIG_DIR="$ETC" OS_NEUTRON_CONFIG_FILES="neutron.conf;plugins/ml2/ml2_conf.ini" \
  setsid "$VENV/bin/uwsgi" --ini "$ETC/neutron-api-uwsgi.ini" --pidfile "$PIDFILE" \
  </dev/null >"$LOGDIR/neutron-api.log" 2>&1 &
for _ in $(seq 1 $((WAIT * 4))); do
  api_ok && break
  if [ -s "$PIDFILE" ] && ! pid_is "$(cat "$PIDFILE")" uwsgi; then break; fi
  sleep 0.25
done
if ! api_ok; then
  log "neutron API did not come up; last log lines:"; tail -30 "$LOGDIR/neutron-api.log" >&2; exit 1
fi
log "up: uwsgi master pid $(cat "$PIDFILE"), db=$DB, API start $(( $(date +%s) - T_API ))s, total $(( $(date +%s) - T_START ))s"
echo "$URL"
