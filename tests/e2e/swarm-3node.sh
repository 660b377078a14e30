#!/usr/bin/env bash
# Acceptance suite: a 3-node swarm on this one machine against one real Neutron.
#
#   tests/e2e/swarm-3node.sh          (as root; Neutron on 127.0.0.1:9696)
#
# Three dockerds, each in its own network namespace (kswn1..3) with its own
# data-root, exec-root and socket, joined over veths to a bridge (10.98.0.0/24), each
# with the managed plugin enabled in global scope on the Neutron backend and its own
# binding_host. A forwarder on the bridge address 10.98.0.254:9696 (reachable only
# from the test's namespaces) carries their Neutron requests to 127.0.0.1:9696.
# A dnsrr service spreads over the nodes; the suite checks that each task's port is
# bound to the node it runs on, that addresses are unique under a scale to 20 and
# back, and that after `service rm` and `network rm` Neutron holds nothing of it.
# Cross-node traffic needs a Neutron datapath (agents), which this machine lacks:
# the control plane is what is tested. Prints "SWARM3 PASS (n checks)".
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$ROOT/tests/e2e/lib.sh"

DOCKER="${DOCKER:-/usr/bin/docker}"
NEUTRON_URL="${NEUTRON_URL:-http://127.0.0.1:9696}"
PLUGIN=kuryr-3n/kuryr:latest
IMG=kuryr-busybox:latest
SUBNET=10.34.0.0/24
BRIDGE=ksw3br
FWD=10.98.0.254
WORK="$(mktemp -d /tmp/kuryr-swarm3.XXXXXX)"
FWD_PID=""
NODES=(1 2 3)

log() { echo "swarm3: $*" >&2; }
node_env() {
  local i="$1"
  echo "DOCKERD_NETNS=kswn$i DOCKERD_DATA_ROOT=/var/lib/docker-kswn$i DOCKERD_EXEC_ROOT=/run/docker-kswn$i DOCKERD_SOCK=/run/docker-kswn$i.sock DOCKERD_PIDFILE=/run/docker-kswn$i.pid DOCKERD_LOG=$WORK/dockerd-$i.log"
}
# dn I ARGS...: docker against node I
dn() { local i="$1"; shift; DOCKER_HOST="unix:///run/docker-kswn$i.sock" timeout 120 "$DOCKER" "$@"; }
neutron() { curl -s --max-time 10 "$NEUTRON_URL/v2.0/$1"; }
wait_for() {
  local n=$(($1 * 5)); shift
  while [ "$n" -gt 0 ]; do "$@" && return 0; sleep 0.2; n=$((n - 1)); done
  return 1
}

cleanup() {
  local rc=$? i
  set +e
  trap - EXIT INT TERM
  dn 1 service rm k3-svc >/dev/null 2>&1
  sleep 3
  dn 1 network rm k3-net >/dev/null 2>&1
  for i in 3 2 1; do dn "$i" swarm leave --force >/dev/null 2>&1; done
  for i in "${NODES[@]}"; do
    dn "$i" plugin disable -f "$PLUGIN" >/dev/null 2>&1
    dn "$i" plugin rm -f "$PLUGIN" >/dev/null 2>&1
    env $(node_env "$i") bash "$ROOT/scripts/dockerd-down.sh" --purge >/dev/null 2>&1
    ip netns del "kswn$i" 2>/dev/null
  done
  [ -n "$FWD_PID" ] && kill "$FWD_PID" 2>/dev/null
  ip link del "$BRIDGE" 2>/dev/null
  if [ "$rc" = 0 ] && [ "${E2E_KEEP_LOGS:-0}" != 1 ]; then rm -rf "$WORK"; else log "work dir kept: $WORK"; fi
  exit "$rc"
}
trap cleanup EXIT INT TERM

# The nodes' only way to Neutron: a TCP forwarder on the test bridge.
start_forwarder() {
  python3 - "$FWD" 9696 127.0.0.1 9696 > "$WORK/forwarder.log" 2>&1 <<'EOF' &
import asyncio, sys
listen_host, listen_port, to_host, to_port = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
async def pipe(r, w):
    try:
        while data := await r.read(65536):
            w.write(data)
            await w.drain()
    finally:
        w.close()
async def serve(r, w):
    ur, uw = await asyncio.open_connection(to_host, to_port)
    await asyncio.gather(pipe(r, uw), pipe(ur, w), return_exceptions=True)
async def main():
    server = await asyncio.start_server(serve, listen_host, listen_port)
    async with server:
        await server.serve_forever()
asyncio.run(main())
EOF
  FWD_PID=$!
}

