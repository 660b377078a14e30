#!/usr/bin/env bash
# Acceptance suite for the Magnum-style node bootstrap (scripts/kuryr-node-bootstrap.sh)
# and the systemd unit (contrib/systemd/kuryr.service), against a REAL dockerd and
# the REAL Neutron of scripts/neutron-up.sh (noauth):
#  s. static: bash -n, shellcheck (when installed), systemd-analyze verify;
#  r. refusals: missing credentials, a value check-config refuses (the old file
#     stays), no Neutron at all; secrets never printed; a clouds.yaml entry;
#  b. the bootstrap twice on a clean config dir (managed plugin + userspace OVS):
#     the second run changes nothing (file checksum and inode, plugin id, OVS pids);
#  n. a network on the plugin, two containers with Neutron ports (address, MAC,
#     binding host) that ping each other once their taps are on the OVS bridge (the
#     test plays Neutron's L2 agent: the test Neutron binds vif_type tap);
#  c. changed settings: a restart refused while the network is in use, done with
#     --force, then nothing to do;
#  k. --container: the image of scripts/container-image.sh, twice, and a container
#     with a Neutron address on its driver;
#  u. the host process as the unit runs it: only CAP_NET_ADMIN and CAP_CHOWN, no new
#     privileges, a read-only file system but for the unit's writable paths;
#  a. Keystone (when the rig of scripts/keystone-up.sh and neutron-keystone-up.sh
#     answers): the bootstrap twice with OS_AUTH_URL and a password, its kuryr.conf
#     then used by the managed plugin; then a managed plugin with no kuryr.conf, only
#     its env credentials (`docker plugin set OS_*`, another user domain, region and
#     interface). For each a network and a container whose Neutron port is bound to
#     this host, made through the keystone-auth Neutron (its log), then nothing left;
#     no password and no token in dockerd's log, the bootstrap output or the state;
#  z. everything removed, and Neutron holds nothing of the test CIDRs.
#
#   tests/e2e/bootstrap.sh     (as root; needs a release build: cargo build --release)
#
# Starts a private dockerd (scripts/dockerd-up.sh) and Neutron (scripts/neutron-up.sh)
# unless they answer, and stops them at the end only then. Uses its own names: plugin
# kuryr-boot/kuryr:latest, image kuryr-boot/kuryr-image:latest, container
# kuryr-boot-ctr, drivers kuryr-boot and kuryr-bootsd, plugins kuryr-boot-ks/kuryr
# and kuryr-boot-ke/kuryr (section a), OVS bridge br-kboot (private OVS under the
# work dir), CIDRs 10.143.0-4.0/24, label kuryr-e2e-bootstrap. It never starts or
# stops Keystone: without the rig section a is skipped, or fails with
# E2E_REQUIRE_KEYSTONE=1 (scripts/test.sh sets it when the rig is not skipped).
# Prints "BOOTSTRAP PASS (n checks)" or a FAIL line.
# Env: KURYR_BIN [target/release/kuryr]  DOCKER [/usr/bin/docker]
#      NEUTRON_URL [http://127.0.0.1:9696]  E2E_CMD_TIMEOUT [120]  E2E_KEEP_LOGS=1
#      KEEP_DOCKERD=1 KEEP_NEUTRON=1 (do not stop what this suite started)
#      KEYSTONE_URL [http://127.0.0.1:5000/v3]  KEYSTONE_NEUTRON_URL [http://127.0.0.1:9698]
#      KEYSTONE_NEUTRON_LOG [/var/log/neutron/neutron-keystone-api.log]
#      DOCKERD_LOG [/var/log/docker-test.log] (where the managed plugins log)
#      KURYR_SKIP_KEYSTONE=1 (skip section a)  E2E_REQUIRE_KEYSTONE=1
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$ROOT/tests/e2e/lib.sh"

DOCKER="${DOCKER:-/usr/bin/docker}"
KURYR_BIN="${KURYR_BIN:-$ROOT/target/release/kuryr}"
NEUTRON_URL="${NEUTRON_URL:-http://127.0.0.1:9696}"
BOOT="$ROOT/scripts/kuryr-node-bootstrap.sh"
PLUGIN=kuryr-boot/kuryr:latest
IMAGE=kuryr-boot/kuryr-image:latest
CTR=kuryr-boot-ctr
IMG=kuryr-busybox:latest
LABEL=kuryr-e2e-bootstrap
BR=br-kboot
CIDR=10.143.0.0/24 CIDR_K=10.143.1.0/24 CIDR_U=10.143.2.0/24
CIDR_A=10.143.3.0/24 CIDR_E=10.143.4.0/24
PREFIX=10.143.
# Section a: the rig's Keystone, its keystone-auth Neutron (the catalog's `network`
# endpoint) and that Neutron's uWSGI log, one line a request.
KEYSTONE_URL="${KEYSTONE_URL:-http://127.0.0.1:5000/v3}"
KEYSTONE_NEUTRON_URL="${KEYSTONE_NEUTRON_URL:-http://127.0.0.1:9698}"
KEYSTONE_NEUTRON_LOG="${KEYSTONE_NEUTRON_LOG:-/var/log/neutron/neutron-keystone-api.log}"
DOCKERD_LOG="${DOCKERD_LOG:-/var/log/docker-test.log}"
PLUGIN_KS=kuryr-boot-ks/kuryr:latest PLUGIN_KE=kuryr-boot-ke/kuryr:latest
# The rig's two kuryr users (scripts/keystone-up.sh): Default and domain kuryr-rig.
KS_PW=kuryr-rig-pw KS_PW_RIG=kuryr-other-rig-pw KS_PW_BAD="e2e-$RANDOM$RANDOM-wrong-pw"
WORK="$(mktemp -d /tmp/kuryr-boot.XXXXXX)"
CONF="$WORK/etc" STATE="$WORK/state" OVSD="$WORK/ovs"
STARTED_DOCKERD=0 STARTED_NEUTRON=0 HOST_PID=""
export DOCKER_HOST="unix://${DOCKERD_SOCK:-/run/docker-test.sock}"

