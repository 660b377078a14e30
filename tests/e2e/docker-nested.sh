#!/usr/bin/env bash
# Nested (VM) mode, macvlan, end to end: a REAL dockerd, the REAL Neutron of
# scripts/neutron-up.sh and our plugin with
#   [binding] default_driver = kuryr.lib.binding.drivers.macvlan, link_iface = <VM NIC>
# The "VM" is this host: its NIC is a veth end (kvmnic0, peer in a network namespace
# so it has carrier) carrying the MAC of a Neutron port with port security, the VM's
# own port. Checks:
#  a. two containers on a kuryr network get macvlan children of the NIC with their own
#     port's MAC and address, and ping each other; their ports stay unbound; the VM
#     port has exactly 2 extra allowed-address pairs, (address, MAC) of each;
#  b. after docker rm: no extra pair, no t_c link, no port;
#  c. 10 concurrent docker runs lose no pair (10 pairs, Neutron's default limit);
#     an 11th container fails with an error naming the limit, and nothing is left
#     of it;
#  z. network rm: Neutron holds nothing of the suite's CIDR, the VM port has its
#     original pairs only.
# Cross-host traffic through the VM port would need a Neutron datapath (agents),
# which this machine lacks: the containers talk through the macvlan bridge.
#
#   tests/e2e/docker-nested.sh     (as root; needs cargo build --release)
#
# Starts a private dockerd (scripts/dockerd-up.sh) and Neutron unless they answer,
# and stops them at the end only then. Names: driver kuryr-nested, network
# kuryr-e2e-nested, CIDR 10.145.1.0/24 (the VM's own network 10.145.0.0/24), NIC
# kvmnic0, namespace kuryr-e2e-vmpeer, label kuryr-e2e-nested.
# Prints "NESTED PASS (n checks)" or a FAIL line.
# Env: KURYR_BIN [target/release/kuryr] DOCKER [/usr/bin/docker]
#      NEUTRON_URL [http://127.0.0.1:9696] E2E_CMD_TIMEOUT [120] E2E_KEEP_LOGS=1
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$ROOT/tests/e2e/lib.sh"

DOCKER="${DOCKER:-/usr/bin/docker}"
KURYR_BIN="${KURYR_BIN:-$ROOT/target/release/kuryr}"
NEUTRON_URL="${NEUTRON_URL:-http://127.0.0.1:9696}"
DRIVER=kuryr-nested
SOCK=/run/docker/plugins/$DRIVER.sock
NET=kuryr-e2e-nested
LABEL=kuryr-e2e-nested
NIC=kvmnic0 PEER=kvmpeer0 NS=kuryr-e2e-vmpeer
VM_CIDR=10.145.0.0/24 CIDR=10.145.1.0/24 PREFIX=10.145.1.
IMG=kuryr-busybox:latest
WORK="$(mktemp -d /tmp/kuryr-nested.XXXXXX)"
STARTED_DOCKERD=0 STARTED_NEUTRON=0 KURYR_PID="" VM_NET="" VM_PORT="" VM_MAC=""
export DOCKER_HOST="unix://${DOCKERD_SOCK:-/run/docker-test.sock}"

