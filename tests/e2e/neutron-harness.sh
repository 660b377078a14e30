#!/usr/bin/env bash
# Harness for docker-neutron.sh (sourced, not run): the two plugins (ours and
# the Python kuryr-libnetwork) and which one dockerd sees, dockerd start /
# restart / purge, Neutron REST helpers (curl + jq, noauth: NO auth headers),
# the resource snapshot and leak attribution, xfail bookkeeping, cleanup trap.
# Uses the globals set by the suite: ROOT DOCKER KURYR_BIN IMG LABEL WORK
# NEUTRON_URL OURS_URI OURS_CONF PY_PORT PY_SPEC PRIMARY.
# shellcheck disable=SC2034  # globals are read by the suite

log() { echo "e2e: $*" >&2; }
# Our plugin deletes container-level objects (ReleaseAddress's ports) from
# Neutron after it has answered dockerd (src/neutron_driver/teardown.rs). After
# a docker command that may tear a container down, wait for those deletes, so
# the checks that follow see Neutron as it is about to be. `docker network rm`
# needs no such wait: DeleteNetwork answers once the network's ports, subnets,
# network and released pools are gone (issue 8), and the checks after it prove
# that. kuryr-libnetwork deletes before answering.
d() {
  local rc=0
  timeout "${E2E_CMD_TIMEOUT:-120}" "$DOCKER" "$@" || rc=$?
  case "$1 ${2:-}" in
    "rm "*|"run "*|"stop "*|"kill "*|"network disconnect") settle_ours ;;
  esac
  return "$rc"
}
# settle_ours: POST /Kuryr.Settle to our plugin when it is the active one;
# a delete still failing after 60 s is reported, not hidden
settle_ours() {
  [ "${ACTIVE:-}" = ours ] || return 0
  local uri="$OURS_URI" out args=(curl -s --max-time 70 -X POST -H 'Content-Type: application/json'
    --data-binary '{"Timeout":60}')
  case "$uri" in
    unix://*) out="$("${args[@]}" --unix-socket "${uri#unix://}" http://x/Kuryr.Settle 2>/dev/null)" ;;
    *) out="$("${args[@]}" "${uri%/}/Kuryr.Settle" 2>/dev/null)" ;;
  esac
  [[ "$out" == *'"Pending":0'* ]] || log "our plugin has deletes pending: ${out:-no answer from $uri}"
}