log() { echo "bootstrap: $*" >&2; }
d() { timeout "${E2E_CMD_TIMEOUT:-120}" "$DOCKER" "$@"; }
ip_of() { d inspect -f "{{(index .NetworkSettings.Networks \"$2\").IPAddress}}" "$1"; }
mac_of() { d inspect -f "{{(index .NetworkSettings.Networks \"$2\").MacAddress}}" "$1"; }
nget() { curl -s --max-time 30 "$NEUTRON_URL/v2.0/$1"; }
vsctl() { ovs-vsctl --timeout=10 --db="unix:$OVSD/db.sock" "$@"; }
pings() { d exec "$1" ping -c 1 -W 2 "$2" >/dev/null 2>&1; }
plugin_id() { d plugin inspect -f '{{.Id}}' "${1:-$PLUGIN}" 2>/dev/null; }
wait_for() {
  local n=$(($1 * 10)); shift
  while [ "$n" -gt 0 ]; do "$@" && return 0; sleep 0.1; n=$((n - 1)); done
  return 1
}

# What every bootstrap run of this suite gets: a clean environment (no OS_* of
# the caller) and the suite's own names and directories.
BASE_ENV=(DOCKER="$DOCKER" DOCKER_HOST="$DOCKER_HOST" KURYR_BIN="$KURYR_BIN"
  OS_ENDPOINT="$NEUTRON_URL" OS_AUTH_TYPE=none KURYR_CONF_DIR="$CONF" KURYR_STATE_DIR="$STATE"
  OVS_RUNDIR="$OVSD" OVS_DBDIR="$OVSD" OVS_LOGDIR="$OVSD" KURYR_OVS_BRIDGE="$BR" KURYR_PLUGIN="$PLUGIN")

