#!/usr/bin/env bash
# Acceptance suite: kuryr's embedded backend against a REAL dockerd.
#
#   tests/e2e/docker-embedded.sh            (as root, from anywhere)
#
# Starts the plugin (socket /run/docker/plugins/kuryr.sock) BEFORE touching
# docker, because dockerd finds the socket lazily and blocks ~16 s on a
# network whose plugin is missing. Starts a private dockerd with
# scripts/dockerd-up.sh unless one already answers (and then stops and purges
# it at the end), builds kuryr-busybox:latest with scripts/busybox-image.sh,
# then runs scenarios a..k (k before j). Cleans up containers, networks and the plugin on
# any exit (trap). Prints "E2E PASS (n checks)" or "E2E FAIL (k of n failed)".
# Assertions: lib.sh; plugin/dockerd lifecycle and docker helpers: harness.sh.
#
# Env:
#   KURYR_BIN        [target/release/kuryr]   the plugin binary
#   DOCKER           [/usr/bin/docker]  Debian's 20.10 client; the newer CLI
#                    refuses --mac-address on API 1.41
#   KEEP_DOCKERD=1   leave a dockerd that this suite started running
#   E2E_CMD_TIMEOUT  [120] seconds any single docker command may take
#   E2E_KEEP_LOGS=1  keep the work dir (plugin.log, state) even on success
#   E2E_FORWARDING_CHECK=0  skip the check of isolation between networks with IPv4
#                    forwarding on for the two test bridges (on by default)
# dockerd caches a plugin's capabilities and address spaces for its whole
# life: after switching between the fake and the real plugin, restart it.
# Debug knobs (to develop the suite's mechanics without the real plugin):
#   KURYR_PLUGIN_CMD  shell command that serves /run/docker/plugins/kuryr.sock
#                     instead of "$KURYR_BIN serve --config-file $KURYR_CONF"
#   KURYR_E2E_FAKE=/path/fakeplugin.py  run that fake plugin (one shared
#                     bridge) and skip checks only the real kuryr can pass
#                     (bridge/veth naming, state command, crash recovery)
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$ROOT/tests/e2e/lib.sh"

