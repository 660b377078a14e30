#!/usr/bin/env bash
# Port pools ([vif_pool]) end to end: a REAL dockerd, the REAL Neutron of
# scripts/neutron-up.sh (with the tag_ports_during_bulk_creation ML2 extension
# driver) and our plugin with
#   [vif_pool] enabled = True, ports_pool_min = 3, ports_pool_batch = 4
# Checks, as Neutron and Docker show them:
#  a. docker network create: Neutron holds a batch of 4 bound pool ports
#     (kuryr-pool-port, tagged kuryr.port.pool, not compute:kuryr) on the network;
#  b. three docker runs: each container's address and MAC are those of a pool port
#     made before it ran; that port now carries the endpoint's tags and no pool
#     tag; eth0 has the port's MAC; the pool is refilled to at least 3 ready ports;
#  c. docker run --ip and --mac-address: the address and the user's MAC land on a
#     former pool port, still bound here, and on eth0;
#  d. the plugin restarted: the next container gets a port of the pool as it was
#     before the restart, never one a container holds;
#  z. docker rm and network rm: Neutron holds no port, subnet, pool or network of
#     the suite's CIDR, and no t_c link is left on the host.
#
#   tests/e2e/docker-pools.sh     (as root; needs cargo build --release)
#
# Starts a private dockerd (scripts/dockerd-up.sh) and Neutron unless they answer,
# and stops them at the end only then. Names: driver kuryr-pools, network
# kuryr-e2e-pools, CIDR 10.146.1.0/24, label kuryr-e2e-pools.
# Prints "POOLS PASS (n checks)" or a FAIL line.
# Env: KURYR_BIN [target/release/kuryr] DOCKER [/usr/bin/docker]
#      NEUTRON_URL [http://127.0.0.1:9696] E2E_CMD_TIMEOUT [120] E2E_KEEP_LOGS=1
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$ROOT/tests/e2e/lib.sh"

DOCKER="${DOCKER:-/usr/bin/docker}"
KURYR_BIN="${KURYR_BIN:-$ROOT/target/release/kuryr}"
NEUTRON_URL="${NEUTRON_URL:-http://127.0.0.1:9696}"
DRIVER=kuryr-pools
SOCK=/run/docker/plugins/$DRIVER.sock
NET=kuryr-e2e-pools
LABEL=kuryr-e2e-pools
CIDR=10.146.1.0/24 PREFIX=10.146.
IMG=kuryr-busybox:latest
WORK="$(mktemp -d /tmp/kuryr-pools.XXXXXX)"
STARTED_DOCKERD=0 STARTED_NEUTRON=0 KURYR_PID="" NEUTRON_NET=""
export DOCKER_HOST="unix://${DOCKERD_SOCK:-/run/docker-test.sock}"

log() { echo "pools: $*" >&2; }
d() { timeout "${E2E_CMD_TIMEOUT:-120}" "$DOCKER" "$@"; }
nget() { curl -s --max-time 30 "$NEUTRON_URL/v2.0/$1"; }
ip_of() { d inspect -f "{{(index .NetworkSettings.Networks \"$NET\").IPAddress}}" "$1"; }
mac_of() { d inspect -f "{{(index .NetworkSettings.Networks \"$NET\").MacAddress}}" "$1"; }
eth0_mac() { d exec "$1" cat /sys/class/net/eth0/address; }
settle() { curl -s --max-time 40 --unix-socket "$SOCK" -X POST -d '{"Timeout": 30}' http://localhost/Kuryr.Settle; }
tc_links() { ip -o link show | awk -F': ' '{sub(/@.*/, "", $2); print $2}' | grep -c '^t_c' || true; }
ports_of_cidr() { nget ports | jq --arg p "$PREFIX" '[.ports[] | select(any(.fixed_ips[]?; .ip_address | startswith($p)))] | length'; }
# "id ip mac" of the network's ports still in a pool, sorted
pool_ports() {
  nget "ports?network_id=$NEUTRON_NET&tags=kuryr.port.pool" |
    jq -r '.ports[] | "\(.id) \(.fixed_ips[0].ip_address) \(.mac_address)"' | sort
}
# the port holding address $1 on the network, as JSON
port_at() { nget "ports?network_id=$NEUTRON_NET&fixed_ips=ip_address%3D$1" | jq -c '.ports[0]'; }
# wait_for SECONDS CMD...: until CMD succeeds
wait_for() {
  local n=$(($1 * 5)); shift
  while [ "$n" -gt 0 ]; do "$@" && return 0; sleep 0.2; n=$((n - 1)); done
  return 1
}
ready_at_least() { [ "$(pool_ports | wc -l)" -ge "$1" ]; }
# the plugin holds at least $1 ready ports for the network (kuryr status): Neutron
# shows a refill's ports a moment before its answer reaches the plugin
plugin_ready() {
  local n
  n="$("$KURYR_BIN" status --json --config-file "$WORK/kuryr.conf" 2>/dev/null |
    jq --arg net "$NEUTRON_NET" '[.networks[] | select(.backing == $net) | .ready_ports // 0] | add // 0')"
  [ "${n:-0}" -ge "$1" ]
}