# boot NAME [VAR=VALUE...] -- ARGS...: one bootstrap run; sets BOOT_RC, BOOT_MS and
# BOOT_OUT (stdout and stderr), kept in $WORK/NAME.out.
boot() {
  local name="$1" envs=() t0; shift
  while [ $# -gt 0 ] && [ "$1" != -- ]; do envs+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  BOOT_RC=0
  t0=$(date +%s%N)
  env -i PATH="$PATH" HOME="$HOME" "${BASE_ENV[@]}" "${envs[@]}" bash "$BOOT" "$@" \
    > "$WORK/$name.out" 2>&1 || BOOT_RC=$?
  BOOT_MS=$((($(date +%s%N) - t0) / 1000000))
  BOOT_OUT="$(cat "$WORK/$name.out")"
  log "$name: exit $BOOT_RC in ${BOOT_MS} ms"
}

# Waits for the plugin behind SOCKET to finish its Neutron deletes.
settle() {
  [ -S "$1" ] || return 0
  curl -s --max-time 40 --unix-socket "$1" -X POST -d '{"Timeout": 30}' http://localhost/Kuryr.Settle
}
plugin_sock() { local id; id="$(plugin_id "$@")" && echo "/run/docker/plugins/$id/kuryr.sock"; }

# neutron_leftovers [PREFIX [NAME...]]: Neutron objects of this suite's CIDRs (or of
# those starting with PREFIX, and the networks NAME...), by kind: "ports subnets
# pools networks".
NETS=()   # Neutron network names kuryr made for this suite's Docker networks
neutron_leftovers() {
  local p s pl n=0 name pfx="${1:-$PREFIX}" names
  if [ $# -gt 1 ]; then names=("${@:2}"); else names=("${NETS[@]}"); fi
  p="$(nget ports | jq --arg p "$pfx" '[.ports[] | select(any(.fixed_ips[]?; .ip_address | startswith($p)))] | length')"
  s="$(nget subnets | jq --arg p "$pfx" '[.subnets[] | select(.cidr | startswith($p))] | length')"
  pl="$(nget subnetpools | jq --arg p "$pfx" '[.subnetpools[] | select(any(.prefixes[]; startswith($p)))] | length')"
  for name in "${names[@]}"; do
    n=$((n + $(nget "networks?name=$name" | jq '.networks | length')))
  done
  echo "$p $s $pl $n"
}
remove_objects() {
  local ids
  ids="$(d ps -aq --filter "label=$LABEL" 2>/dev/null || true)"
  # shellcheck disable=SC2086  # one id per word
  [ -z "$ids" ] || d rm -f $ids >/dev/null 2>&1 || true
  ids="$(d network ls -q --filter "label=$LABEL" 2>/dev/null || true)"
  # shellcheck disable=SC2086
  [ -z "$ids" ] || d network rm $ids >/dev/null 2>&1 || true
}

# gone PID: exited (a zombie waiting for PID 1 to reap it counts as exited)
gone() { ! kill -0 "$1" 2>/dev/null || [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ]; }

stop_ovs() {
  local f pid
  [ -S "$OVSD/db.sock" ] && vsctl --if-exists del-br "$BR" >/dev/null 2>&1
  for f in "$OVSD/ovs-vswitchd.pid" "$OVSD/ovsdb-server.pid"; do
    [ -s "$f" ] || continue
    pid="$(cat "$f")"
    kill "$pid" 2>/dev/null && wait_for 10 gone "$pid"
  done
  # the userspace datapath leaves the bridge's tap device behind
  ip link show "$BR" >/dev/null 2>&1 && ip link del "$BR"
  return 0
}

cleanup() {
  local rc=$? p
  set +e
  trap - EXIT INT TERM
  remove_objects
  settle "$(plugin_sock)" >/dev/null
  settle "$(plugin_sock "$PLUGIN_KS")" >/dev/null
  settle "$(plugin_sock "$PLUGIN_KE")" >/dev/null
  settle /run/docker/plugins/kuryr-boot.sock >/dev/null
  settle /run/docker/plugins/kuryr-bootsd.sock >/dev/null
  [ -z "$HOST_PID" ] || { kill "$HOST_PID" 2>/dev/null; wait "$HOST_PID" 2>/dev/null; }
  # stopped first so the plugin in it removes its socket (rm -f kills it); a socket
  # left by a killed one is stale once the container is gone
  d stop -t 10 "$CTR" >/dev/null 2>&1
  d rm -f "$CTR" >/dev/null 2>&1
  [ -S /run/docker/plugins/kuryr-boot.sock ] && rm -f /run/docker/plugins/kuryr-boot.sock
  d rmi -f "$IMAGE" >/dev/null 2>&1
  for p in "$PLUGIN" "$PLUGIN_KS" "$PLUGIN_KE"; do
    d plugin disable -f "$p" >/dev/null 2>&1
    d plugin rm -f "$p" >/dev/null 2>&1
  done
  stop_ovs
  if [ "$(neutron_leftovers 2>/dev/null)" != "0 0 0 0" ]; then
    log "deleting Neutron objects of $PREFIX* left by a failure"; neutron_purge_prefix "$PREFIX"
  fi
  if [ "$STARTED_NEUTRON" = 1 ] && [ "${KEEP_NEUTRON:-0}" != 1 ]; then
    "$ROOT/scripts/neutron-down.sh" >/dev/null 2>&1
  fi
  if [ "$STARTED_DOCKERD" = 1 ] && [ "${KEEP_DOCKERD:-0}" != 1 ]; then
    "$ROOT/scripts/dockerd-down.sh" --purge
  fi
  if [ "$rc" = 0 ] && [ "${E2E_KEEP_LOGS:-0}" != 1 ]; then rm -rf "$WORK"; else log "work dir kept: $WORK"; fi
  exit "$rc"
}

# ------------------------------------------------------------------ cases --
scenario_s() {
  section "s. static checks"
  local f unit="$WORK/unit/kuryr.service"
  for f in "$BOOT" "$ROOT/tests/e2e/bootstrap.sh" "$ROOT/scripts/container-image.sh"; do
    assert_ok bash -n "$f"
  done
  if command -v shellcheck >/dev/null; then
    assert_ok shellcheck -x "$BOOT" "$ROOT/tests/e2e/bootstrap.sh"
  else
    skip "shellcheck is not installed"
  fi
  if command -v systemd-analyze >/dev/null; then
    # verify insists that the binaries exist: the installed path, here the build.
    mkdir -p "$(dirname "$unit")"
    sed "s#/usr/local/bin/kuryr#$KURYR_BIN#g" "$ROOT/contrib/systemd/kuryr.service" > "$unit"
    assert_eq "" "$(systemd-analyze verify "$unit" 2>&1)" "systemd-analyze verify kuryr.service: no complaint"
    assert_contains "$(grep -E '^(Before|WantedBy)=' "$unit")" "Before=docker.service" "the unit starts before docker.service"
  else
    skip "systemd-analyze is not installed"
  fi
}

scenario_r() {
  section "r. refusals and secrets (--config-only)"
  local sec="e2e-$RANDOM-not-for-logs" sum
  boot r-nopw KURYR_CONF_DIR="$WORK/r1" OS_ENDPOINT= OS_AUTH_TYPE= OS_AUTH_URL=http://127.0.0.1:5000/v3 OS_USERNAME=kuryr -- --config-only
  assert_eq 1 "$BOOT_RC" "password auth without OS_PASSWORD is refused"
  assert_contains "$BOOT_OUT" "needs [neutron] password" "it names the missing key"
  check "and writes no kuryr.conf" test ! -e "$WORK/r1/kuryr.conf"

  boot r-pw KURYR_CONF_DIR="$WORK/r2" OS_ENDPOINT= OS_AUTH_TYPE= OS_AUTH_URL=http://127.0.0.1:5000/v3 \
    OS_USERNAME=kuryr OS_PASSWORD="$sec" OS_PROJECT_NAME=service -- --config-only
  assert_eq 0 "$BOOT_RC" "password auth: kuryr.conf written"
  assert_not_contains "$BOOT_OUT" "$sec" "the password is not printed"
  assert_eq 600 "$(stat -c %a "$WORK/r2/kuryr.conf")" "kuryr.conf is mode 0600"
  assert_eq 1 "$(grep -c "^password = $sec\$" "$WORK/r2/kuryr.conf")" "the password is in [neutron]"
  sum="$(sha256sum < "$WORK/r2/kuryr.conf")"
  boot r-bad KURYR_CONF_DIR="$WORK/r2" OS_ENDPOINT= OS_AUTH_TYPE= OS_AUTH_URL=http://127.0.0.1:5000/v3 \
    OS_USERNAME=kuryr OS_PASSWORD="$sec-2" OS_PROJECT_NAME=service KURYR_CAPABILITY_SCOPE=planet -- --config-only
  assert_eq 1 "$BOOT_RC" "capability_scope=planet: refused by kuryr check-config"
  assert_contains "$BOOT_OUT" 'capability_scope = "planet"' "check-config's reason is shown"
  assert_not_contains "$BOOT_OUT" "$sec" "the password is not printed on failure either"
  assert_eq "$sum" "$(sha256sum < "$WORK/r2/kuryr.conf")" "the previous kuryr.conf is left as it was"
  boot r-none OS_ENDPOINT= OS_AUTH_TYPE= KURYR_CONF_DIR="$WORK/r3" -- --config-only
  assert_eq 1 "$BOOT_RC" "no OS_CLOUD, OS_AUTH_URL or OS_ENDPOINT: refused"

  cat > "$WORK/clouds.yaml" <<EOF
clouds:
  magnum-node:
    auth:
      auth_url: http://127.0.0.1:5000/v3
      application_credential_id: 0123abcd
      application_credential_secret: $sec
    auth_type: v3applicationcredential
    region_name: RegionOne
    interface: internal
EOF
  boot r-cloud KURYR_CONF_DIR="$WORK/r4" OS_ENDPOINT= OS_AUTH_TYPE= OS_CLOUD=magnum-node \
    OS_CLIENT_CONFIG_FILE="$WORK/clouds.yaml" -- --config-only
  assert_eq 0 "$BOOT_RC" "OS_CLOUD: kuryr.conf written from the clouds.yaml entry"
  assert_not_contains "$BOOT_OUT" "$sec" "the application credential secret is not printed"
  assert_eq "v3applicationcredential internal RegionOne" \
    "$(awk -F' = ' '$1=="auth_type"||$1=="endpoint_type"||$1=="region_name" {print $2}' "$WORK/r4/kuryr.conf" | paste -sd' ')" \
    "auth_type, interface (endpoint_type) and region_name copied"
  boot r-cloud2 KURYR_CONF_DIR="$WORK/r4" OS_ENDPOINT= OS_AUTH_TYPE= OS_CLOUD=magnum-node \
    OS_CLIENT_CONFIG_FILE="$WORK/clouds.yaml" -- --config-only
  assert_contains "$BOOT_OUT" "done: nothing changed" "OS_CLOUD, second run: nothing changed"
}

# ------------------------------------------------------------- a. Keystone --
keystone_rig_answers() {
  curl -s --max-time 3 "$KEYSTONE_URL" 2>/dev/null | grep -q '"id": *"v3' &&
    [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$KEYSTONE_NEUTRON_URL/v2.0/networks")" = 401 ]
}
log_size() { stat -c %s "$1" 2>/dev/null || echo 0; }
# since FILE OFFSET: what FILE got after OFFSET bytes
since() { tail -c "+$(($2 + 1))" "$1" 2>/dev/null; }
# ks_requests OFFSET: the keystone-auth Neutron's accepted requests since OFFSET, as
# "METHOD /path" (uWSGI logs "METHOD /path => generated ... (HTTP/1.1 NNN)")
ks_requests() {
  since "$KEYSTONE_NEUTRON_LOG" "$1" | sed -n 's#.*\] \([A-Z]*\) \(/v2.0/[a-z_]*\).*(HTTP/1.1 2[0-9][0-9]).*#\1 \2#p'
}

# ks_project DOMAIN PASSWORD: the id of project `service` of DOMAIN, as Keystone
# scopes a token of that domain's user kuryr to it
ks_project() {
  jq -n --arg d "$1" --arg pw "$2" '{auth: {identity: {methods: ["password"], password: {user:
      {name: "kuryr", domain: {name: $d}, password: $pw}}}, scope: {project: {name: "service",
      domain: {name: $d}}}}}' |
    curl -s --max-time 20 -H 'Content-Type: application/json' -d @- "$KEYSTONE_URL/auth/tokens" |
    jq -r '.token.project.id // empty'
}
ks_deleted_port() { ks_requests "$1" | grep -q '^DELETE /v2.0/ports'; }