DOCKER="${DOCKER:-/usr/bin/docker}"
KURYR_BIN="${KURYR_BIN:-target/release/kuryr}"
[[ "$KURYR_BIN" = /* ]] || KURYR_BIN="$ROOT/$KURYR_BIN"
IMG=kuryr-busybox:latest
LABEL=kuryr-e2e
SOCK=/run/docker/plugins/kuryr.sock
FAKE="${KURYR_E2E_FAKE:-}"
FAKE_BRIDGE=kfakebr0
WORK="$(mktemp -d /tmp/kuryr-e2e.XXXXXX)"
export KURYR_CONF="$WORK/kuryr.conf"
PLUGIN_LOG="$WORK/plugin.log"
PLUGIN_PID=""
STARTED_DOCKERD=0
export DOCKER_HOST="unix://${DOCKERD_SOCK:-/run/docker-test.sock}"

# shellcheck source-path=SCRIPTDIR source=harness.sh
. "$ROOT/tests/e2e/harness.sh"

# -------------------------------------------------------------- scenarios --
scenario_a() {
  local br out
  assert_ok net ke2e-a --subnet 10.71.0.0/24 --gateway 10.71.0.1
  br="$(bridge_of ke2e-a)"
  if real_only "bridge kbr<id12> checks"; then
    assert_ok link_exists "$br"
    assert_ok link_up "$br"
    assert_bridge_has "$br" 10.71.0.1
  fi
  out="$(run_in ke2e-a -- sh -c 'ip -4 addr show eth0; ip route' 2>&1)"
  assert_in4 "$(inet4 <<< "$out")" 10.71.0.0/24
  assert_contains "$out" "default via 10.71.0.1" "default route via the gateway"
  assert_ok d network rm ke2e-a
  real_only "bridge removed with the network" && assert_fails link_exists "$br"
}

scenario_b() {
  local out gw4 gw6 br
  assert_ok net ke2e-b --ipv6 --subnet 10.72.0.0/24 --subnet fd72::/64
  # inspect shows no gateway the user did not give: read them off the routes
  out="$(run_in ke2e-b -- sh -c 'ip addr show eth0; ip route; echo v6:; ip -6 route' 2>&1)"
  assert_in4 "$(inet4 <<< "$out")" 10.72.0.0/24
  assert_contains "$out" "inet6 fd72::" "container has an IPv6 address in fd72::/64"
  gw4="$(awk '$1 == "default" {print $3; exit}' <<< "$out")"
  gw6="$(awk '/^v6:/ {v6 = 1} v6 && $1 == "default" {print $3; exit}' <<< "$out")"
  assert_in4 "$gw4" 10.72.0.0/24
  assert_contains "$gw6" "fd72::" "IPv6 default route via a gateway in fd72::/64"
  br="$(bridge_of ke2e-b)"
  real_only "bridge holds both gateways" && assert_bridge_has "$br" "${gw4:-none}" "${gw6:-none}"
}

scenario_c() {
  local i ips=() ip out
  assert_ok net ke2e-c --subnet 10.73.0.0/24 --ip-range 10.73.0.128/25 \
    --gateway 10.73.0.1 --aux-address r=10.73.0.2
  assert_eq "10.73.0.1 " "$(gateways_of ke2e-c)" "gateway is 10.73.0.1"
  for i in 1 2 3; do ctr "ke2e-c$i" ke2e-c; ips+=("$(ip_of "ke2e-c$i" ke2e-c)"); done
  for ip in "${ips[@]}"; do
    assert_in4 "$ip" 10.73.0.128/25
    check "$ip is not the aux address 10.73.0.2" [ "$ip" != 10.73.0.2 ]
  done
  out="$(d exec ke2e-c1 ip route 2>&1)"
  assert_contains "$out" "default via 10.73.0.1" "default route via 10.73.0.1"
  real_only "bridge holds 10.73.0.1" && assert_bridge_has "$(bridge_of ke2e-c)" 10.73.0.1
  assert_ok d rm -f ke2e-c1 ke2e-c2 ke2e-c3
}

scenario_d() {
  local s1 s2 out
  assert_ok net ke2e-d1
  assert_ok net ke2e-d2
  s1="$(subnets_of ke2e-d1)"; s1="${s1%% *}"
  s2="$(subnets_of ke2e-d2)"; s2="${s2%% *}"
  if real_only "default pools come from 10.200.0.0/14 as /24"; then
    assert_in4 "$s1" 10.200.0.0/14
    assert_in4 "$s2" 10.200.0.0/14
    assert_eq 24 "${s1#*/}" "default pool $s1 is a /24"
  fi
  local differ=no
  if [ -n "$s1" ] && [ "$s1" != "$s2" ]; then differ=yes; fi
  check "two default pools differ ('$s1', '$s2')" [ "$differ" = yes ]
  out="$(run_in ke2e-d1 -- ip -4 addr show eth0 2>&1)"
  assert_in4 "$(inet4 <<< "$out")" "${s1:-none}"
}

scenario_e() {
  local ipb ipc
  assert_ok net ke2e-e1 --subnet 10.75.0.0/24
  assert_ok net ke2e-e2 --subnet 10.76.0.0/24
  ctr ke2e-ea ke2e-e1; ctr ke2e-eb ke2e-e1; ctr ke2e-ec ke2e-e2
  ipb="$(ip_of ke2e-eb ke2e-e1)"; ipc="$(ip_of ke2e-ec ke2e-e2)"
  log "host net.ipv4.ip_forward=$(cat /proc/sys/net/ipv4/ip_forward) (1 lets the host route between bridges)"
  assert_ok d exec ke2e-ea ping -c1 -W2 "$ipb"
  assert_ok d exec ke2e-eb ping -c1 -W2 "$(ip_of ke2e-ea ke2e-e1)"
  assert_fails d exec ke2e-ea ping -c1 -W2 "$ipc"
  assert_fails d exec ke2e-ec ping -c1 -W2 "$ipb"
  # The check above passes on a host with ip_forward=0 whatever the plugin
  # does. Docker hosts usually forward: turn forwarding on for our two
  # bridges only (IPv4 forwarding is decided per input interface).
  if [ "${E2E_FORWARDING_CHECK:-1}" != 1 ]; then
    skip "isolation with forwarding on the bridges (E2E_FORWARDING_CHECK=1)"
  elif real_only "isolation with forwarding on the bridges"; then
    local b1 b2
    b1="$(bridge_of ke2e-e1)"; b2="$(bridge_of ke2e-e2)"
    sysctl -qw "net.ipv4.conf.$b1.forwarding=1" "net.ipv4.conf.$b2.forwarding=1"
    log "forwarding on for $b1 and $b2"
    assert_fails d exec ke2e-ea ping -c1 -W2 "$ipc"
    sysctl -qw "net.ipv4.conf.$b1.forwarding=0" "net.ipv4.conf.$b2.forwarding=0"
  fi
  assert_ok d rm -f ke2e-ea ke2e-eb ke2e-ec
}

