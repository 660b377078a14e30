#!/usr/bin/env bash
# Side-by-side benchmark: one Docker network lifecycle (scripts/kuryr-lifecycle.sh,
# the calls dockerd makes for network create + one container + network rm)
# against the Python kuryr-libnetwork 18.0.0 and against our plugin with the
# Neutron backend, both talking to the same real Neutron 29 on loopback.
#
#   bash benches/neutron_lifecycle.sh              (as root)
#
#  - Neutron: used if it answers, else started with scripts/neutron-up.sh and
#    stopped at the end (only then)
#  - kuryr-py: scripts/kuryr-py-up.sh on 127.0.0.1:$BENCH_PY_PORT (reused if it
#    already runs; stopped at the end only if started here)
#  - ours: "$KURYR_BIN serve --config-file F" on $BENCH_OURS_URI, F generated
#    here with the settings kuryr-py-up.sh gives kuryr-libnetwork
#    (process_external_connectivity = False, enable_dhcp = False), spec file in
#    a temp dir: dockerd never sees either plugin
#  - one warm-up lifecycle each (not counted), then RUNS lifecycles each,
#    back to back in pairs (py first in odd runs, ours first in even ones),
#    each with COUNT_NEUTRON_LOG (Neutron's uWSGI log)
#    so every run reports how many Neutron API requests it caused
#  - prints a table: Neutron requests per lifecycle (all runs; should be
#    constant, and include the deletes ours runs after answering Docker),
#    wall time min / median / max (what Docker waits for), the median time
#    until Neutron is clean (what everyone but dockerd sees: until
#    kuryr-lifecycle.sh's /Kuryr.Settle returns; ours answers DeleteNetwork
#    once its network's deletes are done, so little is left by then), the
#    median of the DeleteNetwork call alone (what `docker network rm` waits
#    for), and the ratios ours/py
#
# Exit status: 1 if a lifecycle failed; with BENCH_ENFORCE=1 (default) also 1
# if ours made more than $BENCH_MAX_REQUESTS Neutron requests in a lifecycle
# or the median over runs of its time until clean divided by kuryr-py's in the
# same run exceeds $BENCH_MAX_CLEAN_RATIO.
# Neutron may be shared: requests made by others during a run are counted too
# (the table then shows them as "not constant").
#
# Env (defaults in brackets):
#   RUNS [5]                 BENCH_ENFORCE [1]   (0 = report only)
#   BENCH_ONLY [both] | py | ours    run one implementation (no ratios, no enforcement)
#   KURYR_BIN [target/release/kuryr] BENCH_OURS_URI [http://127.0.0.1:23751]
#                                    (or unix:///path/to.sock)
#   BENCH_PY_PORT [23750]    BENCH_MAX_REQUESTS [11]   BENCH_MAX_CLEAN_RATIO [0.4]
#   BENCH_PY_SUBNET [10.20.0.0/24]   BENCH_OURS_SUBNET [10.21.0.0/24]
#   NEUTRON_URL [http://127.0.0.1:9696]   NEUTRON_LOG [/var/log/neutron/neutron-api.log]
#   BENCH_KEEP_LOGS=1
# Debug knob: BENCH_OURS_CMD  shell command serving $BENCH_OURS_URI instead of
#   our binary (e.g. a second kuryr-server), to exercise the two-plugin mechanics.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
RUNS="${RUNS:-5}"
ENFORCE="${BENCH_ENFORCE:-1}"
ONLY="${BENCH_ONLY:-both}"
KURYR_BIN="${KURYR_BIN:-target/release/kuryr}"
[[ "$KURYR_BIN" = /* ]] || KURYR_BIN="$ROOT/$KURYR_BIN"
OURS_URI="${BENCH_OURS_URI:-http://127.0.0.1:23751}"
PY_PORT="${BENCH_PY_PORT:-23750}"
MAX_REQ="${BENCH_MAX_REQUESTS:-11}"
MAX_CLEAN_RATIO="${BENCH_MAX_CLEAN_RATIO:-0.4}"
NEUTRON_URL="${NEUTRON_URL:-http://127.0.0.1:9696}"
NEUTRON_LOG="${NEUTRON_LOG:-/var/log/neutron/neutron-api.log}"
PY_PIDFILE="${KURYR_STATE:-/var/lib/kuryr}/kuryr-server.pid"
WORK="$(mktemp -d /tmp/kuryr-bench.XXXXXX)"
STARTED_NEUTRON=0
STARTED_PY=0
OURS_PID=""

log() { echo "bench: $*" >&2; }
pid_is() { [ -n "$1" ] && [ -r "/proc/$1/cmdline" ] && tr '\0' ' ' < "/proc/$1/cmdline" | grep -qF -- "$2"; }
neutron_answers() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$NEUTRON_URL/v2.0/networks")" = 200 ]; }
answers() {
  local out
  case "$1" in
    unix://*) out="$(curl -s --max-time 2 --unix-socket "${1#unix://}" -X POST http://x/Plugin.Activate 2>/dev/null)" ;;
    *) out="$(curl -s --max-time 2 -X POST "${1%/}/Plugin.Activate" 2>/dev/null)" ;;
  esac || return 1
  [[ "$out" == *NetworkDriver* && "$out" == *IpamDriver* ]]
}
# what kuryr-lifecycle.sh takes: a loopback URL or a socket path
target_of() { case "$1" in unix://*) echo "${1#unix://}" ;; *) echo "${1%/}" ;; esac; }

cleanup() {
  local rc=$? pid _
  set +e
  trap - EXIT INT TERM
  if [ -n "$OURS_PID" ]; then
    kill -TERM "$OURS_PID" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$OURS_PID" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$OURS_PID" 2>/dev/null; wait "$OURS_PID" 2>/dev/null
  fi
  if [ "$STARTED_PY" = 1 ]; then
    pid="$(cat "$PY_PIDFILE" 2>/dev/null)"
    if pid_is "$pid" kuryr-server; then
      kill -TERM "$pid"
      for _ in $(seq 1 40); do pid_is "$pid" kuryr-server || break; sleep 0.25; done
      rm -f "$PY_PIDFILE"
    fi
  fi
  if [ "$STARTED_NEUTRON" = 1 ]; then
    KURYR_STATE="$WORK/no-kuryr" "$ROOT/scripts/neutron-down.sh" >&2
  fi
  if [ "$rc" = 0 ] && [ "${BENCH_KEEP_LOGS:-0}" != 1 ]; then rm -rf "$WORK"; else log "logs kept in $WORK"; fi
  exit "$rc"
}

start_ours() {
  local _
  if answers "$OURS_URI"; then log "something already answers on $OURS_URI; stop it first"; return 1; fi
  mkdir -p "$WORK/state" "$WORK/spec"
  cat > "$WORK/kuryr.conf" <<EOF
[DEFAULT]
backend = neutron
kuryr_uri = $OURS_URI
state_dir = $WORK/state
spec_dir = $WORK/spec
process_external_connectivity = False

[neutron]
auth_type = none
endpoint = $NEUTRON_URL
enable_dhcp = False
EOF
  if [ -n "${BENCH_OURS_CMD:-}" ]; then
    bash -c "exec $BENCH_OURS_CMD" >> "$WORK/ours.log" 2>&1 &
  else
    [ -x "$KURYR_BIN" ] || { log "$KURYR_BIN not found (cargo build --release, or BENCH_ONLY=py)"; return 1; }
    "$KURYR_BIN" serve --config-file "$WORK/kuryr.conf" >> "$WORK/ours.log" 2>&1 &
  fi
  OURS_PID=$!
  for _ in $(seq 1 150); do
    if answers "$OURS_URI"; then log "ours ready (pid $OURS_PID, $OURS_URI)"; return 0; fi
    kill -0 "$OURS_PID" 2>/dev/null || break
    sleep 0.2
  done
  log "ours did not come up:"; tail -n 5 "$WORK/ours.log" >&2
  return 1
}

start_py() {
  if [ -s "$PY_PIDFILE" ] && pid_is "$(cat "$PY_PIDFILE")" kuryr-server && answers "http://127.0.0.1:$PY_PORT"; then
    log "reusing the running kuryr-server (pid $(cat "$PY_PIDFILE"))"; return 0
  fi
  KURYR_PORT="$PY_PORT" NEUTRON_URL="$NEUTRON_URL" "$ROOT/scripts/kuryr-py-up.sh" > /dev/null
  STARTED_PY=1
}

# one IMPL LABEL: one lifecycle; appends "IMPL requests wall settled delnet" to $WORK/results
one() {
  local impl="$1" label="$2" uri subnet out rc=0 req wall settled delnet
  if [ "$impl" = py ]; then uri="http://127.0.0.1:$PY_PORT"; subnet="${BENCH_PY_SUBNET:-10.20.0.0/24}"
  else uri="$OURS_URI"; subnet="${BENCH_OURS_SUBNET:-10.21.0.0/24}"; fi
  out="$(SUBNET="$subnet" COUNT_NEUTRON_LOG="$NEUTRON_LOG" "$ROOT/scripts/kuryr-lifecycle.sh" "$(target_of "$uri")" 2>&1)" || rc=$?
  req="$(sed -n 's/^neutron-requests: \([0-9]*\).*/\1/p' <<< "$out")"
  wall="$(sed -n 's/^lifecycle: .*, \([0-9.]*\) s wall.*/\1/p' <<< "$out")"
  settled="$(sed -n 's/^settled: \([0-9.]*\) s wall.*/\1/p' <<< "$out")"
  delnet="$(sed -n 's/^delete-network: \([0-9.]*\) s wall.*/\1/p' <<< "$out")"
  printf '  %-8s %-5s %4s Neutron requests  %7s s  (clean at %7s s, DeleteNetwork %6s s)%s\n' "$label" "$impl" "${req:-?}" "${wall:-?}" "${settled:-?}" "${delnet:-?}" \
    "$([ "$rc" = 0 ] || echo "  FAILED")"
  if [ "$rc" != 0 ]; then
    printf "      %s\n" "${out//$'\n'/$'\n'      }" >&2
    echo "$impl" >> "$WORK/failures"
    return 0
  fi
  [ "$label" = warm-up ] || echo "$impl $req $wall $settled ${delnet:-0} ${label#run }" >> "$WORK/results"
}

report() {
  python3 - "$WORK/results" "$MAX_REQ" "$MAX_CLEAN_RATIO" "$ENFORCE" "$ONLY" <<'EOF'
import statistics, sys
path, max_req, max_clean_ratio, enforce, only = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4] == "1", sys.argv[5]
rows = {}
by_run = {}
for line in open(path):
    impl, req, wall, settled, delnet, run = line.split()
    rows.setdefault(impl, []).append((int(req), float(wall), float(settled), float(delnet)))
    by_run.setdefault(run, {})[impl] = float(settled)
print()
print("wall: what Docker waits for (the lifecycle's calls); clean: until Neutron holds")
print("nothing of it (what everyone but dockerd sees); DeleteNetwork: that call alone")
print(f"{'impl':<6} {'runs':>4}  {'neutron requests / lifecycle':<30} {'wall s: min':>11} {'median':>8} {'max':>8} {'clean median':>13} {'DeleteNetwork median':>21}")
med = {}
clean = {}
delnet = {}
reqs = {}
for impl in ("py", "ours"):
    if impl not in rows:
        continue
    r = [x[0] for x in rows[impl]]
    w = [x[1] for x in rows[impl]]
    med[impl] = statistics.median(w)
    clean[impl] = statistics.median(x[2] for x in rows[impl])
    delnet[impl] = statistics.median(x[3] for x in rows[impl])
    reqs[impl] = max(r)
    rs = f"{r[0]} (constant)" if len(set(r)) == 1 else f"{min(r)}..{max(r)} NOT constant: {r}"
    print(f"{impl:<6} {len(r):>4}  {rs:<30} {min(w):>11.3f} {med[impl]:>8.3f} {max(w):>8.3f} {clean[impl]:>13.3f} {delnet[impl]:>21.3f}")
bad = []
if "py" in med and "ours" in med:
    # The guard compares each run's pair (py and ours back to back, so under the
    # same machine load) and takes the median of those ratios: a ratio of two
    # medians drifts with load that changes during the bench (CI saw 0.31 and
    # 0.43 on the same code), a paired ratio much less.
    paired = sorted(r["ours"] / r["py"] for r in by_run.values() if "ours" in r and "py" in r)
    pair_med = statistics.median(paired)
    print(f"ratio ours/py: Neutron requests {reqs['ours'] / reqs['py']:.2f}, "
          f"median wall {med['ours'] / med['py']:.2f}, "
          f"median until clean {clean['ours'] / clean['py']:.2f}, "
          f"median DeleteNetwork {delnet['ours'] / max(delnet['py'], 1e-6):.2f}")
    print(f"until clean, per run (paired): {' '.join(f'{x:.2f}' for x in paired)}; "
          f"median {pair_med:.2f} (limit {max_clean_ratio:g})")
    if reqs["ours"] > max_req:
        bad.append(f"ours made {reqs['ours']} Neutron requests in a lifecycle (limit {max_req})")
    if pair_med > max_clean_ratio:
        bad.append(f"ours' paired median until clean is {pair_med:.2f} x kuryr-py's, above {max_clean_ratio:g}")
elif "ours" in reqs and reqs["ours"] > max_req:
    bad.append(f"ours made {reqs['ours']} Neutron requests in a lifecycle (limit {max_req})")
for b in bad:
    print(("FAIL: " if enforce else "note: ") + b)
sys.exit(1 if bad and enforce else 0)
EOF
}