# ks_lifecycle PLUGIN NET CIDR CTR PROJECT: a network and a container on PLUGIN,
# checked in the noauth Neutron (objects of PROJECT) and in the keystone-auth
# Neutron's log, then removed and settled.
ks_lifecycle() {
  local plugin="$1" net="$2" cidr="$3" ctr="$4" project="$5" off reqs addr port name
  off="$(log_size "$KEYSTONE_NEUTRON_LOG")"
  assert_ok d network create -d "$plugin" --ipam-driver "$plugin" --label "$LABEL" --subnet "$cidr" "$net" || return 1
  name="kuryr-net-$(d network inspect -f '{{.Id}}' "$net" | cut -c1-8)"
  NETS+=("$name")
  assert_eq 1 "$(nget "subnets?cidr=$cidr" | jq '.subnets | length')" "Neutron has the subnet $cidr"
  assert_eq "1 $project" "$(nget "networks?name=$name" | jq -r '"\(.networks | length) \(.networks[0].project_id)"')" \
    "Neutron has the network $name, of the Keystone project the credentials name"
  assert_ok d run -d --name "$ctr" --label "$LABEL" --network "$net" "$IMG" sleep 600
  addr="$(ip_of "$ctr" "$net")"
  assert_in4 "$addr" "$cidr"
  port="$(nget "ports?mac_address=$(mac_of "$ctr" "$net")" | jq -c '.ports[0] | [.fixed_ips[0].ip_address, .["binding:host_id"], .device_owner, .status, .project_id]')"
  assert_eq "[\"$addr\",\"$(hostname)\",\"compute:kuryr\",\"ACTIVE\",\"$project\"]" "$port" \
    "$ctr: its Neutron port has its address, is bound to this host, ACTIVE, of that project"
  reqs="$(ks_requests "$off" | sort | uniq -c | awk '{print $2 " " $3 " x" $1}' | paste -sd, -)"
  assert_contains "$reqs" "POST /v2.0/networks" "through the keystone-auth Neutron: POST /v2.0/networks"
  assert_contains "$reqs" "POST /v2.0/subnets" "through the keystone-auth Neutron: POST /v2.0/subnets"
  assert_contains "$reqs" "POST /v2.0/ports" "through the keystone-auth Neutron: POST /v2.0/ports ($reqs)"
  assert_ok d rm -f "$ctr"
  assert_ok d network rm "$net"
  assert_eq '{"Pending":0,"Errors":[]}' "$(settle "$(plugin_sock "$plugin")")" "$plugin settles its Neutron deletes"
  check "the deletes went through the keystone-auth Neutron too" wait_for 5 ks_deleted_port "$off"
  assert_eq "0 0 0 0" "$(neutron_leftovers "${cidr%.0/24}." "$name")" \
    "Neutron: no port, subnet, pool or network of $cidr left"
}

# no_secret WHAT FILE...: no password of section a and no Keystone token (fernet
# tokens start gAAAAA) in FILE... (directories searched whole)
no_secret() {
  local what="$1" hits; shift
  hits="$(grep -rlF -e "$KS_PW" -e "$KS_PW_RIG" -e "$KS_PW_BAD" -e gAAAAA "$@" 2>/dev/null || true)"
  assert_eq "" "$hits" "no password or token in $what"
}

