#!/usr/bin/env bash
# Acceptance suite: kuryr as a global-scope managed plugin in a one-node swarm,
# against a REAL dockerd 20.10.
#
#   tests/e2e/docker-swarm.sh                       (embedded backend)
#   SWARM_BACKEND=neutron tests/e2e/docker-swarm.sh (Neutron on 127.0.0.1:9696)
#
# The plugin is built by scripts/managed-plugin.sh, created, set to
# CAPABILITY_SCOPE=global and enabled BEFORE `docker swarm init`: dockerd 20.10's
# swarm allocator resolves only IPAM plugins enabled when the manager starts
# ("could not resolve IPAM driver"). Then an attachable swarm network from the
# plugin, a 2-replica dnsrr service (no IPVS on this kernel) whose tasks ping each
# other by address, a scale to 0 and back, a dockerd restart with the service
# running, and `service rm` + `network rm`, after which the plugin's state (and
# with Neutron, Neutron) holds nothing. The swarm advertises an address on a veth
# pair the suite creates (swarm refuses loopback). Prints "SWARM PASS (n checks)".
#
# Env: DOCKER [/usr/bin/docker], NEUTRON_URL [http://127.0.0.1:9696],
#      E2E_CMD_TIMEOUT [120], E2E_KEEP_LOGS=1
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$ROOT/tests/e2e/lib.sh"
# shellcheck source-path=SCRIPTDIR source=packaging.sh
. "$ROOT/tests/e2e/packaging.sh"

BACKEND="${SWARM_BACKEND:-embedded}"
DOCKER="${DOCKER:-/usr/bin/docker}"
NEUTRON_URL="${NEUTRON_URL:-http://127.0.0.1:9696}"
PLUGIN=kuryr-swarm/kuryr:latest
LOCAL=kuryr-swarm-local/kuryr:latest
DOCKERD_LOG="${DOCKERD_LOG:-/var/log/docker-test.log}"
IMG=kuryr-busybox:latest
SVC=ksw-svc
NET=ksw-net
SUBNET=10.31.0.0/24
WORK="$(mktemp -d /tmp/kuryr-swarm.XXXXXX)"
STATE="$WORK/state"
VETH=kswarm0
ADVERTISE=10.99.0.1
STARTED_DOCKERD=0
export DOCKER_HOST="unix://${DOCKERD_SOCK:-/run/docker-test.sock}"

log() { echo "swarm: $*" >&2; }
tasks() { d ps -q --filter "label=com.docker.swarm.service.name=$SVC"; }
task_ips() {
  local c
  for c in $(tasks); do
    d inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$c"
  done
}
running() { [ "$(tasks | wc -l)" = "$1" ]; }
neutron() { curl -s --max-time 10 "$NEUTRON_URL/v2.0/$1"; }
# Neutron ports of the swarm network's subnet, kuryr's (device_owner compute:kuryr).
neutron_ports() {
  local subnet
  subnet="$(neutron "subnets?name=kuryr-subnet-$SUBNET" | jq -r '.subnets[0].id // empty')"
  [ -n "$subnet" ] || { echo 0; return; }
  neutron "ports?fixed_ips=subnet_id%3D$subnet&device_owner=compute%3Akuryr" | jq '.ports | length'
}
neutron_left() {
  local nets pools
  nets="$(neutron "subnets?name=kuryr-subnet-$SUBNET" | jq '.subnets | length')"
  pools="$(neutron "subnetpools?name=kuryrPool-$SUBNET" | jq '.subnetpools | length')"
  echo "$((nets + pools))"
}


cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  d service rm "$SVC" kswl kswlb >/dev/null 2>&1
  wait_for 30 running 0
  sleep 2
  d network rm "$NET" kswl-net kswl-bad >/dev/null 2>&1
  d network rm kswl-cfg >/dev/null 2>&1
  d swarm leave --force >/dev/null 2>&1
  d plugin disable -f "$PLUGIN" >/dev/null 2>&1
  d plugin rm -f "$PLUGIN" >/dev/null 2>&1
  d plugin disable -f "$LOCAL" >/dev/null 2>&1
  d plugin rm -f "$LOCAL" >/dev/null 2>&1
  ip link del "$VETH" 2>/dev/null
  if [ "$STARTED_DOCKERD" = 1 ] && [ "${KEEP_DOCKERD:-0}" != 1 ]; then
    "$ROOT/scripts/dockerd-down.sh" --purge
  fi
  if [ "$rc" = 0 ] && [ "${E2E_KEEP_LOGS:-0}" != 1 ]; then rm -rf "$WORK"; else log "work dir kept: $WORK"; fi
  exit "$rc"
}
trap cleanup EXIT INT TERM

