#!/usr/bin/env bash
# What a user waits for: `docker run --rm --network N kuryr-busybox:latest true`
# timed on four networks of one private dockerd, in one run, against Docker's
# own bridge driver (issue 11 item 7):
#
#   bash benches/docker_run.sh              (as root)
#
#   bridge   `docker network create -d bridge`, Docker's driver (the dockerd of
#            scripts/dockerd-up.sh has --iptables=false and no docker0: fine for
#            timing)
#   embedded kuryr, backend = embedded: driver kuryr-bench-emb
#   neutron  kuryr, backend = neutron (auth_type = none, enable_dhcp = False, as
#            tests/e2e/docker-neutron.sh configures it; the rig's loopback_tap
#            mechanism driver binds ports as vif_type tap, so no [binding]
#            section): driver kuryr-bench-neu
#   pools    the same plus [vif_pool] enabled = True, ports_pool_min = 5,
#            ports_pool_max = 0, ports_pool_batch = 10,
#            ports_pool_update_frequency = 20: driver kuryr-bench-pool.
#            Reported as "skipped: port pools not available in this build" when
#            `kuryr check-config` refuses that file or warns that [vif_pool] or
#            one of its keys is unknown, or when the plugin does not start with it
#
#  - each kuryr driver is its own `kuryr serve` ($KURYR_BIN) with its own
#    state_dir under a temp dir and the socket /run/docker/plugins/<driver>.sock,
#    where dockerd finds it. The embedded one keeps the host-wide lock_file
#    (/run/kuryr/kuryr.lock): at start it removes kuryr bridges and veths it does
#    not own and rebuilds kuryr's nft tables, so it must not run beside another
#    embedded plugin (it exits when another kuryr holds the lock; stop that one
#    first). The Neutron ones touch only their own ports' links and take a lock
#    of their own, as tests/e2e/docker-nested.sh does.
#  - dockerd: the one at $DOCKER_HOST if that is set and answers (left running);
#    else scripts/dockerd-up.sh with DOCKERD_DATA_ROOT [/var/lib/docker-bench],
#    DOCKERD_EXEC_ROOT [/run/docker-bench], DOCKERD_SOCK [/run/docker-bench.sock],
#    DOCKERD_PIDFILE [/run/docker-bench.pid], DOCKERD_LOG [/var/log/docker-bench.log]
#    (other DOCKERD_* passed through), stopped with scripts/dockerd-down.sh --purge
#    at the end. Image kuryr-busybox:latest from scripts/busybox-image.sh (left
#    in a dockerd the bench did not start).
#  - Neutron: used if $NEUTRON_URL answers, else started with
#    scripts/neutron-up.sh and stopped at the end (only then). It may be shared:
#    the bench touches only its own CIDRs, 10.150.1.0/24 .. 10.150.4.0/24, and
#    deletes what is left of 10.150.* at start and at exit.
#  - each network is created once, gets one warm-up run (not counted), then RUNS
#    rounds; a round runs every network once, starting one network later each
#    round, so the machine's load falls on all alike. After a run on a Neutron
#    network the bench waits for that plugin's background deletes
#    (POST /Kuryr.Settle; not timed), and counts the uWSGI request lines Neutron
#    logged from the run's start until then ($NEUTRON_LOG; requests of others
#    sharing Neutron are counted too: the table then says "not constant"). A
#    pool's refill (one bulk POST of ports_pool_batch ports, in the background)
#    counts in the window of whichever Neutron run it ends in, or in none. The
#    pool network is measured as a user sees it: no wait for a refill between
#    rounds; after its create the bench waits (at most 30 s) until Neutron holds
#    ports_pool_min ports tagged $POOL_TAG on it (no wait while that tag is unset).
#  - at the end every network is removed with `docker network rm`, and the
#    Neutron ones are checked: no network tagged with the Docker id, no subnet,
#    pool or port of its CIDR may be left.
#  - prints a table: runs, min / median / max seconds, the ratio of the median to
#    the bridge's median, the median of the per-round ratios (each run against
#    the bridge run of its round), the target, Neutron requests per run, and
#    whether Neutron was clean after `docker network rm`.
#
# Targets (issue 11), checked on the per-round ratio, which drifts less with load
# that changes during the bench than a ratio of two medians (see the README):
# embedded <= 1.1 x bridge, Neutron with pools <= 1.3 x, Neutron without pools
# <= 2 x.
#
# Exit status: 1 if a docker command failed, a plugin (but the pool one) did not
# start or Neutron was not clean after `docker network rm`; with BENCH_ENFORCE=1
# also 1 when a target is missed (named, with the ratio and the limit).
#
# Env (defaults in brackets):
#   RUNS [7]   BENCH_ENFORCE [0] (1 = fail on a missed target)
#   KURYR_BIN [target/release/kuryr]   NEUTRON_URL [http://127.0.0.1:9696] (loopback)
#   NEUTRON_LOG [/var/log/neutron/neutron-api.log]   BENCH_KEEP_LOGS=1 (keep the temp dir)
#   DOCKER_HOST, DOCKERD_* as above   DOCKER [/usr/bin/docker]
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source-path=SCRIPTDIR source=../tests/e2e/lib.sh
. "$ROOT/tests/e2e/lib.sh"   # neutron_purge_prefix