scenario_a() {
  section "a. Keystone: the bootstrap's kuryr.conf and the managed plugin's env credentials against the keystone-auth Neutron"
  if [ "${KURYR_SKIP_KEYSTONE:-0}" = 1 ] && [ "${E2E_REQUIRE_KEYSTONE:-0}" != 1 ]; then
    skip "section a: KURYR_SKIP_KEYSTONE=1"; return 0
  fi
  if ! keystone_rig_answers; then
    if [ "${E2E_REQUIRE_KEYSTONE:-0}" = 1 ]; then
      fail "E2E_REQUIRE_KEYSTONE=1 but no Keystone at $KEYSTONE_URL with a keystone-auth Neutron at $KEYSTONE_NEUTRON_URL (scripts/keystone-up.sh, scripts/neutron-keystone-up.sh)"
    else
      skip "section a: no Keystone at $KEYSTONE_URL with a keystone-auth Neutron at $KEYSTONE_NEUTRON_URL (scripts/keystone-up.sh, then scripts/neutron-keystone-up.sh)"
    fi
    return 0
  fi
  check "the keystone-auth Neutron's log is readable ($KEYSTONE_NEUTRON_LOG)" test -r "$KEYSTONE_NEUTRON_LOG" || return 1
  local dlog_off id project out conf="$WORK/etc-a" dir="$WORK/plugin-e"
  dlog_off="$(log_size "$DOCKERD_LOG")"
  # The catalog's live choice for RegionOne internal; no OS_ENDPOINT: the plugin
  # must find Neutron in the catalog. No --with-ovs: section b does OVS.
  local aenv=(KURYR_CONF_DIR="$conf" KURYR_STATE_DIR="$WORK/state-a" KURYR_PLUGIN="$PLUGIN_KS"
    OS_ENDPOINT= OS_AUTH_TYPE= OS_AUTH_URL="$KEYSTONE_URL" OS_USERNAME=kuryr OS_PASSWORD="$KS_PW"
    OS_PROJECT_NAME=service OS_USER_DOMAIN_NAME=Default OS_PROJECT_DOMAIN_NAME=Default
    OS_REGION_NAME=RegionOne OS_INTERFACE=internal KURYR_LOG_LEVEL=debug)

  boot a1 "${aenv[@]}" --
  assert_eq 0 "$BOOT_RC" "bootstrap with OS_AUTH_URL and a password: first run succeeds (${BOOT_MS} ms)"
  assert_contains "$BOOT_OUT" "kuryr.conf: created" "first run: kuryr.conf created"
  assert_contains "$BOOT_OUT" "plugin $PLUGIN_KS: enabled" "first run: plugin created and enabled"
  [ "$BOOT_RC" = 0 ] || { log "$BOOT_OUT"; return 1; }
  assert_eq "auth_type=password auth_url=$KEYSTONE_URL endpoint_type=internal region_name=RegionOne username=kuryr" \
    "$(awk -F' = ' '$1~/^(auth_type|auth_url|endpoint|endpoint_type|region_name|username)$/ {print $1 "=" $2}' "$conf/kuryr.conf" | sort | paste -sd' ')" \
    "kuryr.conf: Keystone password auth, RegionOne internal, no endpoint"
  boot a2 "${aenv[@]}" --
  assert_eq 0 "$BOOT_RC" "second run succeeds (${BOOT_MS} ms)"
  assert_contains "$BOOT_OUT" "done: nothing changed" "second run: nothing changed"
  assert_eq true "$(d plugin inspect -f '{{.Enabled}}' "$PLUGIN_KS")" "$PLUGIN_KS is enabled"
  assert_eq "[]" "$(d plugin inspect -f '{{json .Settings.Env}}' "$PLUGIN_KS" | jq -c '[.[] | select(startswith("OS_") and (endswith("=") | not))]')" \
    "its credentials come from kuryr.conf alone (no OS_* plugin setting)"
  project="$(ks_project Default "$KS_PW")"
  check "Keystone scopes Default's kuryr to project service (${project:-none})" test -n "$project"
  ks_lifecycle "$PLUGIN_KS" kboot-anet "$CIDR_A" kboot-a1 "$project"
  id="$(plugin_id "$PLUGIN_KS")"
  assert_ok d plugin disable "$PLUGIN_KS"
  assert_ok d plugin rm "$PLUGIN_KS"

  # The managed plugin with no kuryr.conf: an empty config mount, credentials
  # only as plugin settings. The other `kuryr` (domain kuryr-rig) and the live
  # choice for RegionTwo admin: a dropped domain, region or interface fails.
  mkdir -p "$WORK/etc-e" "$WORK/state-e" "$OVSD"
  check "scripts/managed-plugin.sh builds the plugin" \
    bash -c "KURYR_BIN='$KURYR_BIN' bash '$ROOT/scripts/managed-plugin.sh' '$dir' >/dev/null 2>&1"
  assert_ok d plugin create "$PLUGIN_KE" "$dir" || return 1
  assert_ok d plugin set "$PLUGIN_KE" "config.source=$WORK/etc-e" "state.source=$WORK/state-e" "openvswitch.source=$OVSD"
  # First a wrong password (an error path is where a secret slips into a message),
  # then the right one. check, not assert_ok: no password in this suite's output.
  check "docker plugin set $PLUGIN_KE OS_AUTH_URL=$KEYSTONE_URL OS_USERNAME=kuryr OS_PASSWORD=(wrong) OS_PROJECT_NAME=service OS_USER_DOMAIN_NAME=kuryr-rig OS_PROJECT_DOMAIN_NAME=kuryr-rig OS_REGION_NAME=RegionTwo OS_INTERFACE=admin LOG_LEVEL=debug" \
    d plugin set "$PLUGIN_KE" "OS_AUTH_URL=$KEYSTONE_URL" OS_USERNAME=kuryr "OS_PASSWORD=$KS_PW_BAD" \
    OS_PROJECT_NAME=service OS_USER_DOMAIN_NAME=kuryr-rig OS_PROJECT_DOMAIN_NAME=kuryr-rig \
    OS_REGION_NAME=RegionTwo OS_INTERFACE=admin LOG_LEVEL=debug
  assert_ok d plugin enable "$PLUGIN_KE" || return 1
  out="$(d network create -d "$PLUGIN_KE" --ipam-driver "$PLUGIN_KE" --label "$LABEL" --subnet "$CIDR_E" kboot-enet 2>&1 || true)"
  assert_contains "$out" "auth/tokens: HTTP 401" "a wrong password: network create fails with Keystone's 401"
  assert_not_contains "$out" "$KS_PW_BAD" "the password is not in the error"
  d network rm kboot-enet >/dev/null 2>&1 || true
  assert_ok d plugin disable "$PLUGIN_KE"
  check "docker plugin set $PLUGIN_KE OS_PASSWORD=(right)" d plugin set "$PLUGIN_KE" "OS_PASSWORD=$KS_PW_RIG"
  assert_ok d plugin enable "$PLUGIN_KE" || return 1
  assert_eq "" "$(ls -A "$WORK/etc-e")" "its config mount is empty (no kuryr.conf)"
  project="$(ks_project kuryr-rig "$KS_PW_RIG")"
  check "Keystone scopes kuryr-rig's kuryr to its project service (${project:-none})" test -n "$project"
  ks_lifecycle "$PLUGIN_KE" kboot-enet "$CIDR_E" kboot-e1 "$project"
  assert_ok d plugin disable "$PLUGIN_KE"
  # This section's part of dockerd's log, where a managed plugin's output goes.
  since "$DOCKERD_LOG" "$dlog_off" > "$WORK/dockerd-a.log"
  check "dockerd's log ($DOCKERD_LOG) holds $PLUGIN_KS's debug lines" grep -q "plugin=$id" "$WORK/dockerd-a.log"
  assert_contains "$(grep "plugin=$id" "$WORK/dockerd-a.log" | grep -m1 'starting')" 'config=/etc/kuryr/kuryr.conf backend=\"neutron\"' \
    "$PLUGIN_KS started from the bootstrap's kuryr.conf, on Neutron"
  id="$(plugin_id "$PLUGIN_KE")"
  assert_contains "$(grep "plugin=$id" "$WORK/dockerd-a.log" | grep -m1 'starting')" 'starting without a kuryr.conf: built-in defaults and the environment backend=\"neutron\"' \
    "$PLUGIN_KE started without kuryr.conf, on Neutron from its env settings"
  assert_ok d plugin rm "$PLUGIN_KE"
  no_secret "dockerd's log (the plugins' stdout and stderr, debug level)" "$WORK/dockerd-a.log"
  no_secret "the bootstrap's output" "$WORK/a1.out" "$WORK/a2.out"
  no_secret "the plugins' state" "$WORK/state-a" "$WORK/state-e"
}