scenario_f() {
  local out
  assert_ok net ke2e-f --ipv6 --subnet 10.74.0.0/24 --subnet fd74::/64
  out="$(run_in ke2e-f --ip 10.74.0.50 --ip6 fd74::50 --mac-address 02:00:00:00:74:50 \
    -- ip addr show eth0 2>&1)"
  assert_contains "$out" "inet 10.74.0.50/24" "eth0 has 10.74.0.50/24"
  assert_contains "$out" "inet6 fd74::50/64" "eth0 has fd74::50/64"
  assert_contains "$out" "link/ether 02:00:00:00:74:50" "eth0 has MAC 02:00:00:00:74:50"
  assert_eq 1 "$(grep -c 'inet ' <<< "$out")" "exactly one IPv4 address"
  assert_eq 1 "$(grep -c 'inet6 .*scope global' <<< "$out")" "exactly one global IPv6 address"
}

# every address held by a container on NET
addrs_on() { local c; for c in $(d ps -q --filter "network=$1"); do ip_of "$c" "$1"; done; }

scenario_g() {
  local i
  assert_ok net ke2e-g --subnet 10.77.0.0/24
  ctr ke2e-g1 ke2e-g; ctr ke2e-g2 ke2e-g
  log "kill -9 plugin pid $PLUGIN_PID"
  plugin_stop KILL
  check "plugin restarted with the same config and ready" plugin_start
  assert_ok d exec ke2e-g1 ping -c1 -W2 "$(ip_of ke2e-g2 ke2e-g)"
  for i in 3 4 5 6 7; do assert_ok ctr "ke2e-g$i" ke2e-g; done
  # shellcheck disable=SC2046  # one address per word
  real_only "no duplicate addresses after kill -9" && assert_no_dups "after restart" $(addrs_on ke2e-g)
  assert_ok d rm -f ke2e-g2 ke2e-g4 ke2e-g6
  for i in 8 9 10; do assert_ok ctr "ke2e-g$i" ke2e-g; done
  # shellcheck disable=SC2046
  real_only "no duplicate addresses after churn" && assert_no_dups "after churn" $(addrs_on ke2e-g)
  assert_eq 7 "$(addrs_on ke2e-g | grep -c .)" "7 containers with an address"
  assert_ok d exec ke2e-g1 ping -c1 -W2 "$(ip_of ke2e-g10 ke2e-g)"
}

scenario_h() {
  local out
  assert_ok net ke2e-h --internal --subnet 10.78.0.0/24
  out="$(run_in ke2e-h -- sh -c 'ip -4 addr show eth0; ip route' 2>&1)"
  assert_in4 "$(inet4 <<< "$out")" 10.78.0.0/24
  assert_not_contains "$out" "default" "no default route on an internal network"
}

scenario_i() {
  local out rc=0
  out="$(net ke2e-i1 --subnet 10.79.0.0/24 -o bogus=1 2>&1)" || rc=$?
  check "create with -o bogus=1 is refused" [ "$rc" != 0 ]
  assert_contains "$out" "bogus" "error names the bad option: $out"
  assert_fails d network inspect ke2e-i1
  assert_ok net ke2e-i2 --subnet 10.79.1.0/24
  rc=0; out="$(net ke2e-i3 --subnet 10.79.1.0/25 2>&1)" || rc=$?
  check "overlapping subnet 10.79.1.0/25 is refused" [ "$rc" != 0 ]
  assert_contains "${out,,}" "overlap" "overlap error: $out"
}

