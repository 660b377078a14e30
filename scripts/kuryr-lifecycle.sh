#!/usr/bin/env bash
# Drive ONE full Docker network lifecycle against a libnetwork remote
# network+IPAM plugin (kuryr, or the Python kuryr-libnetwork of
# scripts/kuryr-py-up.sh) with curl, in the order dockerd sends the calls for
#   docker network create --subnet 10.20.0.0/24 -d kuryr --ipam-driver kuryr N
#   docker run --rm --network N ...
#   docker network rm N
# (order taken from a capture of a real dockerd talking to a plugin):
#
#   Plugin.Activate, NetworkDriver.GetCapabilities, IpamDriver.GetCapabilities,
#   IpamDriver.GetDefaultAddressSpaces, IpamDriver.RequestPool,
#   IpamDriver.RequestAddress (gateway), NetworkDriver.CreateNetwork,
#   IpamDriver.RequestAddress, NetworkDriver.CreateEndpoint, NetworkDriver.Join,
#   NetworkDriver.ProgramExternalConnectivity, NetworkDriver.EndpointOperInfo x2,
#   NetworkDriver.RevokeExternalConnectivity, NetworkDriver.Leave,
#   NetworkDriver.DeleteEndpoint, IpamDriver.ReleaseAddress,
#   IpamDriver.ReleaseAddress (gateway), IpamDriver.ReleasePool,
#   NetworkDriver.DeleteNetwork
#
# Like dockerd: Activate / GetCapabilities / GetDefaultAddressSpaces have an
# empty body; a 404 on Program/RevokeExternalConnectivity is accepted (dockerd
# treats those two as optional). Any other non-200 answer is a failure.
# Differences from dockerd, kept on purpose so the Python kuryr-libnetwork
# 18.0.0 accepts the calls: the gateway RequestAddress names the gateway
# (GATEWAY) instead of sending "", CreateEndpoint carries a MAC address, and
# SandboxKey is /var/run/docker/netns/<12 hex> (kuryr checks that pattern).
#
# Usage: scripts/kuryr-lifecycle.sh [PLUGIN]
#   PLUGIN = http://127.0.0.1:PORT (loopback only) or a unix socket path;
#            default $KURYR_URL or http://127.0.0.1:23750
# Env:
#   SUBNET [10.20.0.0/24]  GATEWAY [first host of SUBNET]
#   VERBOSE [0]  1 = print every call and answer
#   COUNT_NEUTRON_LOG [unset]  path of Neutron's uWSGI log
#            (/var/log/neutron/neutron-api.log from scripts/neutron-up.sh):
#            print how many Neutron API requests were logged during the
#            lifecycle (uWSGI request lines "[pid: ...] ... GET /v2.0/...")
# Prints "lifecycle: <n> calls, <s> s wall, <k> non-200" (the time Docker
# waits), "settled: <s> s wall until Neutron is clean" (after /Kuryr.Settle,
# which waits for deletes our plugin runs after answering; 404 from plugins
# without it), "delete-network: <s> s wall" (the DeleteNetwork call alone) and,
# with COUNT_NEUTRON_LOG, "neutron-requests: <n>" on stdout.
# Exit status: 0 if every answer was accepted, 1 otherwise, 2 on usage errors.
set -uo pipefail