scenario_b() {
  section "b. bootstrap twice: managed plugin and userspace OVS"
  local sum ino id id2 pids pids2 sock out
  boot b1 -- --with-ovs
  assert_eq 0 "$BOOT_RC" "first run succeeds (${BOOT_MS} ms)"
  B1_MS=$BOOT_MS
  assert_contains "$BOOT_OUT" "kuryr.conf: created" "first run: kuryr.conf created"
  assert_contains "$BOOT_OUT" "plugin $PLUGIN: enabled" "first run: plugin created and enabled"
  assert_contains "$BOOT_OUT" "ovs-vswitchd: started" "first run: userspace OVS started"
  [ "$BOOT_RC" = 0 ] || { log "$BOOT_OUT"; return 1; }
  assert_eq 600 "$(stat -c %a "$CONF/kuryr.conf")" "kuryr.conf is mode 0600"
  assert_contains "$(cat "$CONF/kuryr.conf")" "binding_host = $(hostname)" "binding_host defaults to the hostname"
  assert_eq netdev "$(vsctl get bridge "$BR" datapath_type)" "$BR has datapath_type=netdev"
  assert_eq true "$(d plugin inspect -f '{{.Enabled}}' "$PLUGIN")" "the plugin is enabled"
  sum="$(sha256sum < "$CONF/kuryr.conf")"; ino="$(stat -c %i:%Y "$CONF/kuryr.conf")"
  id="$(plugin_id)"; pids="$(cat "$OVSD/ovsdb-server.pid" "$OVSD/ovs-vswitchd.pid" | paste -sd' ')"
  OVS_PIDS="$pids"

  boot b2 -- --with-ovs
  assert_eq 0 "$BOOT_RC" "second run succeeds (${BOOT_MS} ms)"
  B2_MS=$BOOT_MS
  assert_contains "$BOOT_OUT" "done: nothing changed" "second run: nothing changed"
  assert_contains "$BOOT_OUT" "kuryr.conf: unchanged" "second run: kuryr.conf unchanged"
  assert_eq "$sum" "$(sha256sum < "$CONF/kuryr.conf")" "kuryr.conf checksum unchanged"
  assert_eq "$ino" "$(stat -c %i:%Y "$CONF/kuryr.conf")" "kuryr.conf not rewritten (inode and mtime)"
  id2="$(plugin_id)"
  assert_eq "$id" "$id2" "plugin id unchanged (${id:0:12})"
  pids2="$(cat "$OVSD/ovsdb-server.pid" "$OVSD/ovs-vswitchd.pid" | paste -sd' ')"
  assert_eq "$pids" "$pids2" "OVS daemons not restarted"

  # A node image that ships the plugin prebuilt (KURYR_PLUGIN_DIR) with the same
  # binary: the same build, so nothing to do either.
  check "a prebuilt plugin directory (scripts/managed-plugin.sh)" \
    bash -c "KURYR_BIN='$KURYR_BIN' bash '$ROOT/scripts/managed-plugin.sh' '$WORK/prebuilt' >/dev/null 2>&1"
  boot b3 KURYR_PLUGIN_DIR="$WORK/prebuilt" KURYR_BIN= -- --with-ovs
  assert_contains "$BOOT_OUT" "done: nothing changed" "KURYR_PLUGIN_DIR with the same binary: nothing changed"
  assert_eq "$id" "$(plugin_id)" "plugin id still unchanged"

  sock="$(plugin_sock)"
  out="$(curl -s --max-time 5 --unix-socket "$sock" -X POST http://localhost/NetworkDriver.GetCapabilities || true)"
  assert_contains "$out" '"Scope":"local"' "the plugin answers on $sock"
}

# tap_of CONTAINER NETWORK: the host end kuryr made for the container's Neutron port
tap_of() {
  local id
  id="$(nget "ports?mac_address=$(mac_of "$1" "$2")" | jq -r '.ports[0].id // empty')"
  [ -n "$id" ] && echo "tap${id:0:11}"
}