# The tasks can talk: with the embedded backend they ping each other by address.
# With Neutron, traffic needs Neutron's datapath (an L2 agent), which this machine
# lacks: the test Neutron binds vif_type tap and nothing bridges the taps, so the
# check is the control plane's part: every task's address is a port bound to
# this node.
connected() {
  if [ "$BACKEND" = neutron ]; then bound_here; else pings_all; fi
}

bound_here() {
  local ip host
  for ip in $(task_ips); do
    host="$(neutron "ports?fixed_ips=ip_address%3D$ip&device_owner=compute%3Akuryr" |
      jq -r '[.ports[] | .["binding:host_id"]] | join(",")')"
    [ "$host" = kuryr-swarm-node ] || { echo "port of $ip bound to '$host'" >&2; return 1; }
  done
}

pings_all() {
  local c ip ok=0
  for c in $(tasks); do
    for ip in $(task_ips); do
      d exec "$c" ping -c 1 -W 2 "$ip" >/dev/null 2>&1 || ok=1
    done
  done
  return "$ok"
}

setup() {
  section "plugin ($BACKEND backend), global scope, then swarm init"
  mkdir -p "$STATE" "$WORK/etc" /var/run/openvswitch
  check "scripts/managed-plugin.sh" bash -c "bash '$ROOT/scripts/managed-plugin.sh' '$WORK/plugin' >/dev/null 2>&1"
  assert_ok d plugin create "$PLUGIN" "$WORK/plugin"
  local settings=(CAPABILITY_SCOPE=global "state.source=$STATE" "config.source=$WORK/etc")
  if [ "$BACKEND" = neutron ]; then
    settings+=("OS_ENDPOINT=$NEUTRON_URL" OS_AUTH_TYPE=none KURYR_BINDING_HOST=kuryr-swarm-node)
  fi
  assert_ok d plugin set "$PLUGIN" "${settings[@]}"
  assert_ok d plugin enable "$PLUGIN"
  if [ "$BACKEND" = embedded ]; then
    # A second, local-scope instance for the `--scope swarm` scenario.
    # dockerd stores plugin rootfs by content: a second plugin needs its own.
    mkdir -p "$WORK/local-state" "$WORK/plugin-local"
    cp -a "$WORK/plugin/." "$WORK/plugin-local/"
    echo local > "$WORK/plugin-local/rootfs/etc/kuryr-instance"
    assert_ok d plugin create "$LOCAL" "$WORK/plugin-local"
    assert_ok d plugin set "$LOCAL" "state.source=$WORK/local-state" "config.source=$WORK/etc"
    assert_ok d plugin enable "$LOCAL"
  fi
  ip link add "$VETH" type veth peer name "${VETH}p" 2>/dev/null || true
  ip addr replace "$ADVERTISE/24" dev "$VETH"
  ip link set "${VETH}p" up
  ip link set "$VETH" up
  assert_ok d swarm init --advertise-addr "$ADVERTISE"
}