remove_objects() {
  local ids
  ids="$(d ps -aq --filter "label=$LABEL" 2>/dev/null || true)"
  # shellcheck disable=SC2086  # one id per word
  [ -z "$ids" ] || d rm -f $ids >/dev/null 2>&1 || true
  d network rm "$NET" >/dev/null 2>&1 || true
}

cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  remove_objects
  [ -S "$SOCK" ] && settle >/dev/null
  stop_kuryr
  neutron_purge_prefix "$PREFIX"
  if [ "$STARTED_NEUTRON" = 1 ]; then "$ROOT/scripts/neutron-down.sh" >/dev/null 2>&1; fi
  if [ "$STARTED_DOCKERD" = 1 ]; then "$ROOT/scripts/dockerd-down.sh" --purge; fi
  if [ "$rc" = 0 ] && [ "${E2E_KEEP_LOGS:-0}" != 1 ]; then rm -rf "$WORK"; else log "work dir kept: $WORK"; fi
  exit "$rc"
}

start_kuryr() {
  mkdir -p "$WORK/state" /run/docker/plugins
  cat > "$WORK/kuryr.conf" <<CONF
[DEFAULT]
kuryr_uri = unix://$SOCK
state_dir = $WORK/state
lock_file = $WORK/kuryr.lock
[neutron]
auth_type = none
endpoint = $NEUTRON_URL
enable_dhcp = False
[vif_pool]
enabled = True
ports_pool_min = 3
ports_pool_max = 8
ports_pool_batch = 4
ports_pool_update_frequency = 5
CONF
  "$KURYR_BIN" serve --config-file "$WORK/kuryr.conf" >> "$WORK/kuryr.log" 2>&1 &
  KURYR_PID=$!
  local _
  for _ in $(seq 100); do [ -S "$SOCK" ] && return 0; sleep 0.1; done
  log "kuryr did not start:"; cat "$WORK/kuryr.log" >&2; return 1
}

stop_kuryr() {
  if [ -n "$KURYR_PID" ]; then kill "$KURYR_PID" 2>/dev/null; wait "$KURYR_PID" 2>/dev/null; fi
  KURYR_PID=""
  rm -f "$SOCK"
}

# check_from_pool CONTAINER BEFORE: its address and MAC are those of a pool port
# listed in BEFORE ("id ip mac" lines), which is now its endpoint's port.
check_from_pool() {
  local c="$1" before="$2" ip mac line id port
  ip="$(ip_of "$c")"; mac="$(mac_of "$c")"
  line="$(awk -v ip="$ip" '$2 == ip' <<< "$before")"
  assert_eq "$ip $mac" "$(awk '{print $2, $3}' <<< "$line")" "$c: address and MAC of a port made before it ran"
  id="$(awk '{print $1}' <<< "$line")"
  port="$(port_at "$ip")"
  assert_eq "$id" "$(jq -r .id <<< "$port")" "$c: that very port is its endpoint's"
  assert_eq "true false" "$(jq -r '[(.tags | index("compute:kuryr") != null), (.tags | index("kuryr.port.pool") != null)] | join(" ")' <<< "$port")" \
    "$c: its port is tagged compute:kuryr and out of the pool"
  assert_eq "$mac" "$(eth0_mac "$c")" "$c: eth0 has the port's MAC"
}