# ------------------------------------------------------------------ xfail --
# A case that kuryr-libnetwork 18.0.0 is known to fail calls `xfail_if_py Bn`.
# With E2E_PLUGIN=py every failed check of that case is then counted and shown
# as "xfail (kuryr-libnetwork bug Bn)", never as a pass of the case; if all of
# its checks pass anyway the case records one failure (XPASS), so the marking
# stays honest. With our plugin the case is an ordinary one and must pass.
E2E_XFAILED=0
XFAIL_BUG=""
CASE_XFAILS=0
eval "_lib_fail() $(declare -f fail | tail -n +2)"
fail() {
  if [ -z "$XFAIL_BUG" ]; then _lib_fail "$@"; return 0; fi
  local msg="$1"; shift
  E2E_XFAILED=$((E2E_XFAILED + 1)); CASE_XFAILS=$((CASE_XFAILS + 1))
  printf '  xfail %s (kuryr-libnetwork bug %s)\n' "$msg" "$XFAIL_BUG"
  if [ $# -gt 0 ]; then printf '%s\n' "$@" | cut -c1-400 | _e2e_indent; fi
}
xfail_if_py() { # BUG WHAT
  if [ "$ACTIVE" = py ]; then
    XFAIL_BUG="$1"; CASE_XFAILS=0
    log "expected to fail with kuryr-libnetwork: bug $1 ($2)"
  fi
}
XFAIL_CASES=()
end_case() {
  local bug="$XFAIL_BUG"
  XFAIL_BUG=""
  [ -n "$bug" ] || return 0
  if [ "$CASE_XFAILS" = 0 ]; then
    fail "XPASS: expected kuryr-libnetwork bug $bug to show, but every check passed"
  else
    printf '  => case XFAIL (kuryr-libnetwork bug %s): %s check(s) failed as expected\n' "$bug" "$CASE_XFAILS"
    XFAIL_CASES+=("${E2E_SECTION%% *} $bug")
  fi
}
# must MSG CMD...: like lib.sh's check, but returns CMD's status so a case can
# stop when a prerequisite failed. CMD runs in this shell; output shown on failure.
must() {
  local msg="$1" rc=0; shift
  "$@" >"$WORK/must.out" 2>&1 || rc=$?
  if [ "$rc" = 0 ]; then pass "$msg"; return 0; fi
  fail "$msg" "command:  $*" "exit:     $rc" "output:   $(tail -c 600 "$WORK/must.out")"
  return "$rc"
}
# wait_until SECONDS CMD...: poll every 0.5 s
wait_until() {
  local n=$(($1 * 2)) _; shift
  for _ in $(seq 1 "$n"); do "$@" && return 0; sleep 0.5; done
  "$@"
}

# ---------------------------------------------------------------- neutron --
neutron_answers() {
  [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$NEUTRON_URL/v2.0/networks" 2>/dev/null)" = 200 ]
}
# nreq METHOD PATH [JSON]: body on stdout; fails on a non-2xx answer
nreq() {
  local m="$1" p="$2" body="${3-}" out code
  local args=(curl -s --max-time 60 -X "$m" -w '\n%{http_code}')
  if [ -n "$body" ]; then args+=(-H 'Content-Type: application/json' --data-binary "$body"); fi
  out="$("${args[@]}" "$NEUTRON_URL/v2.0/$p")" || return 1
  code="${out##*$'\n'}"
  printf '%s' "${out%$'\n'*}"
  [[ "$code" == 2* ]]
}
_coll_key() { echo "${1//-/_}"; }
# nlist RESOURCE [key=value...]: the JSON array of the collection (values are URL-encoded)
nlist() {
  local res="$1" a out; shift
  local args=(curl -s --max-time 60 -G "$NEUTRON_URL/v2.0/$res")
  for a in "$@"; do args+=(--data-urlencode "$a"); done
  out="$("${args[@]}")" || return 1
  jq -ce ".$(_coll_key "$res")" <<< "$out"
}
nshow() { nreq GET "$1/$2" | jq -ce ".$3"; }   # nshow ports ID port
nexists() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 "$NEUTRON_URL/v2.0/$1/$2")" = 200 ]; }
# ncreate RES KEY JSON: create, record it for cleanup, print its id
ncreate() {
  local res="$1" key="$2" json="$3" id
  id="$(nreq POST "$res" "{\"$key\": $json}" | jq -re ".$key.id")" || return 1
  echo "$res $id" >> "$WORK/created"
  echo "$id"
}
ndelete() { nreq DELETE "$1/$2" >/dev/null; }
lh() { echo "kuryr.net.uuid.lh:${1:0:32}"; }
uh() { echo "kuryr.net.uuid.uh:${1:32:32}"; }
# Neutron networks carrying the tags of a Docker network (or endpoint) id
nnets_tagged() { nlist networks "tags=$(lh "$1"),$(uh "$1")"; }
nports_tagged() { nlist ports "tags=$(lh "$1"),$(uh "$1")"; }
did() { d network inspect -f '{{.Id}}' "$1"; }
# nnet_of DOCKERNET: the id of the one Neutron network tagged with its id
nnet_of() {
  local id j
  id="$(did "$1")" || return 1
  j="$(nnets_tagged "$id")" || return 1
  [ "$(jq length <<< "$j")" = 1 ] || return 1
  id="$(jq -r '.[0].id' <<< "$j")"
  echo "$id" >> "$WORK/suite-nets"
  echo "$id"
}
# nports_on NETID: ports on the network (ids remembered for leak attribution)
nports_on() {
  local j
  j="$(nlist ports "network_id=$1")" || return 1
  jq -r '.[].id' <<< "$j" >> "$WORK/ports.seen"
  echo "$j"
}
# fullstack's "kuryr port": tagged compute:kuryr, or named <device_id>-port
JQ_KURYR_PORTS='[.[] | select(((.tags // []) | index("compute:kuryr")) or (.name == (.device_id + "-port")))]'
count_ports() { nports_on "$1" | jq length; }
count_kuryr_ports() { nports_on "$1" | jq "$JQ_KURYR_PORTS | length"; }
ep_of() { d inspect -f "{{(index .NetworkSettings.Networks \"$2\").EndpointID}}" "$1"; }
ip_of() { d inspect -f "{{(index .NetworkSettings.Networks \"$2\").IPAddress}}" "$1"; }
ip6_of() { d inspect -f "{{(index .NetworkSettings.Networks \"$2\").GlobalIPv6Address}}" "$1"; }
mac_of() { d inspect -f "{{(index .NetworkSettings.Networks \"$2\").MacAddress}}" "$1"; }

