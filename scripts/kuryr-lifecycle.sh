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
# Prints "lifecycle: <n> calls, <s> s wall, <k> non-200" (and
# "neutron-requests: <n>") on stdout. Exit status: 0 if every answer was
# accepted, 1 otherwise, 2 on usage errors.
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

FAIL=0; CALLS=0; LAST=""
# call PATH [BODY] [OPTIONAL=1]: POST like dockerd; no BODY = empty body
call() {
  local path=$1 body=${2-} optional=${3:-0} out code
  local args=("${CURL[@]}")
  if [ -n "$body" ]; then args+=(-H 'Content-Type: application/json' --data-binary "$body"); fi
  out=$("${args[@]}" "$BASE$path") || true
  code=${out##*$'\n'}; LAST=${out%$'\n'*}; LAST=${LAST%$'\n'}
  CALLS=$((CALLS + 1))
  [ "$VERBOSE" = 1 ] && printf '>>> %s %s\n<<< %s %s\n' "$path" "$body" "$code" "$LAST" >&2
  if [ "$code" = 200 ] || { [ "$optional" = 1 ] && [ "$code" = 404 ]; }; then return 0; fi
  FAIL=$((FAIL + 1))
  echo "kuryr-lifecycle: $path -> HTTP ${code:-none} $LAST" >&2
  return 1
}
# jf EXPR: evaluate a Python expression on the last answer (d = parsed JSON)
jf() { python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$LAST" "$1" 2>/dev/null; }

if [ -n "$COUNT_LOG" ]; then LOG_OFF=$(stat -c %s "$COUNT_LOG"); fi
T0=$(date +%s.%N)

call /Plugin.Activate
call /NetworkDriver.GetCapabilities
call /IpamDriver.GetCapabilities
call /IpamDriver.GetDefaultAddressSpaces
AS=$(jf 'd["LocalDefaultAddressSpace"]') || AS=""
call /IpamDriver.RequestPool "{\"AddressSpace\":\"$AS\",\"Options\":{},\"Pool\":\"$SUBNET\",\"SubPool\":\"\",\"V6\":false}"
POOLID=$(jf 'd["PoolID"]') || POOLID=""
PREFIX=${SUBNET#*/}
if [ -z "$POOLID" ]; then
  echo "kuryr-lifecycle: RequestPool gave no PoolID; stopping" >&2
else
  call /IpamDriver.RequestAddress "{\"Address\":\"$GATEWAY\",\"Options\":{\"RequestAddressType\":\"com.docker.network.gateway\"},\"PoolID\":\"$POOLID\"}"
  call /NetworkDriver.CreateNetwork "{\"IPv4Data\":[{\"AddressSpace\":\"$AS\",\"Gateway\":\"$GATEWAY/$PREFIX\",\"Pool\":\"$SUBNET\"}],\"IPv6Data\":[],\"NetworkID\":\"$NETID\",\"Options\":{\"com.docker.network.enable_ipv6\":false,\"com.docker.network.generic\":{}}}"
  call /IpamDriver.RequestAddress "{\"Address\":\"\",\"Options\":null,\"PoolID\":\"$POOLID\"}"
  ADDR=$(jf 'd["Address"]') || ADDR=""
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
  call /NetworkDriver.DeleteNetwork "{\"NetworkID\":\"$NETID\"}"
fi

T1=$(date +%s.%N)
echo "lifecycle: $CALLS calls, $(python3 -c 'import sys; print("%.3f" % (float(sys.argv[2]) - float(sys.argv[1])))' "$T0" "$T1") s wall, $FAIL non-200"
if [ -n "$COUNT_LOG" ]; then
  sleep 0.3  # let uWSGI finish writing its last request line
  # uWSGI request lines look like:
  #   [pid: 123|app: 0|req: 5/9] 127.0.0.1 () {34 vars in 512 bytes} [date] GET /v2.0/ports?... => generated ...
  N=$(tail -c "+$((LOG_OFF + 1))" "$COUNT_LOG" | grep -cE '^\[pid: [0-9]+\|app: [0-9-]+\|req: [0-9/]+\] .* (GET|POST|PUT|DELETE|PATCH|HEAD) /') || true
  echo "neutron-requests: $N"
fi
[ "$FAIL" = 0 ]