setup() {
  section "three dockerds in their own network namespaces, one bridge"
  local i
  ip link add "$BRIDGE" type bridge
  ip addr add "$FWD/24" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  start_forwarder
  for i in "${NODES[@]}"; do
    ip netns add "kswn$i"
    ip -n "kswn$i" link set lo up
    ip link add "k3v$i" type veth peer name eth0 netns "kswn$i"
    ip link set "k3v$i" master "$BRIDGE" up
    ip -n "kswn$i" addr add "10.98.0.$i/24" dev eth0
    ip -n "kswn$i" link set eth0 up
    check "dockerd of node $i" bash -c "env $(node_env "$i") bash '$ROOT/scripts/dockerd-up.sh' >/dev/null 2>&1"
    check "busybox image on node $i" bash -c "DOCKER_HOST=unix:///run/docker-kswn$i.sock bash '$ROOT/scripts/busybox-image.sh' >/dev/null 2>&1"
  done
  check "node 2 reaches Neutron through the forwarder" \
    nsenter --net=/run/netns/kswn2 curl -sf --max-time 5 -o /dev/null "http://$FWD:9696/v2.0/networks"

  section "the managed plugin on every node (Neutron, global scope, own binding_host)"
  bash "$ROOT/scripts/managed-plugin.sh" "$WORK/plugin" >/dev/null 2>&1
  mkdir -p "$WORK/etc" /var/run/openvswitch
  for i in "${NODES[@]}"; do
    mkdir -p "$WORK/state$i"
    assert_ok dn "$i" plugin create "$PLUGIN" "$WORK/plugin"
    assert_ok dn "$i" plugin set "$PLUGIN" CAPABILITY_SCOPE=global \
      "OS_ENDPOINT=http://$FWD:9696" OS_AUTH_TYPE=none "KURYR_BINDING_HOST=kswn$i" \
      "state.source=$WORK/state$i" "config.source=$WORK/etc"
    assert_ok dn "$i" plugin enable "$PLUGIN"
  done

  section "swarm: node 1 manages, nodes 2 and 3 join"
  local token
  assert_ok dn 1 swarm init --advertise-addr 10.98.0.1
  token="$(dn 1 swarm join-token -q worker)"
  for i in 2 3; do
    assert_ok dn "$i" swarm join --token "$token" --advertise-addr "10.98.0.$i" 10.98.0.1:2377
  done
  check "3 nodes ready" wait_for 60 bash -c "[ \"\$(DOCKER_HOST=unix:///run/docker-kswn1.sock $DOCKER node ls -q --filter role=worker | wc -l)\" = 2 ]"
}

# tasks_on I: task containers of the service on node I
tasks_on() { dn "$1" ps -q --filter label=com.docker.swarm.service.name=k3-svc; }
running_total() {
  local i n=0
  for i in "${NODES[@]}"; do n=$((n + $(tasks_on "$i" | wc -l))); done
  [ "$n" = "$1" ]
}
# Every task's address is one kuryr port, bound to the node the task runs on.
ports_bound_to_their_nodes() {
  local i c ip hosts bad=0
  for i in "${NODES[@]}"; do
    for c in $(tasks_on "$i"); do
      ip="$(dn "$i" inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$c")"
      hosts="$(neutron "ports?fixed_ips=ip_address%3D$ip&device_owner=compute%3Akuryr" |
        jq -r '[.ports[] | .["binding:host_id"]] | join(",")')"
      if [ "$hosts" != "kswn$i" ]; then echo "task $ip on node $i: ports bound to '$hosts'" >&2; bad=1; fi
    done
  done
  return "$bad"
}
all_ips() {
  local i c
  for i in "${NODES[@]}"; do
    for c in $(tasks_on "$i"); do
      dn "$i" inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$c"
    done
  done
}
subnet_ports() {
  local subnet
  subnet="$(neutron "subnets?name=kuryr-subnet-$SUBNET" | jq -r '.subnets[0].id // empty')"
  [ -n "$subnet" ] || { echo 0; return; }
  neutron "ports?fixed_ips=subnet_id%3D$subnet&device_owner=compute%3Akuryr" | jq '.ports | length'
}

ports_are() { [ "$(subnet_ports)" = "$1" ]; }