scenario_j() {
  local ids left st rc=0 k
  ids="$(d ps -aq --filter "label=$LABEL" | tr '\n' ' ')"
  # shellcheck disable=SC2086  # one id per word
  if [ -n "${ids// /}" ]; then assert_ok d rm -f $ids; fi
  ids="$(d network ls -q --filter "label=$LABEL" | tr '\n' ' ')"
  # shellcheck disable=SC2086
  if [ -n "${ids// /}" ]; then assert_ok d network rm $ids; fi
  assert_eq "" "$(d ps -aq --filter "label=$LABEL")" "no test containers left"
  assert_eq "" "$(d network ls -q --filter "label=$LABEL")" "no test networks left"
  left="$(kuryr_links | tr '\n' ' ')"
  assert_eq "" "$left" "no kbr*/kvh*/kvc* links left on the host"
  real_only "no kuryr nft table left" && assert_not_contains "$(nft list ruleset)" kuryr "no kuryr table in nft list ruleset"
  plugin_stop TERM
  real_only "state command shows nothing left" || return 0
  # stdout only: the JSON; logs go to the plugin log
  st="$("$KURYR_BIN" state --config-file "$KURYR_CONF" 2>>"$PLUGIN_LOG")" || rc=$?
  assert_eq 0 "$rc" "kuryr state exits 0"
  for k in pools addresses networks endpoints; do
    assert_eq 0 "$(jq -r ".$k | length" <<< "$st" 2>&1)" \
      "state: no $k left ($(jq -c ".$k" <<< "$st" 2>&1 | cut -c1-300))"
  done
}

# An "outside host": namespace kpub-out behind veth kpubh/kpubo (198.51.100.0/24,
# default route via the host). Forwarding is turned on only for kpubh and the
# network's bridge and put back by pub_down.
PUB_NS=kpub-out
PUB_HOST=198.51.100.1
PUB_OUT=198.51.100.2
PUB_SAVED=()
pub_up() {
  local br="$1" i
  pub_down   # leftovers of an aborted run
  ip netns add "$PUB_NS"
  ip link add kpubh type veth peer name kpubo
  ip link set kpubo netns "$PUB_NS"
  ip addr add "$PUB_HOST/24" dev kpubh
  ip link set kpubh up
  ip -n "$PUB_NS" addr add "$PUB_OUT/24" dev kpubo
  ip -n "$PUB_NS" link set kpubo up
  ip -n "$PUB_NS" link set lo up
  ip -n "$PUB_NS" route add default via "$PUB_HOST"
  for i in kpubh "$br"; do
    PUB_SAVED+=("net.ipv4.conf.$i.forwarding=$(sysctl -n "net.ipv4.conf.$i.forwarding")")
    sysctl -qw "net.ipv4.conf.$i.forwarding=1"
  done
}
pub_down() {
  [ "${#PUB_SAVED[@]}" = 0 ] || sysctl -qw "${PUB_SAVED[@]}" 2>/dev/null || true
  PUB_SAVED=()
  ip link del kpubh 2>/dev/null || true
  ip netns del "$PUB_NS" 2>/dev/null || true
}
# pub_get [NS-EXEC...] ADDR: what the published port 18081 answers, from there
pub_get() { local to="${*: -1}"; "${@:1:$#-1}" busybox nc -w 2 "$to" 18081 < /dev/null 2>&1; }
# the source address the outside host sees for one TCP connection to it
outside_peer() {
  ip netns exec "$PUB_NS" timeout 8 python3 -c '
import socket
s = socket.socket(); s.bind(("0.0.0.0", 9999)); s.listen(1); s.settimeout(6)
print(s.accept()[1][0])' 2>/dev/null &
  local listener=$! _
  # until the listener (a slow-starting python) has taken one connection
  for _ in $(seq 1 20); do
    sleep 0.3
    kill -0 "$listener" 2>/dev/null || break
    d exec "$1" busybox nc -w 2 "$PUB_OUT" 9999 < /dev/null > /dev/null 2>&1 || true
  done
  wait "$listener" 2>/dev/null || true
}