RUNS="${RUNS:-7}"
ENFORCE="${BENCH_ENFORCE:-0}"
KURYR_BIN="${KURYR_BIN:-target/release/kuryr}"
[[ "$KURYR_BIN" = /* ]] || KURYR_BIN="$ROOT/$KURYR_BIN"
NEUTRON_URL="${NEUTRON_URL:-http://127.0.0.1:9696}"
NEUTRON_LOG="${NEUTRON_LOG:-/var/log/neutron/neutron-api.log}"
DOCKER="${DOCKER:-/usr/bin/docker}"
IMG=kuryr-busybox:latest
LABEL=kuryr-bench-docker-run
PREFIX=10.150.
export DOCKERD_DATA_ROOT="${DOCKERD_DATA_ROOT:-/var/lib/docker-bench}"
export DOCKERD_EXEC_ROOT="${DOCKERD_EXEC_ROOT:-/run/docker-bench}"
export DOCKERD_SOCK="${DOCKERD_SOCK:-/run/docker-bench.sock}"
export DOCKERD_PIDFILE="${DOCKERD_PIDFILE:-/run/docker-bench.pid}"
export DOCKERD_LOG="${DOCKERD_LOG:-/var/log/docker-bench.log}"
WORK="$(mktemp -d /tmp/kuryr-bench-run.XXXXXX)"
STARTED_NEUTRON=0
STARTED_DOCKERD=0
DOCKERD_VERSION="?"

# The [vif_pool] section's ports_pool_min, and the Neutron tag of a port in a
# pool (src/neutron_driver/names.rs POOL_PORT_TAG). An empty tag skips the wait
# for the pool to fill; a wrong one costs 30 s and a warning.
POOL_MIN=5
POOL_TAG="kuryr.port.pool"

# The four networks, in this order; kuryr drivers are plugins of that name.
NETS=(bridge embedded neutron pools)
declare -A TITLE=([bridge]="bridge (Docker)" [embedded]="kuryr embedded"
                  [neutron]="kuryr Neutron" [pools]="kuryr Neutron + pools")
declare -A DRIVER=([bridge]=bridge [embedded]=kuryr-bench-emb
                   [neutron]=kuryr-bench-neu [pools]=kuryr-bench-pool)
declare -A CIDR=([bridge]=10.150.1.0/24 [embedded]=10.150.2.0/24
                 [neutron]=10.150.3.0/24 [pools]=10.150.4.0/24)
declare -A TARGET=([embedded]=1.1 [neutron]=2 [pools]=1.3)
declare -A PLUGIN_PID=()
declare -A DOCKER_ID=()
ACTIVE=()    # the networks measured (created, with a plugin)

log() { echo "bench: $*" >&2; }
# the docker client, bounded; an array, not a function: a signal's trap runs
# with the redirections of the function it interrupts (its messages would go
# to the run's output file)
D=(timeout 120 "$DOCKER")
is_neutron() { [ "$1" = neutron ] || [ "$1" = pools ]; }
sock_of() { echo "/run/docker/plugins/${DRIVER[$1]}.sock"; }
net_of() { echo "kbench-$1"; }
neutron_answers() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$NEUTRON_URL/v2.0/networks")" = 200 ]; }
dockerd_answers() { timeout 10 "$DOCKER" version --format '{{.Server.Version}}' >/dev/null 2>&1; }
# plugin_call KEY PATH [JSON]: POST to a kuryr plugin's socket, body on stdout
plugin_call() {
  curl -s --max-time "${4:-3}" --unix-socket "$(sock_of "$1")" -X POST \
    -H 'Content-Type: application/json' --data-binary "${3:-}" "http://x/$2" 2>/dev/null
}
plugin_answers() {
  local out
  out="$(plugin_call "$1" Plugin.Activate)" || return 1
  [[ "$out" == *NetworkDriver* && "$out" == *IpamDriver* ]]
}

# write_conf KEY: the plugin's kuryr.conf in $WORK/KEY
write_conf() {
  local key="$1" dir="$WORK/$1"
  mkdir -p "$dir/state"
  (
    echo "[DEFAULT]"
    echo "kuryr_uri = unix://$(sock_of "$key")"
    echo "state_dir = $dir/state"
    if [ "$key" = embedded ]; then echo "backend = embedded"; exit 0; fi
    echo "backend = neutron"
    echo "lock_file = $dir/kuryr.lock"
    echo
    echo "[neutron]"
    echo "auth_type = none"
    echo "endpoint = $NEUTRON_URL"
    echo "enable_dhcp = False"
    [ "$key" = pools ] || exit 0
    echo
    echo "[vif_pool]"
    echo "enabled = True"
    echo "ports_pool_min = $POOL_MIN"
    echo "ports_pool_max = 0"
    echo "ports_pool_batch = 10"
    echo "ports_pool_update_frequency = 20"
  ) > "$dir/kuryr.conf"
}

# pools_supported: this build takes the [vif_pool] section (the reason on stdout if not)
pools_supported() {
  local out rc=0
  out="$("$KURYR_BIN" check-config --config-file "$WORK/pools/kuryr.conf" 2>&1)" || rc=$?
  if [ "$rc" != 0 ]; then echo "check-config refuses it: $(tail -n 1 <<< "$out")"; return 1; fi
  if grep -qE '^warning: \[vif_pool\].*unknown' <<< "$out"; then
    echo "check-config: $(grep -m 1 -E '^warning: \[vif_pool\].*unknown' <<< "$out")"; return 1
  fi
}

# start_plugin KEY: kuryr serve, until it answers on its socket (at most 30 s)
start_plugin() {
  local key="$1" pid _
  if plugin_answers "$key"; then log "something already answers on $(sock_of "$key"); stop it first"; return 1; fi
  "$KURYR_BIN" serve --config-file "$WORK/$key/kuryr.conf" >> "$WORK/$key/kuryr.log" 2>&1 &
  pid=$!
  PLUGIN_PID[$key]=$pid
  for _ in $(seq 1 150); do
    if plugin_answers "$key"; then log "${DRIVER[$key]} ready (pid $pid)"; return 0; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  log "${DRIVER[$key]} did not come up; last lines of $WORK/$key/kuryr.log:"
  tail -n 5 "$WORK/$key/kuryr.log" >&2
  stop_plugin "$key"
  return 1
}

# stop_plugin KEY: SIGTERM by PID (it waits up to 10 s for its deletes), SIGKILL after 15 s
stop_plugin() {
  local key="$1" pid="${PLUGIN_PID[$1]:-}" _
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 75); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  unset "PLUGIN_PID[$key]"
  if [ -S "$(sock_of "$key")" ] && ! plugin_answers "$key"; then rm -f "$(sock_of "$key")"; fi
}

# settle KEY: wait for the deletes a Neutron plugin runs after answering Docker
settle() {
  local out
  out="$(plugin_call "$1" Kuryr.Settle '{"Timeout": 30}' 35)" || true
  [[ "$out" == *'"Pending":0'* ]] || log "${DRIVER[$1]}: deletes still pending: ${out:-no answer}"
}

log_size() { stat -c %s "$NEUTRON_LOG" 2>/dev/null || echo 0; }
# requests_since OFFSET: uWSGI request lines Neutron logged after OFFSET bytes
requests_since() {
  [ -r "$NEUTRON_LOG" ] || { echo -; return 0; }
  tail -c "+$(($1 + 1))" "$NEUTRON_LOG" |
    grep -cE '^\[pid: [0-9]+\|app: [0-9-]+\|req: [0-9/]+\] .* (GET|POST|PUT|DELETE|PATCH|HEAD) /' || true
}

# neutron_get PATH: the JSON of a Neutron GET
neutron_get() { curl -sf --max-time 30 "$NEUTRON_URL/v2.0/$1"; }
# neutron_net KEY: the Neutron network tagged with the Docker network's id
neutron_net() {
  local id="${DOCKER_ID[$1]}"
  neutron_get "networks?tags=kuryr.net.uuid.lh:${id:0:32},kuryr.net.uuid.uh:${id:32:32}" | jq -r '.networks[].id'
}

# wait_pool: until Neutron holds POOL_MIN pool ports on the pool network (30 s)
wait_pool() {
  local nid n=0 _
  if [ -z "$POOL_TAG" ]; then log "pool port tag unknown: no wait for the pool to fill"; return 0; fi
  nid="$(neutron_net pools)"
  for _ in $(seq 1 60); do
    n="$(neutron_get "ports?network_id=$nid&tags=$POOL_TAG" | jq '.ports | length')"
    [ "$n" -ge "$POOL_MIN" ] && { log "pool filled: $n ports"; return 0; }
    sleep 0.5
  done
  log "the pool holds $n ports after 30 s (wanted $POOL_MIN); measuring anyway"
}

# neutron_leftovers KEY: what Neutron still holds of the network (empty: clean)
neutron_leftovers() {
  local key="$1" cidr="${CIDR[$1]}" p n
  p="${cidr%0/24}"
  n="$(neutron_net "$key" | wc -l)"; [ "$n" = 0 ] || echo "$n network(s)"
  n="$(neutron_get subnets | jq --arg c "$cidr" '[.subnets[] | select(.cidr == $c)] | length')"
  [ "$n" = 0 ] || echo "$n subnet(s)"
  n="$(neutron_get subnetpools | jq --arg c "$cidr" '[.subnetpools[] | select(.prefixes | index($c))] | length')"
  [ "$n" = 0 ] || echo "$n subnet pool(s)"
  n="$(neutron_get ports | jq --arg p "$p" '[.ports[] | select(any(.fixed_ips[]?; .ip_address | startswith($p)))] | length')"
  [ "$n" = 0 ] || echo "$n port(s)"
}

fail_with() { echo "$*" >> "$WORK/failures"; log "FAILED: $*"; }

create_net() {
  local key="$1" out args=(-d "${DRIVER[$1]}")
  [ "$key" = bridge ] || args+=(--ipam-driver "${DRIVER[$key]}")
  if ! out="$("${D[@]}" network create "${args[@]}" --label "$LABEL" --subnet "${CIDR[$key]}" "$(net_of "$key")" 2>&1)"; then
    fail_with "docker network create $(net_of "$key"): $out"; return 1
  fi
  DOCKER_ID[$key]="$(tail -n 1 <<< "$out")"
}

# run_once KEY LABEL: one timed `docker run --rm`; a counted run appends
# "KEY ROUND SECONDS REQUESTS" to $WORK/results
run_once() {
  local key="$1" label="$2" off=0 t0 t1 secs req=- rc=0
  if is_neutron "$key"; then off="$(log_size)"; fi
  t0=$EPOCHREALTIME
  "${D[@]}" run --rm --label "$LABEL" --network "$(net_of "$key")" "$IMG" true > "$WORK/run.out" 2>&1 || rc=$?
  t1=$EPOCHREALTIME
  secs="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')"
  if is_neutron "$key"; then
    settle "$key"
    sleep 0.2   # uWSGI logs a request after its answer: let the last line land
    req="$(requests_since "$off")"
  fi
  printf '  %-8s %-22s %7s s  %s\n' "$label" "${TITLE[$key]}" "$secs" \
    "$(if [ "$rc" != 0 ]; then echo FAILED; elif [ "$req" != - ]; then echo "$req Neutron requests"; fi)"
  if [ "$rc" != 0 ]; then fail_with "docker run on $(net_of "$key") (exit $rc): $(grep -v 'IPv4 forwarding' "$WORK/run.out" | tail -n 3)"; return 0; fi
  [ "$label" = warm-up ] || echo "$key ${label#round } $secs $req" >> "$WORK/results"
}

# remove_net KEY: docker network rm, then (Neutron) what is left of it
remove_net() {
  local key="$1" out left
  if ! out="$("${D[@]}" network rm "$(net_of "$key")" 2>&1)"; then fail_with "docker network rm $(net_of "$key"): $out"; return 0; fi
  is_neutron "$key" || return 0
  left="$(neutron_leftovers "$key" | paste -sd, | sed 's/,/, /g')"
  if [ -z "$left" ]; then echo "$key clean" >> "$WORK/clean"
  else echo "$key left: $left" >> "$WORK/clean"; fail_with "Neutron not clean after docker network rm $(net_of "$key"): $left"; fi
}

report() {
  python3 - "$WORK/results" "$WORK/clean" "$WORK/skipped" "$ENFORCE" \
    "${TARGET[embedded]}" "${TARGET[neutron]}" "${TARGET[pools]}" <<'EOF'
import statistics, sys
results, clean_path, skipped_path, enforce = sys.argv[1:5]
enforce = enforce == "1"
targets = dict(zip(("embedded", "neutron", "pools"), map(float, sys.argv[5:8])))
titles = {"bridge": "bridge (Docker)", "embedded": "kuryr embedded",
          "neutron": "kuryr Neutron", "pools": "kuryr Neutron + pools"}
def lines(path):
    try:
        return [l.split(None, 1) for l in open(path) if l.strip()]
    except FileNotFoundError:
        return []
clean = {k: v.strip() for k, v in lines(clean_path)}
skipped = {k: v.strip() for k, v in lines(skipped_path)}
secs, reqs, by_round = {}, {}, {}
for line in open(results):
    key, rnd, s, r = line.split()
    secs.setdefault(key, []).append(float(s))
    if r != "-":
        reqs.setdefault(key, []).append(int(r))
    by_round.setdefault(rnd, {})[key] = float(s)
med = {k: statistics.median(v) for k, v in secs.items()}
print()
print("docker run --rm --network N kuryr-busybox:latest true, seconds; x bridge: the")
print("ratio of the medians, and the median of the per-round ratios (the target's)")
print(f"{'network':<22} {'runs':>4} {'min':>7} {'median':>7} {'max':>7} {'x bridge':>9} "
      f"{'per-round':>9} {'target':>7}  {'Neutron requests / run':<24} clean after rm")
bad = []
for key in ("bridge", "embedded", "neutron", "pools"):
    if key in skipped:
        print(f"{titles[key]:<22} skipped: {skipped[key]}")
        continue
    if key not in secs:
        print(f"{titles[key]:<22} no run succeeded")
        continue
    s = secs[key]
    ratio = paired = "-"
    target = targets.get(key)
    if key != "bridge" and "bridge" in med:
        ratio = f"{med[key] / med['bridge']:.2f}"
        per = [r[key] / r["bridge"] for r in by_round.values() if key in r and "bridge" in r]
        if per:
            p = statistics.median(per)
            paired = f"{p:.2f}"
            if target is not None and p > target:
                bad.append(f"{titles[key]}: {p:.2f} x bridge per round, above the target {target:g} "
                           f"by {p - target:.2f} ({(p / target - 1) * 100:.0f} %)")
    r = reqs.get(key)
    rs = "-" if not r else (f"{r[0]} (constant)" if len(set(r)) == 1 else f"{min(r)}..{max(r)} not constant")
    print(f"{titles[key]:<22} {len(s):>4} {min(s):>7.3f} {med[key]:>7.3f} {max(s):>7.3f} {ratio:>9} "
          f"{paired:>9} {'-' if target is None else f'{target:g}':>7}  {rs:<24} {clean.get(key, '-')}")
for b in bad:
    print(("FAIL: " if enforce else "note: target missed: ") + b)
sys.exit(1 if bad and enforce else 0)
EOF
}

cleanup() {
  local rc=$? key ids
  set +e
  trap - EXIT INT TERM
  if [ -n "${DOCKER_HOST:-}" ] && dockerd_answers; then remove_docker_objects; fi
  for key in "${!PLUGIN_PID[@]}"; do stop_plugin "$key"; done
  if neutron_answers; then neutron_purge_prefix "$PREFIX"; fi
  if [ "$STARTED_DOCKERD" = 1 ]; then "$ROOT/scripts/dockerd-down.sh" --purge >&2; fi
  if [ "$STARTED_NEUTRON" = 1 ]; then
    # KURYR_STATE elsewhere: neutron-down.sh must not stop a kuryr-server we did not start
    KURYR_STATE="$WORK/no-kuryr" "$ROOT/scripts/neutron-down.sh" >&2
  fi
  if [ "$rc" = 0 ] && [ "${BENCH_KEEP_LOGS:-0}" != 1 ]; then rm -rf "$WORK"; else log "logs kept in $WORK"; fi
  exit "$rc"
}

# start_all: Neutron, the plugins (before dockerd: it waits for the plugins of
# networks it has on disk), dockerd and the image; fills ACTIVE
start_all() {
  local key why
  if ! neutron_answers; then
    log "Neutron does not answer: starting it (scripts/neutron-up.sh)"
    STARTED_NEUTRON=1
    NEUTRON_PORT="${NEUTRON_URL##*:}" "$ROOT/scripts/neutron-up.sh" > /dev/null
  fi
  [ -r "$NEUTRON_LOG" ] || log "Neutron log $NEUTRON_LOG not readable: no request counts"
  neutron_purge_prefix "$PREFIX"   # what a killed run left
  [ -x "$KURYR_BIN" ] || { log "$KURYR_BIN not found (cargo build --release)"; return 1; }
  for key in embedded neutron pools; do write_conf "$key"; done
  start_plugin embedded
  start_plugin neutron
  if ! why="$(pools_supported)"; then
    log "pools: $why"
    echo "pools port pools not available in this build ($why)" >> "$WORK/skipped"
  elif ! start_plugin pools; then
    echo "pools port pools not available in this build (the plugin did not start with [vif_pool])" >> "$WORK/skipped"
  fi
  if [ -n "${DOCKER_HOST:-}" ] && dockerd_answers; then
    log "using the dockerd at $DOCKER_HOST"
  else
    STARTED_DOCKERD=1
    eval "$("$ROOT/scripts/dockerd-up.sh")"
  fi
  DOCKERD_VERSION="$("${D[@]}" version --format '{{.Server.Version}}')"
  DOCKER_HOST="$DOCKER_HOST" "$ROOT/scripts/busybox-image.sh"
  remove_docker_objects   # what a killed run left on a dockerd that outlived it
  for key in "${NETS[@]}"; do
    grep -q "^$key " "$WORK/skipped" 2>/dev/null || ACTIVE+=("$key")
  done
}

# remove_docker_objects: the bench's containers and networks (by its label)
remove_docker_objects() {
  local ids
  ids="$("${D[@]}" ps -aq --filter "label=$LABEL" 2>/dev/null)" || true
  # shellcheck disable=SC2086  # one id per word
  [ -z "$ids" ] || "${D[@]}" rm -f $ids > /dev/null 2>&1 || true
  ids="$("${D[@]}" network ls -q --filter "label=$LABEL" 2>/dev/null)" || true
  # shellcheck disable=SC2086
  [ -z "$ids" ] || "${D[@]}" network rm $ids > /dev/null 2>&1 || true
}

main() {
  [ "$(id -u)" = 0 ] || { log "must run as root"; exit 1; }
  case "$NEUTRON_URL" in http://127.0.0.1:*|http://localhost:*) ;; *) log "NEUTRON_URL must be loopback"; exit 2;; esac
  [[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || { log "RUNS must be a positive number"; exit 2; }
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  local t0=$SECONDS key j n round order
  : > "$WORK/results"; touch "$WORK/skipped" "$WORK/clean"
  start_all
  n=${#ACTIVE[@]}
  echo "docker run benchmark: ${ACTIVE[*]}; 1 warm-up + $RUNS rounds, each network once a round"
  echo "($(nproc) cores, dockerd $DOCKERD_VERSION, $KURYR_BIN, Neutron $NEUTRON_URL)"
  for key in "${ACTIVE[@]}"; do
    create_net "$key" || continue
    if [ "$key" = pools ]; then wait_pool; fi
    run_once "$key" warm-up
  done
  for round in $(seq 1 "$RUNS"); do
    order=()
    for ((j = 0; j < n; j++)); do order+=("${ACTIVE[$(((round - 1 + j) % n))]}"); done
    for key in "${order[@]}"; do
      if [ -n "${DOCKER_ID[$key]:-}" ]; then run_once "$key" "round $round"; fi
    done
  done
  for key in "${ACTIVE[@]}"; do [ -z "${DOCKER_ID[$key]:-}" ] || remove_net "$key"; done
  local rc=0
  if [ -s "$WORK/results" ]; then report || rc=$?; fi
  if [ -s "$WORK/failures" ]; then
    echo "FAIL: $(wc -l < "$WORK/failures") failure(s):"; sed 's/^/  /' "$WORK/failures"
    rc=1
  fi
  echo "bench took $((SECONDS - t0)) s"
  return "$rc"
}

main "$@"