main() {
  [ "$(id -u)" = 0 ] || { log "must run as root"; exit 1; }
  case "$ONLY" in both|py|ours) ;; *) log "BENCH_ONLY must be both, py or ours"; exit 2;; esac
  case "$NEUTRON_URL" in http://127.0.0.1:*|http://localhost:*) ;; *) log "NEUTRON_URL must be loopback"; exit 2;; esac
  case "$OURS_URI" in http://127.0.0.1:*|unix:///*) ;; *) log "BENCH_OURS_URI must be http://127.0.0.1:PORT or unix:///path"; exit 2;; esac
  [[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || { log "RUNS must be a positive number"; exit 2; }
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  if ! neutron_answers; then
    log "Neutron does not answer: starting it (scripts/neutron-up.sh)"
    STARTED_NEUTRON=1
    NEUTRON_PORT="${NEUTRON_URL##*:}" "$ROOT/scripts/neutron-up.sh" > /dev/null
  fi
  [ -r "$NEUTRON_LOG" ] || { log "Neutron log $NEUTRON_LOG not readable (needed to count requests)"; exit 1; }
  local impls=()
  if [ "$ONLY" != ours ]; then start_py; impls+=(py); fi
  if [ "$ONLY" != py ]; then
    if start_ours; then impls+=(ours)
    elif [ "$ENFORCE" = 1 ] || [ "$ONLY" = ours ]; then exit 1
    else log "BENCH_ENFORCE=0: going on with kuryr-py only"; ONLY=py
    fi
  fi
  : > "$WORK/results"
  local i impl
  echo "Neutron lifecycle benchmark: ${impls[*]}, 1 warm-up + $RUNS runs each (scripts/kuryr-lifecycle.sh)"
  for impl in "${impls[@]}"; do one "$impl" warm-up; done
  # Odd runs py first, even runs ours first, so neither always runs in the
  # wake of the other's deletes.
  local order=("${impls[@]}") rev=()
  for ((i = ${#impls[@]} - 1; i >= 0; i--)); do rev+=("${impls[$i]}"); done
  for i in $(seq 1 "$RUNS"); do
    if (( i % 2 )); then order=("${impls[@]}"); else order=("${rev[@]}"); fi
    for impl in "${order[@]}"; do one "$impl" "run $i"; done
  done
  local rc=0
  if [ -s "$WORK/results" ]; then report || rc=$?; fi
  if [ "$ONLY" != both ]; then echo "(BENCH_ONLY=$ONLY: no comparison)"; fi
  if [ -s "$WORK/failures" ]; then
    echo "FAIL: $(wc -l < "$WORK/failures") lifecycle(s) failed: $(sort "$WORK/failures" | uniq -c | paste -sd, | tr -s ' ')"
    rc=1
  fi
  return "$rc"
}

main "$@"