# ------------------------------------------------------ snapshot and leaks --
RESOURCES=(networks subnets subnetpools ports security-groups)
kuryr_links() { ip -o link | awk -F': ' '{sub(/@.*/, "", $2); print $2}' | grep -E '^(tap|t_c)' | sort || true; }
snapshot() {
  local r
  for r in "${RESOURCES[@]}"; do
    nlist "$r" | jq -r '.[].id' | sort > "$WORK/snap.$r" || { log "cannot list Neutron $r"; return 1; }
  done
  kuryr_links > "$WORK/snap.links"
}
# new_since_snapshot RES: JSON array of the resources not in the snapshot
new_since_snapshot() {
  nlist "$1" | jq -c --rawfile old "$WORK/snap.$1" '($old | split("\n")) as $o | [.[] | select(.id as $i | $o | index($i) | not)]'
}
_idlist() { if [ -s "$1" ]; then sort -u "$1" | jq -R . | jq -cs .; else echo '[]'; fi; }
# attributed RES: new resources this suite made (directly or through the
# plugin). Everything else that is new is only reported: Neutron is shared.
attributed() {
  local res="$1" nets seen created dids
  nets="$(cat "$WORK/suite-nets" "$WORK/created" 2>/dev/null | awk '{print $NF}' > "$WORK/nets.all"; _idlist "$WORK/nets.all")"
  seen="$(_idlist "$WORK/ports.seen")"
  created="$(awk '{print $2}' "$WORK/created" 2>/dev/null > "$WORK/created.ids"; _idlist "$WORK/created.ids")"
  dids="$(cut -c1-32 "$WORK/docker-nets" 2>/dev/null | sed 's/^/kuryr.net.uuid.lh:/' > "$WORK/lh.all"; _idlist "$WORK/lh.all")"
  new_since_snapshot "$res" | jq -c --argjson nets "$nets" --argjson seen "$seen" \
    --argjson created "$created" --argjson lhs "$dids" --arg re "$SUITE_CIDR_RE" --arg res "$res" '
    [.[] | select(
      (.id as $i | $created | index($i)) or
      ((.name // "") | startswith("ke2en-")) or
      ($res == "networks" and (((.tags // []) - ((.tags // []) - $lhs)) | length > 0)) or
      ($res == "networks" and (.id as $i | $nets | index($i))) or
      (($res == "subnets" or $res == "ports") and (.network_id as $i | $nets | index($i))) or
      ($res == "subnets" and (.cidr | test($re))) or
      ($res == "subnetpools" and ((.name // "") | startswith("kuryrPool-")) and ((.prefixes // []) | any(test($re)))) or
      ($res == "security-groups" and ((.name // "") | endswith("-exposed_ports")) and
         ((.name | sub("-exposed_ports$"; "")) as $p | $seen | index($p)))
    )]'
}
# delete_attributed: remove what the suite left in Neutron (ports first)
delete_attributed() {
  local r id
  for r in ports security-groups subnets networks subnetpools; do
    for id in $(attributed "$r" | jq -r '.[].id'); do
      ndelete "$r" "$id" || log "could not delete leaked $r $id"
    done
  done
}

# ----------------------------------------------------------------- plugins --
# ACTIVE: which plugin dockerd is set up to use (ours | py | "")
ACTIVE=""
OURS_PID=""
STARTED_PY=0
WROTE_PY_SPEC=0
WROTE_OURS_SPEC=""

# answers URI: POST /Plugin.Activate on unix:///path or http://127.0.0.1:PORT
answers() {
  local uri="$1" out
  case "$uri" in
    unix://*) out="$(curl -s --max-time 2 --unix-socket "${uri#unix://}" -X POST http://x/Plugin.Activate 2>/dev/null)" ;;
    *) out="$(curl -s --max-time 2 -X POST "${uri%/}/Plugin.Activate" 2>/dev/null)" ;;
  esac || return 1
  [[ "$out" == *NetworkDriver* && "$out" == *IpamDriver* ]]
}
py_uri() { echo "http://127.0.0.1:$PY_PORT"; }
PY_PIDFILE="${KURYR_STATE:-/var/lib/kuryr}/kuryr-server.pid"
pid_is() { [ -n "$1" ] && [ -r "/proc/$1/cmdline" ] && tr '\0' ' ' < "/proc/$1/cmdline" | grep -qF -- "$2"; }

write_ours_config() {
  mkdir -p "$WORK/state"
  {
    echo "[DEFAULT]"
    echo "backend = neutron"
    echo "kuryr_uri = $OURS_URI"
    echo "state_dir = $WORK/state"
    # a TCP listener publishes <spec_dir>/kuryr.spec; dockerd reads /etc/docker/plugins
    if [[ "$OURS_URI" != unix://* ]]; then echo "spec_dir = ${E2E_OURS_SPEC_DIR:-/etc/docker/plugins}"; fi
    echo "debug = True"
    echo
    echo "[neutron]"
    echo "auth_type = none"
    echo "endpoint = $NEUTRON_URL"
    # as scripts/kuryr-py-up.sh configures kuryr-libnetwork: no DHCP ports
    echo "enable_dhcp = False"
  } > "$OURS_CONF"
}

# ours_start: start our plugin (or $E2E_OURS_CMD) and wait until it answers
ours_start() {
  local _ ospec="${E2E_OURS_SPEC_DIR:-/etc/docker/plugins}/kuryr.spec"
  if answers "$OURS_URI"; then log "something already answers on $OURS_URI; stop it first"; return 1; fi
  echo "--- start $(date -u +%T)" >> "$WORK/ours.log"
  if [ -n "${E2E_OURS_CMD:-}" ]; then
    bash -c "exec $E2E_OURS_CMD" >> "$WORK/ours.log" 2>&1 &
  else
    "$KURYR_BIN" serve --config-file "$OURS_CONF" >> "$WORK/ours.log" 2>&1 &
  fi
  OURS_PID=$!
  for _ in $(seq 1 150); do
    if answers "$OURS_URI"; then
      # a stand-in command may not publish the spec file itself
      if [[ "$OURS_URI" != unix://* ]] && [ ! -e "$ospec" ]; then
        mkdir -p "$(dirname "$ospec")"; echo "${OURS_URI%/}" > "$ospec"; WROTE_OURS_SPEC="$ospec"
      fi
      log "our plugin ready (pid $OURS_PID, $OURS_URI)"; return 0
    fi
    kill -0 "$OURS_PID" 2>/dev/null || break
    sleep 0.2
  done
  log "our plugin did not come up; last log lines ($WORK/ours.log):"
  tail -n 15 "$WORK/ours.log" >&2
  ours_stop
  return 1
}
ours_stop() {
  local pid="$OURS_PID" _
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 75); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  wait "$pid" 2>/dev/null || true
  OURS_PID=""
  if [ -n "$WROTE_OURS_SPEC" ]; then rm -f "$WROTE_OURS_SPEC"; WROTE_OURS_SPEC=""; fi
  if [[ "$OURS_URI" == unix://* ]] && ! answers "$OURS_URI"; then rm -f "${OURS_URI#unix://}"; fi
}

# py_start: kuryr-libnetwork via scripts/kuryr-py-up.sh (starts Neutron if needed);
# reuses a kuryr-server that already answers (then it is not ours to stop)
py_start() {
  if [ -s "$PY_PIDFILE" ] && pid_is "$(cat "$PY_PIDFILE")" kuryr-server && answers "$(py_uri)"; then
    log "reusing the running kuryr-server (pid $(cat "$PY_PIDFILE"))"; return 0
  fi
  if answers "$(py_uri)"; then log "an unknown plugin answers on $(py_uri); stop it first"; return 1; fi
  KURYR_PORT="$PY_PORT" NEUTRON_URL="$NEUTRON_URL" "$ROOT/scripts/kuryr-py-up.sh" > /dev/null || return 1
  STARTED_PY=1
}
py_stop() {
  local pid _
  [ "$STARTED_PY" = 1 ] || return 0
  pid="$(cat "$PY_PIDFILE" 2>/dev/null || true)"
  if pid_is "$pid" kuryr-server; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do pid_is "$pid" kuryr-server || break; sleep 0.25; done
    pid_is "$pid" kuryr-server && kill -KILL "$pid" 2>/dev/null
    rm -f "$PY_PIDFILE"
  fi
  STARTED_PY=0
}
py_register() { mkdir -p "$(dirname "$PY_SPEC")"; py_uri > "$PY_SPEC"; WROTE_PY_SPEC=1; }
py_unregister() { if [ "$WROTE_PY_SPEC" = 1 ]; then rm -f "$PY_SPEC"; WROTE_PY_SPEC=0; fi; }

# dockerd looks for kuryr as /run/docker/plugins/kuryr.sock, then
# /etc/docker/plugins/kuryr.spec, then /usr/lib/docker/plugins/kuryr/kuryr.spec:
# refuse to run when one we do not control would shadow the plugin we want.
foreign_registration() {
  local f
  for f in /run/docker/plugins/kuryr.sock /run/docker/plugins/kuryr/kuryr.sock \
           /etc/docker/plugins/kuryr.spec /etc/docker/plugins/kuryr.json \
           /usr/lib/docker/plugins/kuryr/kuryr.spec /usr/lib/docker/plugins/kuryr.spec; do
    [ -e "$f" ] || continue
    [ "$f" = "$PY_SPEC" ] && [ "$WROTE_PY_SPEC" = 1 ] && continue
    [ -n "$WROTE_OURS_SPEC" ] && [ "$f" = "$WROTE_OURS_SPEC" ] && continue
    [ -n "$OURS_PID" ] && [[ "$OURS_URI" == unix://* ]] && [ "$f" = "${OURS_URI#unix://}" ] && continue
    [ -n "$OURS_PID" ] && [[ "$OURS_URI" != unix://* ]] && [ "$f" = "${E2E_OURS_SPEC_DIR:-/etc/docker/plugins}/kuryr.spec" ] && continue
    if [[ "$f" == *.sock ]] && ! answers "unix://$f"; then rm -f "$f"; continue; fi   # stale
    echo "$f"
  done
}

# use_plugin ours|py: make exactly that one the registered "kuryr"; the other
# is stopped (ours) or unregistered (py). dockerd must be restarted afterwards
# if it talked to the other one (it caches the plugin's address and capabilities).
use_plugin() {
  local want="$1" other
  if [ "$want" = ours ]; then
    py_unregister
    [ -n "$OURS_PID" ] || ours_start || return 1
  else
    ours_stop
    py_start || return 1
    py_register
  fi
  other="$(foreign_registration)"
  if [ -n "$other" ]; then log "another kuryr registration shadows ours: $other"; return 1; fi
  ACTIVE="$want"
  log "plugin kuryr = $want"
}

# ---------------------------------------------------------------- dockerd --
STARTED_DOCKERD=0
dockerd_answers() {
  [ "$(curl -s --max-time 2 --unix-socket "${DOCKER_HOST#unix://}" http://localhost/_ping 2>/dev/null)" = OK ]
}
dockerd_pid() { cat "${DOCKERD_PIDFILE:-/run/docker-test.pid}" 2>/dev/null || true; }
dockerd_start() {
  eval "$("$ROOT/scripts/dockerd-up.sh")"
}
dockerd_stop() { "$ROOT/scripts/dockerd-down.sh" >&2 || true; }
# dockerd_restart: only a dockerd this suite started; networks stay on disk
dockerd_restart() {
  [ "$STARTED_DOCKERD" = 1 ] || { log "dockerd was not started by this suite: not restarting it"; return 1; }
  dockerd_stop
  dockerd_start
}
# like dockerd-down.sh --purge, but the exec root is /var/run/docker, which
# also holds dockerd's plugin directory: keep /run/docker/plugins
dockerd_purge() {
  local base m e
  for base in "$DOCKERD_EXEC_ROOT" "$DOCKERD_DATA_ROOT"; do
    awk -v b="$base/" 'index($2, b) == 1 {print $2}' /proc/mounts | sort -r |
      while read -r m; do umount -l "$m" 2>/dev/null || true; done
  done
  rm -rf --one-file-system "$DOCKERD_DATA_ROOT" "$DOCKERD_EXEC_ROOT.json"
  if [ -d "$DOCKERD_EXEC_ROOT" ]; then
    for e in "$DOCKERD_EXEC_ROOT"/* "$DOCKERD_EXEC_ROOT"/.[!.]*; do
      [ -e "$e" ] || continue
      [ "$(basename "$e")" = plugins ] && continue
      rm -rf --one-file-system "$e"
    done
  fi
  log "purged $DOCKERD_DATA_ROOT and $DOCKERD_EXEC_ROOT (but plugins/)"
}
# kuryr-libnetwork's Join accepts only SandboxKey /var/run/docker/netns/<12 hex>
# (bug B18): dockerd must run with --exec-root /var/run/docker
dockerd_exec_root_ok() {
  local pid
  pid="$(dockerd_pid)"
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] &&
    tr '\0' ' ' < "/proc/$pid/cmdline" | grep -qE -- '--exec-root /var/run/docker( |$)'
}

remove_test_objects() {
  local ids
  ids="$(d ps -aq --filter "label=$LABEL" 2>/dev/null || true)"
  # shellcheck disable=SC2086  # one id per word
  [ -z "$ids" ] || d rm -f $ids > /dev/null 2>&1 || true
  ids="$(d network ls -q --filter "label=$LABEL" 2>/dev/null || true)"
  # shellcheck disable=SC2086
  [ -z "$ids" ] || d network rm $ids > /dev/null 2>&1 || true
}

# net NAME ARGS...: a kuryr network labelled for cleanup; its id is remembered
net() {
  local name="$1" out rc=0; shift
  out="$(d network create -d kuryr --ipam-driver kuryr --label "$LABEL" "$@" "$name" 2>&1)" || rc=$?
  echo "$out"
  [ "$rc" = 0 ] && echo "$out" | tail -n 1 >> "$WORK/docker-nets"
  return "$rc"
}
# ctr NAME NET [docker run args...]: detached sleeper
ctr() {
  local name="$1" n="$2"; shift 2
  d run -d --name "$name" --label "$LABEL" --network "$n" "$@" "$IMG" sleep 600 2>&1 | grep -v 'IPv4 forwarding'
  [ "${PIPESTATUS[0]}" = 0 ]
}
# links added since the file $1 was written (tap*/t_c*)
new_links() { comm -13 "$1" <(kuryr_links); }
# drop_links FILE: delete the tap*/t_c* veths new since FILE (a pair goes with either end)
drop_links() {
  local l
  for l in $(new_links "$1"); do
    if ip -o -d link show dev "$l" 2>/dev/null | grep -qw veth; then
      log "deleting leaked veth $l"; ip link del "$l" 2>/dev/null || true
    fi
  done
}

# ---------------------------------------------------------------- cleanup --
cleanup() {
  local rc=$? r id
  set +e
  trap - EXIT INT TERM
  XFAIL_BUG=""
  if [ -n "$ACTIVE" ] && dockerd_answers; then remove_test_objects; fi
  ours_stop
  py_unregister
  py_stop
  # what the suite created in Neutron itself (pre-made networks, ports, pools),
  # newest first; ports the plugin left on those networks go first
  if [ -s "$WORK/created" ] && neutron_answers; then
    # shellcheck disable=SC2013  # one id per line
    for id in $(awk '$1 == "networks" {print $2}' "$WORK/created"); do
      for r in $(nlist ports "network_id=$id" | jq -r '.[].id'); do ndelete ports "$r"; done
    done
    tac "$WORK/created" | while read -r r id; do
      if nexists "$r" "$id"; then ndelete "$r" "$id" || log "could not delete $r $id"; fi
    done
  fi
  if [ "${E2E_KEEP_LEAKS:-0}" != 1 ] && [ -s "$WORK/snap.networks" ] && neutron_answers; then
    delete_attributed
  fi
  if [ "${E2E_KEEP_LEAKS:-0}" != 1 ] && [ -f "$WORK/snap.links" ]; then drop_links "$WORK/snap.links"; fi
  if [ "$STARTED_DOCKERD" = 1 ] && [ "${KEEP_DOCKERD:-0}" != 1 ]; then
    dockerd_stop
    dockerd_purge
  fi
  if [ "$STARTED_NEUTRON" = 1 ] && [ "${E2E_KEEP_NEUTRON:-0}" != 1 ]; then
    # KURYR_STATE elsewhere: neutron-down.sh must not stop a kuryr-server we did not start
    KURYR_STATE="$WORK/no-kuryr" "$ROOT/scripts/neutron-down.sh" >&2
  fi
  if [ "$rc" = 0 ] && [ "${E2E_KEEP_LOGS:-0}" != 1 ]; then rm -rf "$WORK"; else log "logs kept in $WORK"; fi
  exit "$rc"
}