PLUGIN=${1:-${KURYR_URL:-http://127.0.0.1:23750}}
SUBNET=${SUBNET:-10.20.0.0/24}
VERBOSE=${VERBOSE:-0}
COUNT_LOG=${COUNT_NEUTRON_LOG:-}

die() { echo "kuryr-lifecycle: $*" >&2; exit 2; }
command -v curl >/dev/null || die "curl is required"
command -v python3 >/dev/null || die "python3 is required"

CURL=(curl -s --max-time 60 -w '\n%{http_code}' -X POST
      -H 'Accept: application/vnd.docker.plugins.v1.2+json')
case "$PLUGIN" in
  http://127.0.0.1:*|http://localhost:*|http://\[::1\]:*) BASE=${PLUGIN%/} ;;
  /*) [ -S "$PLUGIN" ] || die "$PLUGIN is not a unix socket"
      CURL+=(--unix-socket "$PLUGIN"); BASE=http://localhost ;;
  *) die "PLUGIN must be http://127.0.0.1:PORT (loopback) or a unix socket path" ;;
esac
if [ -n "$COUNT_LOG" ] && [ ! -r "$COUNT_LOG" ]; then die "COUNT_NEUTRON_LOG=$COUNT_LOG is not readable"; fi

# gateway default: first host of SUBNET
GATEWAY=${GATEWAY:-$(python3 -c 'import ipaddress,sys; print(next(ipaddress.ip_network(sys.argv[1]).hosts()))' "$SUBNET")} \
  || die "bad SUBNET $SUBNET"
read -r NETID EPID SBOX MAC < <(python3 -c '
import secrets
print(secrets.token_hex(32), secrets.token_hex(32), secrets.token_hex(6),
      "02:42:" + ":".join("%02x" % b for b in secrets.token_bytes(4)))')

# A TCP plugin is called over bash's /dev/tcp, so the harness starts no process
# per call (curl costs ~10 ms a call, which would blur the comparison); the unix
# socket case needs curl. Prints the body, a newline and the status code, as the
# curl -w format above does.
TCP_PORT=""
case "$PLUGIN" in http://127.0.0.1:*) TCP_PORT=${BASE##*:} ;; esac
tcp_post() {
  local path=$1 body=$2 resp fd status
  exec {fd}<>"/dev/tcp/127.0.0.1/$TCP_PORT" || return 1
  printf 'POST %s HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nAccept: application/vnd.docker.plugins.v1.2+json\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' \
    "$path" "$TCP_PORT" "${#body}" "$body" >&"$fd"
  # bounded, like curl's --max-time: a server that never closes fails the call
  IFS= read -r -d '' -t 60 resp <&"$fd" || true
  exec {fd}>&-
  status=${resp#HTTP/1.? }; status=${status%% *}
  printf '%s\n%s' "${resp#*$'\r\n\r\n'}" "$status"
}

FAIL=0; CALLS=0; LAST=""
# call PATH [BODY] [OPTIONAL=1]: POST like dockerd; no BODY = empty body
call() {
  local path=$1 body=${2-} optional=${3:-0} out code
  local args=("${CURL[@]}")
  if [ -n "$body" ]; then args+=(-H 'Content-Type: application/json' --data-binary "$body"); fi
  if [ -n "$TCP_PORT" ]; then out=$(tcp_post "$path" "$body") || true
  else out=$("${args[@]}" "$BASE$path") || true; fi
  code=${out##*$'\n'}; LAST=${out%$'\n'*}; LAST=${LAST%$'\n'}
  CALLS=$((CALLS + 1))
  [ "$VERBOSE" = 1 ] && printf '>>> %s %s\n<<< %s %s\n' "$path" "$body" "$code" "$LAST" >&2
  if [ "$code" = 200 ] || { [ "$optional" = 1 ] && [ "$code" = 404 ]; }; then return 0; fi
  FAIL=$((FAIL + 1))
  echo "kuryr-lifecycle: $path -> HTTP ${code:-none} $LAST" >&2
  return 1
}
# jf KEY: the string value of KEY in the last answer. Plain bash on purpose: a
# python3 start per call inside the timed region would add ~30 ms of harness
# time to every lifecycle and blur the comparison between plugins.
jf() {
  local re="\"$1\"[[:space:]]*:[[:space:]]*\"([^\"]*)\""
  [[ $LAST =~ $re ]] || return 1
  printf '%s\n' "${BASH_REMATCH[1]}"
}

if [ -n "$COUNT_LOG" ]; then LOG_OFF=$(stat -c %s "$COUNT_LOG"); fi
T0=$(date +%s.%N)

call /Plugin.Activate
call /NetworkDriver.GetCapabilities
call /IpamDriver.GetCapabilities
call /IpamDriver.GetDefaultAddressSpaces
AS=$(jf LocalDefaultAddressSpace) || AS=""
call /IpamDriver.RequestPool "{\"AddressSpace\":\"$AS\",\"Options\":{},\"Pool\":\"$SUBNET\",\"SubPool\":\"\",\"V6\":false}"
POOLID=$(jf PoolID) || POOLID=""
PREFIX=${SUBNET#*/}
if [ -z "$POOLID" ]; then
  echo "kuryr-lifecycle: RequestPool gave no PoolID; stopping" >&2
else
  call /IpamDriver.RequestAddress "{\"Address\":\"$GATEWAY\",\"Options\":{\"RequestAddressType\":\"com.docker.network.gateway\"},\"PoolID\":\"$POOLID\"}"
  call /NetworkDriver.CreateNetwork "{\"IPv4Data\":[{\"AddressSpace\":\"$AS\",\"Gateway\":\"$GATEWAY/$PREFIX\",\"Pool\":\"$SUBNET\"}],\"IPv6Data\":[],\"NetworkID\":\"$NETID\",\"Options\":{\"com.docker.network.enable_ipv6\":false,\"com.docker.network.generic\":{}}}"
  # With RequiresMACAddress (kuryr's IPAM says so) dockerd generates the MAC
  # first and passes it to RequestAddress (libnetwork assignAddressVersion).
  call /IpamDriver.RequestAddress "{\"Address\":\"\",\"Options\":{\"com.docker.network.endpoint.macaddress\":\"$MAC\"},\"PoolID\":\"$POOLID\"}"
  ADDR=$(jf Address) || ADDR=""
  EP="\"EndpointID\":\"$EPID\",\"NetworkID\":\"$NETID\""
  OPTS='"Options":{"com.docker.network.endpoint.exposedports":[],"com.docker.network.portmap":[]}'
  call /NetworkDriver.CreateEndpoint "{$EP,\"Interface\":{\"Address\":\"$ADDR\",\"AddressIPv6\":\"\",\"MacAddress\":\"$MAC\"},$OPTS}"
  call /NetworkDriver.Join "{$EP,$OPTS,\"SandboxKey\":\"/var/run/docker/netns/$SBOX\"}"
  call /NetworkDriver.ProgramExternalConnectivity "{$EP,$OPTS}" 1
  call /NetworkDriver.EndpointOperInfo "{$EP}"
  call /NetworkDriver.EndpointOperInfo "{$EP}"
  call /NetworkDriver.RevokeExternalConnectivity "{$EP}" 1
  call /NetworkDriver.Leave "{$EP}"
  call /NetworkDriver.DeleteEndpoint "{$EP}"
  [ -n "$ADDR" ] && call /IpamDriver.ReleaseAddress "{\"Address\":\"${ADDR%/*}\",\"PoolID\":\"$POOLID\"}"
  call /IpamDriver.ReleaseAddress "{\"Address\":\"$GATEWAY\",\"PoolID\":\"$POOLID\"}"
  call /IpamDriver.ReleasePool "{\"PoolID\":\"$POOLID\"}"
  # DeleteNetwork alone is timed too: it is what `docker network rm` waits for.
  TD0=$EPOCHREALTIME
  call /NetworkDriver.DeleteNetwork "{\"NetworkID\":\"$NETID\"}"
  TD1=$EPOCHREALTIME
fi

T1=$(date +%s.%N)
LIFECYCLE_CALLS=$CALLS LIFECYCLE_FAIL=$FAIL
# Docker has had every answer. Our Neutron backend deletes after answering
# (src/neutron_driver/teardown.rs); wait for that, so the request count below
# includes it and the next lifecycle starts on a quiet Neutron. kuryr-libnetwork
# has no such call and answers 404: it is done when it answers.
# Always with curl, outside the timed calls: kuryr-libnetwork's werkzeug server
# has been seen to leave the connection of this 404 open, hanging a /dev/tcp read.
args=("${CURL[@]}" --max-time 130 -H 'Content-Type: application/json' --data-binary '{"Timeout":120}')
out=$("${args[@]}" "$BASE/Kuryr.Settle") || true
code=${out##*$'\n'}; LAST=${out%$'\n'*}
T2=$(date +%s.%N)
if [ "$code" != 200 ] && [ "$code" != 404 ]; then
  echo "kuryr-lifecycle: /Kuryr.Settle -> HTTP ${code:-none} $LAST" >&2
  FAIL=$((FAIL + 1))
fi
secs() { python3 -c 'import sys; print("%.3f" % (float(sys.argv[2]) - float(sys.argv[1])))' "$1" "$2"; }
echo "lifecycle: $LIFECYCLE_CALLS calls, $(secs "$T0" "$T1") s wall, $LIFECYCLE_FAIL non-200"
re='"Pending"[[:space:]]*:[[:space:]]*([0-9]+)'
if [[ $LAST =~ $re ]] && [ "${BASH_REMATCH[1]}" != 0 ]; then
  echo "kuryr-lifecycle: ${BASH_REMATCH[1]} deletes still pending after 120 s: $LAST" >&2
  FAIL=$((FAIL + 1))
fi
echo "settled: $(secs "$T0" "$T2") s wall until Neutron is clean"
if [ -n "${TD0:-}" ]; then echo "delete-network: $(secs "$TD0" "$TD1") s wall"; fi
if [ -n "$COUNT_LOG" ]; then
  sleep 0.3  # let uWSGI finish writing its last request line
  # uWSGI request lines look like:
  #   [pid: 123|app: 0|req: 5/9] 127.0.0.1 () {34 vars in 512 bytes} [date] GET /v2.0/ports?... => generated ...
  N=$(tail -c "+$((LOG_OFF + 1))" "$COUNT_LOG" | grep -cE '^\[pid: [0-9]+\|app: [0-9-]+\|req: [0-9/]+\] .* (GET|POST|PUT|DELETE|PATCH|HEAD) /') || true
  echo "neutron-requests: $N"
fi
[ "$FAIL" = 0 ]