scenario_n() {
  section "n. a network, two containers with Neutron addresses that ping"
  local a1 a2 port c
  assert_ok d network create -d "$PLUGIN" --ipam-driver "$PLUGIN" --label "$LABEL" \
    --subnet "$CIDR" --gateway 10.143.0.1 kboot-net || return 1
  NETS+=("kuryr-net-$(d network inspect -f '{{.Id}}' kboot-net | cut -c1-8)")
  assert_eq 1 "$(nget "subnets?cidr=$CIDR" | jq '.subnets | length')" "Neutron has the subnet $CIDR"
  assert_eq 1 "$(nget "subnetpools?name=kuryrPool-$CIDR" | jq '.subnetpools | length')" "Neutron has the pool kuryrPool-$CIDR"
  assert_ok d run -d --name kboot-1 --label "$LABEL" --network kboot-net "$IMG" sleep 600
  assert_ok d run -d --name kboot-2 --label "$LABEL" --network kboot-net "$IMG" sleep 600
  a1="$(ip_of kboot-1 kboot-net)"; a2="$(ip_of kboot-2 kboot-net)"
  assert_in4 "$a1" "$CIDR"
  assert_in4 "$a2" "$CIDR"
  for c in kboot-1 kboot-2; do
    port="$(nget "ports?mac_address=$(mac_of "$c" kboot-net)" | jq -c '.ports[0] | [.fixed_ips[0].ip_address, .["binding:host_id"], .device_owner, .status]')"
    assert_eq "[\"$(ip_of "$c" kboot-net)\",\"$(hostname)\",\"compute:kuryr\",\"ACTIVE\"]" "$port" \
      "$c: its Neutron port has its address and MAC, is bound to this host and ACTIVE"
  done
  # Neutron's L2 agent would wire the taps; the test Neutron (loopback_tap) binds
  # vif_type tap, which kuryr leaves unbridged, so the suite puts them on $BR.
  for c in kboot-1 kboot-2; do
    check "$c's tap goes on $BR" vsctl add-port "$BR" "$(tap_of "$c" kboot-net)"
  done
  check "kboot-1 pings kboot-2 ($a2)" wait_for 10 pings kboot-1 "$a2"
  check "kboot-2 pings kboot-1 ($a1)" pings kboot-2 "$a1"
}

scenario_c() {
  section "c. changed settings: the plugin restarts, with --force while in use"
  local id sum
  id="$(plugin_id)"
  boot c1 KURYR_LOG_LEVEL=debug -- --with-ovs
  assert_eq 1 "$BOOT_RC" "log_level changed while a network uses the plugin: refused without --force"
  assert_contains "$BOOT_OUT" "rewritten (changed: [DEFAULT] log_level)" "it names the changed key"
  assert_contains "$BOOT_OUT" "rerun with --force" "it says how to go on"
  assert_eq true "$(d plugin inspect -f '{{.Enabled}}' "$PLUGIN")" "the plugin is still enabled"
  check "kboot-1 still pings kboot-2" pings kboot-1 "$(ip_of kboot-2 kboot-net)"
  boot c2 KURYR_LOG_LEVEL=debug -- --with-ovs --force
  assert_eq 0 "$BOOT_RC" "with --force it restarts the plugin"
  assert_contains "$BOOT_OUT" "restarting (kuryr.conf is not the one it started with)" "and says why"
  assert_eq "$id" "$(plugin_id)" "same plugin (id ${id:0:12})"
  check "after the restart kboot-1 pings kboot-2" pings kboot-1 "$(ip_of kboot-2 kboot-net)"
  assert_ok d run -d --name kboot-3 --label "$LABEL" --network kboot-net "$IMG" sleep 600
  assert_in4 "$(ip_of kboot-3 kboot-net)" "$CIDR"
  sum="$(sha256sum < "$CONF/kuryr.conf")"
  boot c3 KURYR_LOG_LEVEL=debug -- --with-ovs
  assert_contains "$BOOT_OUT" "done: nothing changed" "the same settings again: nothing changed"
  assert_eq "$sum" "$(sha256sum < "$CONF/kuryr.conf")" "kuryr.conf checksum unchanged"
}

scenario_k() {
  section "k. --container: the kuryr image serving /run/docker/plugins/kuryr-boot.sock"
  local cid kenv=(KURYR_CONF_DIR="$WORK/etc-k" KURYR_STATE_DIR="$WORK/state-k" KURYR_IMAGE="$IMAGE"
    KURYR_CONTAINER="$CTR" KURYR_SOCKET_NAME=kuryr-boot)
  boot k1 "${kenv[@]}" -- --container
  assert_eq 0 "$BOOT_RC" "first run succeeds (${BOOT_MS} ms)"
  assert_contains "$BOOT_OUT" "image $IMAGE: built" "the image is built"
  assert_contains "$BOOT_OUT" "container $CTR: started" "the container is started"
  [ "$BOOT_RC" = 0 ] || { log "$BOOT_OUT"; return 1; }
  cid="$(d inspect -f '{{.Id}}' "$CTR")"
  boot k2 "${kenv[@]}" -- --container
  assert_contains "$BOOT_OUT" "done: nothing changed" "second run: nothing changed (${BOOT_MS} ms)"
  assert_eq "$cid" "$(d inspect -f '{{.Id}}' "$CTR")" "the same container (${cid:0:12})"
  assert_eq "true always host" "$(d inspect -f '{{.State.Running}} {{.HostConfig.RestartPolicy.Name}} {{.HostConfig.NetworkMode}}' "$CTR")" \
    "running, --restart=always, --net=host"
  assert_ok d network create -d kuryr-boot --ipam-driver kuryr-boot --label "$LABEL" --subnet "$CIDR_K" kboot-knet || return 1
  NETS+=("kuryr-net-$(d network inspect -f '{{.Id}}' kboot-knet | cut -c1-8)")
  assert_ok d run -d --name kboot-k1 --label "$LABEL" --network kboot-knet "$IMG" sleep 600
  assert_in4 "$(ip_of kboot-k1 kboot-knet)" "$CIDR_K"
  assert_eq "$(ip_of kboot-k1 kboot-knet)" \
    "$(nget "ports?mac_address=$(mac_of kboot-k1 kboot-knet)" | jq -r '.ports[0].fixed_ips[0].ip_address')" \
    "kboot-k1's address is its Neutron port's"
  d rm -f kboot-k1 >/dev/null; d network rm kboot-knet >/dev/null
  assert_eq '{"Pending":0,"Errors":[]}' "$(settle /run/docker/plugins/kuryr-boot.sock)" "the container's plugin settles its Neutron deletes"
  assert_ok d rm -f "$CTR"
}