scenario_a() {
  section "a. network create makes a batch of bound pool ports"
  assert_ok d network create -d "$DRIVER" --ipam-driver "$DRIVER" --label "$LABEL" \
    --subnet "$CIDR" "$NET" || return 1
  NEUTRON_NET="$(nget "subnets?cidr=$CIDR" | jq -r '.subnets[0].network_id')"
  check "Neutron shows 4 pool ports on the network" wait_for 30 ready_at_least 4
  check "kuryr status shows them ready" wait_for 30 plugin_ready 4
  local ports
  ports="$(nget "ports?network_id=$NEUTRON_NET&tags=kuryr.port.pool")"
  assert_eq "4" "$(jq '.ports | length' <<< "$ports")" "one batch of 4"
  assert_eq "kuryr-pool-port compute:kuryr $(hostname) false" \
    "$(jq -r '[.ports[] | "\(.name) \(.device_owner) \(.["binding:host_id"]) \(.tags | index("compute:kuryr") != null)"] | unique | join(",")' <<< "$ports")" \
    "named kuryr-pool-port, owned compute:kuryr, bound here, not tagged compute:kuryr"
}

scenario_b() {
  section "b. docker run takes pool ports, and the pool refills"
  local before c
  before="$(pool_ports)"
  for c in kp-1 kp-2 kp-3; do
    assert_ok d run -d --name "$c" --label "$LABEL" --network "$NET" "$IMG" sleep 600
  done
  for c in kp-1 kp-2 kp-3; do check_from_pool "$c" "$before"; done
  check "the pool is back to at least 3 ready ports" wait_for 30 plugin_ready 3
}

scenario_c() {
  section "c. --ip and --mac-address on a pool port"
  local before ip=10.146.1.77 mac=02:42:0a:92:01:4d port
  wait_for 30 plugin_ready 3 || true
  before="$(pool_ports)"
  assert_ok d run -d --name kp-s --label "$LABEL" --network "$NET" --ip "$ip" \
    --mac-address "$mac" "$IMG" sleep 600 || return 1
  assert_eq "$ip $mac" "$(ip_of kp-s) $(mac_of kp-s)" "Docker shows the address and MAC asked for"
  port="$(port_at "$ip")"
  assert_contains "$before" "$(jq -r .id <<< "$port")" "a former pool port holds them"
  assert_eq "$mac $(hostname)" "$(jq -r '"\(.mac_address) \(.["binding:host_id"])"' <<< "$port")" \
    "the port has the user's MAC and is bound here again"
  assert_eq "$mac" "$(eth0_mac kp-s)" "eth0 has the user's MAC"
}

scenario_d() {
  section "d. after a plugin restart the pool is found again"
  local before held
  wait_for 30 plugin_ready 3 || true
  stop_kuryr
  before="$(pool_ports)"
  held="$(for c in kp-1 kp-2 kp-3 kp-s; do ip_of "$c"; done)"
  start_kuryr || return 1
  assert_ok d run -d --name kp-r --label "$LABEL" --network "$NET" "$IMG" sleep 600 || return 1
  check_from_pool kp-r "$before"
  # whole lines: 10.146.1.15 is not 10.146.1.158
  check "not an address a container holds" bash -c '! grep -qxF "$1" <<< "$2"' _ "$(ip_of kp-r)" "$held"
}

scenario_z() {
  section "z. docker rm and network rm leave nothing"
  local ids
  ids="$(d ps -aq --filter "label=$LABEL")"
  # shellcheck disable=SC2086  # one id per word
  assert_ok d rm -f $ids
  assert_ok d network rm "$NET"
  assert_eq 0 "$(ports_of_cidr)" "no port of $CIDR (pool ports included) when network rm returns"
  assert_eq 0 "$(nget "networks?id=$NEUTRON_NET" | jq '.networks | length')" "the Neutron network is gone"
  assert_eq 0 "$(nget "subnetpools?name=kuryrPool-$CIDR" | jq '.subnetpools | length')" "no pool kuryrPool-$CIDR"
  assert_eq 0 "$(tc_links)" "no t_c link left on the host"
}

main() {
  [ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 2; }
  [ -x "$KURYR_BIN" ] || { echo "build first: cargo build --release (or set KURYR_BIN)" >&2; exit 2; }
  trap cleanup EXIT INT TERM
  up_unless_answering
  # leftovers of an aborted run: only this suite's names and CIDR
  remove_objects
  neutron_purge_prefix "$PREFIX"
  DOCKER="$DOCKER" "$ROOT/scripts/busybox-image.sh"
  start_kuryr
  local t0=$SECONDS
  { scenario_a && scenario_b && scenario_c && scenario_d; } || true
  scenario_z || true
  echo
  echo "pools: suite $((SECONDS - t0)) s"
  summary POOLS
}

main "$@"