log() { echo "nested: $*" >&2; }
d() { timeout "${E2E_CMD_TIMEOUT:-120}" "$DOCKER" "$@"; }
n() { # METHOD PATH [BODY]
  curl -s --max-time 30 -X "$1" -H 'Content-Type: application/json' \
    ${3:+--data-binary "$3"} "$NEUTRON_URL/v2.0/$2"
}
ip_of() { d inspect -f "{{(index .NetworkSettings.Networks \"$NET\").IPAddress}}" "$1"; }
mac_of() { d inspect -f "{{(index .NetworkSettings.Networks \"$NET\").MacAddress}}" "$1"; }
# the VM port's pairs as "ip mac" lines, sorted
pairs() { n GET "ports/$VM_PORT" | jq -r '.port.allowed_address_pairs[] | "\(.ip_address) \(.mac_address)"' | sort; }
extra_pairs() { pairs | grep -c "^$PREFIX" || true; }
ports_of_cidr() { n GET ports | jq --arg p "$PREFIX" '[.ports[] | select(any(.fixed_ips[]?; .ip_address | startswith($p)))] | length'; }
tc_links() { ip -o link show | awk -F': ' '{sub(/@.*/, "", $2); print $2}' | grep -c '^t_c' || true; }
settle() { curl -s --max-time 40 --unix-socket "$SOCK" -X POST -d '{"Timeout": 30}' http://localhost/Kuryr.Settle; }
pings() { d exec "$1" ping -c 1 -W 2 "$2" >/dev/null 2>&1; }

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
  if [ -n "$KURYR_PID" ]; then kill "$KURYR_PID" 2>/dev/null; wait "$KURYR_PID" 2>/dev/null; fi
  rm -f "$SOCK"
  [ -z "$VM_PORT" ] || n DELETE "ports/$VM_PORT" >/dev/null
  [ -z "$VM_NET" ] || n DELETE "networks/$VM_NET" >/dev/null
  ip link del "$NIC" 2>/dev/null
  ip netns del "$NS" 2>/dev/null
  if [ "$STARTED_NEUTRON" = 1 ]; then "$ROOT/scripts/neutron-down.sh" >/dev/null 2>&1; fi
  if [ "$STARTED_DOCKERD" = 1 ]; then "$ROOT/scripts/dockerd-down.sh" --purge; fi
  if [ "$rc" = 0 ] && [ "${E2E_KEEP_LOGS:-0}" != 1 ]; then rm -rf "$WORK"; else log "work dir kept: $WORK"; fi
  exit "$rc"
}

# The VM: its network, its own port (port security on, as Nova makes it) and its NIC.
make_vm() {
  VM_NET="$(n POST networks '{"network":{"name":"kuryr-e2e-nested-vm"}}' | jq -r .network.id)"
  local sub
  sub="$(n POST subnets "{\"subnet\":{\"network_id\":\"$VM_NET\",\"ip_version\":4,\"cidr\":\"$VM_CIDR\",\"enable_dhcp\":false}}" | jq -r .subnet.id)"
  local port
  port="$(n POST ports "{\"port\":{\"network_id\":\"$VM_NET\",\"name\":\"kuryr-e2e-nested-vm-port\",\"port_security_enabled\":true,\"fixed_ips\":[{\"subnet_id\":\"$sub\"}]}}")"
  VM_PORT="$(jq -r .port.id <<< "$port")"
  VM_MAC="$(jq -r .port.mac_address <<< "$port")"
  [ -n "$VM_PORT" ] && [ "$VM_PORT" != null ] || { log "could not make the VM port: $port"; return 1; }
  ip netns add "$NS"
  ip link add "$NIC" address "$VM_MAC" mtu 1500 type veth peer name "$PEER"
  ip link set "$PEER" netns "$NS"
  ip -n "$NS" link set "$PEER" up
  ip link set "$NIC" up
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
[binding]
default_driver = kuryr.lib.binding.drivers.macvlan
link_iface = $NIC
CONF
  "$KURYR_BIN" serve --config-file "$WORK/kuryr.conf" > "$WORK/kuryr.log" 2>&1 &
  KURYR_PID=$!
  local i
  for i in $(seq 100); do [ -S "$SOCK" ] && return 0; sleep 0.1; done
  log "kuryr did not start:"; cat "$WORK/kuryr.log" >&2; return 1
}

scenario_a() {
  section "a. two containers, macvlan children of the VM NIC, pinging"
  local a1 a2 c port
  assert_ok d network create -d "$DRIVER" --ipam-driver "$DRIVER" --label "$LABEL" \
    --subnet "$CIDR" "$NET" || return 1
  assert_ok d run -d --name kn-1 --label "$LABEL" --network "$NET" "$IMG" sleep 600
  assert_ok d run -d --name kn-2 --label "$LABEL" --network "$NET" "$IMG" sleep 600
  a1="$(ip_of kn-1)"; a2="$(ip_of kn-2)"
  assert_in4 "$a1" "$CIDR"
  assert_in4 "$a2" "$CIDR"
  for c in kn-1 kn-2; do
    port="$(n GET "ports?mac_address=$(mac_of "$c")" | jq -c '.ports[0] | [.fixed_ips[0].ip_address, .["binding:host_id"]]')"
    assert_eq "[\"$(ip_of "$c")\",\"\"]" "$port" "$c: its port holds its address and stays unbound"
    assert_contains "$(nsenter -t "$(d inspect -f '{{.State.Pid}}' "$c")" -n ip -d link show eth0)" \
      "macvlan mode bridge" "$c: eth0 is a macvlan in bridge mode (on $NIC)"
  done
  check "kn-1 pings kn-2 ($a2)" pings kn-1 "$a2"
  check "kn-2 pings kn-1 ($a1)" pings kn-2 "$a1"
  assert_eq "$(printf '%s %s\n' "$a1" "$(mac_of kn-1)" "$a2" "$(mac_of kn-2)" | sort)" \
    "$(pairs | grep "^$PREFIX")" "the VM port has exactly the two containers' pairs (address, MAC)"
}