scenario() {
  section "a dnsrr service over three nodes"
  local i t0 per ips
  assert_ok dn 1 network create -d "$PLUGIN" --ipam-driver "$PLUGIN" --attachable \
    --subnet "$SUBNET" --gateway 10.34.0.1 k3-net
  assert_ok dn 1 service create --detach --no-resolve-image --name k3-svc --replicas 6 \
    --endpoint-mode dnsrr --network k3-net "$IMG" sleep 600
  check "6 tasks running" wait_for 120 running_total 6
  per=""
  for i in "${NODES[@]}"; do per="$per node$i=$(tasks_on "$i" | wc -l)"; done
  log "tasks per node:$per"
  check "tasks on every node ($per)" bash -c "! grep -q '=0' <<< '$per'"
  check "each task's port is bound to its own node" ports_bound_to_their_nodes
  assert_eq 6 "$(subnet_ports)" "exactly one Neutron port per task"

  section "scale to 20 and back"
  t0=$SECONDS
  assert_ok dn 1 service scale --detach k3-svc=20
  check "20 tasks running" wait_for 300 running_total 20
  log "converged to 20 tasks in $((SECONDS - t0)) s"
  echo "converge-20: $((SECONDS - t0)) s" >> "$WORK/figures"
  per=""
  for i in "${NODES[@]}"; do per="$per node$i=$(tasks_on "$i" | wc -l)"; done
  log "tasks per node at 20:$per"
  echo "tasks per node at 20:$per" >> "$WORK/figures"
  # shellcheck disable=SC2046  # one address per word
  ips=$(all_ips)
  # shellcheck disable=SC2086
  assert_no_dups "20 task addresses" $ips
  check "each of the 20 ports is bound to its own node" ports_bound_to_their_nodes
  assert_eq 20 "$(subnet_ports)" "20 Neutron ports for 20 tasks"
  # Concurrent: down, up and down again without waiting in between.
  assert_ok dn 1 service scale --detach k3-svc=4
  sleep 1
  assert_ok dn 1 service scale --detach k3-svc=15
  sleep 1
  assert_ok dn 1 service scale --detach k3-svc=9
  check "9 tasks running" wait_for 240 running_total 9
  # shellcheck disable=SC2046
  ips=$(all_ips)
  # shellcheck disable=SC2086
  assert_no_dups "9 task addresses after concurrent scaling" $ips
  check "each of the 9 ports is bound to its own node" ports_bound_to_their_nodes
  check "9 Neutron ports for 9 tasks (the removed tasks' ports are gone)" \
    wait_for 60 ports_are 9

  section "service rm and network rm: Neutron and the nodes are clean"
  assert_ok dn 1 service rm k3-svc
  check "no task left" wait_for 120 running_total 0
  sleep 3
  assert_ok dn 1 network rm k3-net
  check "Neutron holds no subnet or pool of $SUBNET" wait_for 60 bash -c \
    "[ \"\$(curl -s '$NEUTRON_URL/v2.0/subnets?name=kuryr-subnet-$SUBNET' | jq '.subnets | length')\" = 0 ] && [ \"\$(curl -s '$NEUTRON_URL/v2.0/subnetpools?name=kuryrPool-$SUBNET' | jq '.subnetpools | length')\" = 0 ]"
  assert_eq 0 "$(neutron "ports?device_owner=compute%3Akuryr&binding%3Ahost_id=kswn1" | jq '.ports | length')" "no port bound to node 1 left"
  assert_eq 0 "$(neutron "ports?device_owner=compute%3Akuryr&binding%3Ahost_id=kswn2" | jq '.ports | length')" "no port bound to node 2 left"
  assert_eq 0 "$(neutron "ports?device_owner=compute%3Akuryr&binding%3Ahost_id=kswn3" | jq '.ports | length')" "no port bound to node 3 left"
  for i in "${NODES[@]}"; do
    assert_eq "" "$(ip -n "kswn$i" -o link | grep -o 't_c[0-9a-f]*' || true)" "no kuryr interface left on node $i"
  done
}

main() {
  [ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 2; }
  [ -x "$ROOT/target/release/kuryr" ] || { echo "build first: cargo build --release" >&2; exit 2; }
  curl -sf --max-time 5 -o /dev/null "$NEUTRON_URL/v2.0/networks" || { echo "no Neutron at $NEUTRON_URL" >&2; exit 2; }
  neutron_purge_prefix 10.34.0.   # leftovers of an aborted run: this suite's CIDR
  setup
  scenario
  [ -f "$WORK/figures" ] && cat "$WORK/figures"
  summary SWARM3
}

main "$@"