scenario_service() {
  section "swarm network and a 2-replica dnsrr service"
  local ips n
  assert_ok d network create -d "$PLUGIN" --ipam-driver "$PLUGIN" --attachable \
    --subnet "$SUBNET" --gateway 10.31.0.1 "$NET"
  check "the manager allocated the network (its driver is shown)" \
    wait_for 30 bash -c "[ \"\$($DOCKER network inspect -f '{{.Driver}}' $NET)\" = '$PLUGIN' ]"
  assert_ok d service create --detach --no-resolve-image --name "$SVC" --replicas 2 \
    --endpoint-mode dnsrr --network "$NET" "$IMG" sleep 600
  check "2 tasks running" wait_for 90 running 2
  # shellcheck disable=SC2046  # one address per word
  ips=$(task_ips)
  for n in $ips; do assert_in4 "$n" "$SUBNET"; done
  # shellcheck disable=SC2086
  assert_no_dups "task addresses" $ips
  check "the tasks reach each other ($BACKEND: $([ "$BACKEND" = neutron ] && echo 'ports bound here' || echo ping))" connected
  if [ "$BACKEND" = neutron ]; then
    assert_eq 2 "$(neutron_ports)" "exactly one Neutron port per task"
  fi

  section "scale to 0 and back"
  assert_ok d service scale --detach "$SVC=0"
  check "0 tasks" wait_for 60 running 0
  assert_ok d service scale --detach "$SVC=2"
  check "2 tasks again" wait_for 90 running 2
  check "they reach each other" connected
  if [ "$BACKEND" = neutron ]; then
    assert_eq 2 "$(neutron_ports)" "still one Neutron port per task"
  fi

  section "dockerd restart with the service running"
  "$ROOT/scripts/dockerd-down.sh" >/dev/null 2>&1
  eval "$("$ROOT/scripts/dockerd-up.sh" 2>/dev/null)"
  check "2 tasks after the restart" wait_for 120 running 2
  check "they reach each other after the restart" wait_for 30 connected

  section "service rm and network rm leave nothing"
  assert_ok d service rm "$SVC"
  check "no task left" wait_for 60 running 0
  # The node removes its copy of the network once the last task is gone.
  sleep 2
  assert_ok d network rm "$NET"
  if [ "$BACKEND" = neutron ]; then
    check "Neutron holds no port, subnet or pool of it" \
      wait_for 30 bash -c "[ \"\$(curl -s '$NEUTRON_URL/v2.0/subnetpools?name=kuryrPool-$SUBNET' | jq '.subnetpools | length')\" = 0 ]"
    assert_eq 0 "$(neutron_left)" "no kuryr subnet or pool of $SUBNET in Neutron"
  fi
  assert_ok d swarm leave --force
  assert_ok d plugin disable "$PLUGIN"
  if [ "$BACKEND" = embedded ]; then
    assert_eq 0 "$(store_objects)" "the plugin's store is empty (pools, addresses, networks, endpoints)"
  fi
  assert_eq "" "$(ip -o link | grep -o 'kbr[0-9a-z]*' || true)" "no kuryr bridge left on the host"
}

# service_ips SERVICE: its tasks' addresses
service_ips() {
  local c
  for c in $(d ps -q --filter "label=com.docker.swarm.service.name=$1"); do
    d inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$c"
  done
}
count_tasks() { [ "$(d ps -q --filter "label=com.docker.swarm.service.name=$1" | wc -l)" = "$2" ]; }

# A local-scope plugin with `--scope swarm`: the manager drops --ipam-driver and
# --subnet (moby#37089) and the plugin warns; a --config-only network carries them.
scenario_local_scope() {
  section "local-scope plugin, --scope swarm: the moby#37089 workaround"
  local ip id
  assert_ok d network create --config-only --ipam-driver "$LOCAL" --subnet 10.32.0.0/24 kswl-cfg
  assert_ok d network create -d "$LOCAL" --scope swarm --config-from kswl-cfg kswl-net
  assert_ok d service create --detach --no-resolve-image --name kswl --replicas 2 \
    --endpoint-mode dnsrr --network kswl-net "$IMG" sleep 600
  check "2 tasks of kswl" wait_for 90 count_tasks kswl 2
  for ip in $(service_ips kswl); do assert_in4 "$ip" 10.32.0.0/24; done
  assert_ok d network create -d "$LOCAL" --scope swarm --subnet 10.33.0.0/24 kswl-bad
  assert_ok d service create --detach --no-resolve-image --name kswlb --replicas 1 \
    --endpoint-mode dnsrr --network kswl-bad "$IMG" sleep 600
  check "1 task of kswlb" wait_for 90 count_tasks kswlb 1
  ip="$(service_ips kswlb)"
  check "without --config-from the subnet is Docker's, not 10.33.0.0/24 (moby#37089; got $ip)" \
    bash -c "! grep -q '^10\.33\.' <<< '$ip'"
  id="$(d plugin inspect -f '{{.Id}}' "$LOCAL")"
  check "the plugin logs the workaround" \
    bash -c "grep 'plugin=$id' '$DOCKERD_LOG' | grep -q 'config-from'"
  assert_ok d service rm kswl kswlb
  check "their tasks are gone" wait_for 60 count_tasks kswl 0
  sleep 2
  assert_ok d network rm kswl-net kswl-bad
  assert_ok d network rm kswl-cfg
}

main() {
  prepare
  setup
  if [ "$BACKEND" = embedded ]; then scenario_local_scope; fi
  scenario_service
  summary SWARM
}

main "$@"