# The unit's sandbox, without systemd (not PID 1 here): a mount namespace where every
# mount is read-only except the unit's writable paths (StateDirectory, RuntimeDirectory,
# ReadWritePaths, PrivateTmp: here the work dir), and setpriv for
# CapabilityBoundingSet and NoNewPrivileges. Not covered: the seccomp and
# address-family filters, which only systemd applies.
start_like_unit() {
  local caps
  caps="$(sed -n 's/^CapabilityBoundingSet=//p' "$ROOT/contrib/systemd/kuryr.service" |
    tr '[:upper:]' '[:lower:]' | sed 's/cap_/+/g; s/ /,/g')"
  # shellcheck disable=SC2016  # expanded by the inner bash
  unshare -m --propagation private bash -c '
    findmnt -rno TARGET | grep -vE "^/(proc|sys|dev)(/|$)" | while read -r m; do
      mount -o remount,bind,ro "$m" 2>/dev/null || true
    done
    for w in "$1" /run/docker/plugins; do mount --bind "$w" "$w"; mount -o remount,bind,rw "$w"; done
    shift
    exec "$@"' sh "$WORK" \
    setpriv --bounding-set="-all,$caps" --inh-caps=-all --no-new-privs -- \
    "$KURYR_BIN" serve --config-file "$WORK/etc-u/kuryr.conf" > "$WORK/unit.log" 2>&1 &
  HOST_PID=$!
}

scenario_u() {
  section "u. the host process as contrib/systemd/kuryr.service runs it"
  local sock=/run/docker/plugins/kuryr-bootsd.sock a
  boot u1 KURYR_CONF_DIR="$WORK/etc-u" KURYR_STATE_DIR="$WORK/state-u" KURYR_SOCKET_NAME=kuryr-bootsd \
    KURYR_LOCK_FILE="$WORK/run-u/kuryr.lock" -- --config-only
  assert_eq 0 "$BOOT_RC" "--config-only writes the host process's kuryr.conf"
  start_like_unit
  check "kuryr serves $sock with CAP_NET_ADMIN and CAP_CHOWN only, on a read-only system" \
    wait_for 20 test -S "$sock"
  assert_eq 0 "$(grep -ciE 'permission|read-only|denied' "$WORK/unit.log" || true)" "no permission error in its log"
  assert_ok d network create -d kuryr-bootsd --ipam-driver kuryr-bootsd --label "$LABEL" --subnet "$CIDR_U" kboot-unet || return 1
  NETS+=("kuryr-net-$(d network inspect -f '{{.Id}}' kboot-unet | cut -c1-8)")
  assert_ok d run -d --name kboot-u1 --label "$LABEL" --network kboot-unet "$IMG" sleep 600
  a="$(ip_of kboot-u1 kboot-unet)"
  assert_in4 "$a" "$CIDR_U"
  check "it made the host end of the container's veth" bash -c "ip link show '$(tap_of kboot-u1 kboot-unet)' >/dev/null"
  d rm -f kboot-u1 >/dev/null; d network rm kboot-unet >/dev/null
  assert_eq '{"Pending":0,"Errors":[]}' "$(settle "$sock")" "it settles its Neutron deletes"
  kill "$HOST_PID"; wait "$HOST_PID" 2>/dev/null || true; HOST_PID=""
  check "SIGTERM: it stops and removes its socket" test ! -e "$sock"
}

scenario_z() {
  section "z. teardown leaves nothing behind"
  remove_objects
  assert_eq '{"Pending":0,"Errors":[]}' "$(settle "$(plugin_sock)")" "the plugin settles its Neutron deletes"
  assert_ok d plugin disable "$PLUGIN"
  assert_ok d plugin rm "$PLUGIN"
  assert_eq "0 0 0 0" "$(neutron_leftovers)" \
    "Neutron: no port, subnet, pool or network of $PREFIX* (ports subnets pools networks)"
  stop_ovs
  check "no $BR link left" bash -c "! ip link show $BR >/dev/null 2>&1"
  local pid
  for pid in $OVS_PIDS; do check "the suite's OVS daemon $pid has stopped" gone "$pid"; done
  assert_eq "" "$(d ps -aq --filter "label=$LABEL")$(d network ls -q --filter "label=$LABEL")" "no container or network of the suite"
}

main() {
  [ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 2; }
  [ -x "$KURYR_BIN" ] || { echo "build first: cargo build --release (or set KURYR_BIN)" >&2; exit 2; }
  local t; for t in curl jq ovs-vsctl setpriv unshare findmnt; do
    command -v "$t" >/dev/null || { echo "$t is required" >&2; exit 2; }
  done
  # A signal exits non-zero (in a trap on INT or TERM, $? is the last command's
  # status, often 0): cleanup then runs once, from EXIT, and keeps the work dir.
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  up_unless_answering
  # leftovers of an aborted run: only this suite's names and CIDRs
  remove_objects
  neutron_purge_prefix "$PREFIX"
  d rm -f "$CTR" >/dev/null 2>&1 || true
  d plugin rm -f "$PLUGIN" "$PLUGIN_KS" "$PLUGIN_KE" >/dev/null 2>&1 || true
  DOCKER="$DOCKER" "$ROOT/scripts/busybox-image.sh"
  local t0=$SECONDS
  # `||`: a failing command inside a case does not abort the suite
  scenario_s || true
  scenario_r || true
  # before b: its plugins are built from the same rootfs as b's, and must be gone
  # before b creates that one (docker plugin create stores content by digest)
  local ta=$SECONDS
  scenario_a || true
  A_S=$((SECONDS - ta))
  { scenario_b && scenario_n && scenario_c; } || true
  scenario_k || true
  scenario_u || true
  scenario_z || true
  echo
  echo "bootstrap: first run ${B1_MS:-?} ms, second run ${B2_MS:-?} ms; Keystone section $A_S s; suite $((SECONDS - t0)) s"
  summary BOOTSTRAP
}

B1_MS="" B2_MS="" OVS_PIDS="" A_S=0
main "$@"