scenario_k() {
  local br out rc=0 out_ns=(ip netns exec "$PUB_NS")
  real_only "published ports" || return 0
  assert_ok net ke2e-k --subnet 10.81.0.0/24
  assert_ok net ke2e-ki --internal --subnet 10.82.0.0/24
  br="$(bridge_of ke2e-k)"
  pub_up "$br"
  assert_ok d run -d --name ke2e-kweb --label "$LABEL" --network ke2e-k -p 18081:80 \
    "$IMG" busybox nc -ll -p 80 -e echo hi
  ctr ke2e-kcli ke2e-k
  sleep 0.3
  assert_eq hi "$(pub_get "${out_ns[@]}" "$PUB_HOST")" "outside host reaches $PUB_HOST:18081"
  assert_eq hi "$(pub_get "$PUB_HOST")" "the host reaches its own $PUB_HOST:18081"
  assert_eq hi "$(pub_get d exec ke2e-kcli "$PUB_HOST")" "a neighbour reaches it through the host (hairpin)"
  assert_not_contains "$(pub_get 127.0.0.1)" hi "127.0.0.1:18081 is not served (documented)"
  assert_eq "$PUB_HOST" "$(outside_peer ke2e-kcli)" "egress seen with the host's address"
  out="$(d run --rm --label "$LABEL" --network ke2e-ki "$IMG" busybox nc -w 2 "$PUB_HOST" 18081 2>&1 < /dev/null)" || true
  assert_not_contains "$out" hi "an --internal container cannot reach it"
  out="$(d run -d --name ke2e-kdup --label "$LABEL" --network ke2e-k -p 18081:80 "$IMG" sleep 600 2>&1)" || rc=$?
  check "a second -p 18081:80 is refused" [ "$rc" != 0 ]
  assert_contains "$out" "host port 18081/tcp is already published by endpoint" "the error names port and holder: $out"
  assert_eq hi "$(pub_get "${out_ns[@]}" "$PUB_HOST")" "the refusal changed nothing"
  if real_only "published ports rebuilt after a restart"; then
    plugin_stop TERM
    nft delete table inet kuryr   # as a reboot would
    check "plugin restarted" plugin_start
    assert_eq hi "$(pub_get "${out_ns[@]}" "$PUB_HOST")" "published port back after the restart"
  fi
  assert_ok d rm -f ke2e-kweb ke2e-kcli ke2e-kdup
  assert_not_contains "$(nft list ruleset)" dnat "no DNAT left once the container is gone"
  pub_down
  assert_ok d network rm ke2e-k ke2e-ki
}

# ------------------------------------------------------------------ main --
main() {
  if [ "$(id -u)" != 0 ]; then log "must run as root"; exit 1; fi
  if [ -z "$FAKE" ] && [ -z "${KURYR_PLUGIN_CMD:-}" ] && [ ! -x "$KURYR_BIN" ]; then
    log "$KURYR_BIN not found: run cargo build --release first"; exit 1
  fi
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  write_config
  check_socket_free
  plugin_start
  if ! dockerd_answers; then
    STARTED_DOCKERD=1
    eval "$("$ROOT/scripts/dockerd-up.sh")"
  fi
  remove_test_objects   # leftovers of an aborted run on a dockerd we reuse
  DOCKER="$DOCKER" "$ROOT/scripts/busybox-image.sh"

  local s title
  for s in \
    "a:IPv4 network with subnet and gateway" "b:dual stack" \
    "c:ip-range, gateway and aux address" "d:default pools" \
    "e:connectivity within and isolation between networks" \
    "f:static IPv4, IPv6 and MAC" "g:crash safety (kill -9 the plugin)" \
    "h:internal network" "i:bad input gives clear errors" \
    "k:published ports (-p)" "j:teardown leaves nothing"
  do
    title="${s#*:}"
    section "${s%%:*}. $title"
    # run in an `||` context: a failing command inside does not abort the
    # suite; the assertions have already recorded what went wrong
    "scenario_${s%%:*}" || true
  done
  if summary E2E; then return 0; fi
  log "plugin log tail ($PLUGIN_LOG):"; tail -n 40 "$PLUGIN_LOG" >&2
  return 1
}

main "$@"