scenario_b() {
  section "b. docker rm: pairs, links and ports go"
  assert_ok d rm -f kn-1 kn-2
  settle >/dev/null
  assert_eq 0 "$(extra_pairs)" "no container pair left on the VM port"
  assert_eq 0 "$(tc_links)" "no t_c link left on the host"
  assert_eq 0 "$(ports_of_cidr)" "no port of $CIDR left"
}

scenario_c() {
  section "c. 10 concurrent runs keep every pair; the 11th meets Neutron's limit"
  local i pids=() rc=0 out
  for i in $(seq 1 10); do
    d run -d --name "kn-c$i" --label "$LABEL" --network "$NET" "$IMG" sleep 600 > "$WORK/run-$i.out" 2>&1 &
    pids+=($!)
  done
  for i in "${pids[@]}"; do wait "$i" || rc=1; done
  assert_eq 0 "$rc" "10 concurrent docker runs succeed"
  assert_eq 10 "$(extra_pairs)" "the VM port has 10 container pairs"
  out="$(d run -d --name kn-c11 --label "$LABEL" --network "$NET" "$IMG" sleep 600 2>&1)" && rc=0 || rc=$?
  assert_eq 1 "$((rc != 0))" "the 11th container fails"
  assert_contains "$out" "max_allowed_address_pair" "its error names the limit"
  log "the 11th container's error: $out"
  d rm -f kn-c11 >/dev/null 2>&1 || true
  settle >/dev/null
  assert_eq 10 "$(extra_pairs)" "the 11th left no pair"
  assert_eq 10 "$(ports_of_cidr)" "the 11th left no port"
  for i in $(seq 1 10); do d rm -f "kn-c$i" >/dev/null; done
  settle >/dev/null
  assert_eq 0 "$(extra_pairs)" "all pairs gone after docker rm"
}

scenario_z() {
  section "z. network rm leaves nothing"
  assert_ok d network rm "$NET"
  assert_eq 0 "$(ports_of_cidr)" "no port of $CIDR"
  assert_eq 0 "$(n GET "subnets?cidr=$CIDR" | jq '.subnets | length')" "no subnet $CIDR"
  assert_eq 0 "$(n GET "subnetpools?name=kuryrPool-$CIDR" | jq '.subnetpools | length')" "no pool kuryrPool-$CIDR"
  assert_eq "" "$(pairs)" "the VM port has its own pairs only (none)"
  assert_eq 0 "$(tc_links)" "no t_c link left"
}

main() {
  [ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 2; }
  [ -x "$KURYR_BIN" ] || { echo "build first: cargo build --release (or set KURYR_BIN)" >&2; exit 2; }
  trap cleanup EXIT INT TERM
  up_unless_answering
  # leftovers of an aborted run: only this suite's names and CIDRs (the VM's too)
  remove_objects
  neutron_purge_prefix 10.145.
  ip link del "$NIC" 2>/dev/null || true
  ip netns del "$NS" 2>/dev/null || true
  DOCKER="$DOCKER" "$ROOT/scripts/busybox-image.sh"
  make_vm
  start_kuryr
  local t0=$SECONDS
  { scenario_a && scenario_b; } || true
  scenario_c || true
  scenario_z || true
  echo
  echo "nested: suite $((SECONDS - t0)) s"
  summary NESTED
}

main "$@"
