#!/usr/bin/env bash
# Harness for docker-embedded.sh (sourced, not run): plugin lifecycle by PID,
# dockerd detection, cleanup trap, docker/ip helpers. Uses the globals set
# by the suite: ROOT DOCKER KURYR_BIN IMG LABEL SOCK FAKE FAKE_BRIDGE WORK
# KURYR_CONF PLUGIN_LOG PLUGIN_PID STARTED_DOCKERD.
# shellcheck disable=SC2034  # PLUGIN_PID etc. are read by the suite

log() { echo "e2e: $*" >&2; }
d() { timeout "${E2E_CMD_TIMEOUT:-120}" "$DOCKER" "$@"; }

# ---------------------------------------------------------------- plugin --
write_config() {
  mkdir -p "$WORK/state"
  cat > "$KURYR_CONF" <<EOC
[DEFAULT]
backend = embedded
state_dir = $WORK/state
kuryr_uri = unix://$SOCK
debug = True
EOC
}

plugin_ready() {
  local out
  out="$(curl -s --max-time 2 --unix-socket "$SOCK" -X POST http://x/Plugin.Activate 2>/dev/null)" || return 1
  [ "${out// /}" = '{"Implements":["NetworkDriver","IpamDriver"]}' ]
}

plugin_start() {
  local cmd="${KURYR_PLUGIN_CMD:-}"
  if [ -n "$FAKE" ]; then
    cmd="python3 '$FAKE' --sock '$SOCK' --bridge $FAKE_BRIDGE --log '$WORK/fake.jsonl'"
  fi
  mkdir -p "$(dirname "$SOCK")"
  echo "--- start $(date -u +%T)" >> "$PLUGIN_LOG"
  # exec: $! must be the plugin itself, so kill -9 and SIGTERM reach it
  if [ -n "$cmd" ]; then
    bash -c "exec $cmd" >> "$PLUGIN_LOG" 2>&1 &
  else
    "$KURYR_BIN" serve --config-file "$KURYR_CONF" >> "$PLUGIN_LOG" 2>&1 &
  fi
  PLUGIN_PID=$!
  local _
  for _ in $(seq 1 150); do
    if plugin_ready; then log "plugin ready (pid $PLUGIN_PID)"; return 0; fi
    if ! kill -0 "$PLUGIN_PID" 2>/dev/null; then break; fi
    sleep 0.2
  done
  log "plugin not ready (pid $PLUGIN_PID); last log lines:"
  tail -n 30 "$PLUGIN_LOG" >&2
  return 1
}

# plugin_stop [SIGNAL]: signal our plugin by PID only, wait, SIGKILL after 15 s
plugin_stop() {
  local sig="${1:-TERM}" pid="$PLUGIN_PID" _
  [ -n "$pid" ] || return 0
  kill "-$sig" "$pid" 2>/dev/null || true
  for _ in $(seq 1 75); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then
    log "plugin pid $pid ignored SIG$sig for 15 s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
  PLUGIN_PID=""
}

# A socket from a killed run answers nothing; one that answers belongs to a
# kuryr we did not start, which we must neither kill nor shadow.
check_socket_free() {
  if plugin_ready; then
    log "another plugin already serves $SOCK; stop it first"; exit 1
  fi
  rm -f "$SOCK"
}

# ---------------------------------------------------------------- docker --
dockerd_answers() {
  [ "$(curl -s --max-time 2 --unix-socket "${DOCKER_HOST#unix://}" http://localhost/_ping 2>/dev/null)" = OK ]
}

remove_test_objects() {
  local ids
  ids="$(d ps -aq --filter "label=$LABEL" 2>/dev/null || true)"
  # shellcheck disable=SC2086  # one id per word
  [ -z "$ids" ] || d rm -f $ids >/dev/null 2>&1 || true
  ids="$(d network ls -q --filter "label=$LABEL" 2>/dev/null || true)"
  # shellcheck disable=SC2086
  [ -z "$ids" ] || d network rm $ids >/dev/null 2>&1 || true
}

cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  if [ -n "$PLUGIN_PID" ] && dockerd_answers; then remove_test_objects; fi
  plugin_stop TERM
  # the suite's own host changes (docker-embedded.sh's outside namespace)
  if declare -F pub_down >/dev/null; then pub_down; fi
  if [ -n "$FAKE" ]; then ip link del "$FAKE_BRIDGE" 2>/dev/null; fi
  if [ "$STARTED_DOCKERD" = 1 ] && [ "${KEEP_DOCKERD:-0}" != 1 ]; then
    # purge: a data root holding kuryr networks would make the next dockerd
    # wait ~16 s for a plugin that is not there yet
    "$ROOT/scripts/dockerd-down.sh" --purge
  fi
  if [ "$rc" = 0 ] && [ "${E2E_KEEP_LOGS:-0}" != 1 ]; then rm -rf "$WORK"; else log "logs kept in $WORK (plugin.log)"; fi
  exit "$rc"
}

# net NAME ARGS...: create a kuryr network labelled for cleanup
net() {
  local name="$1"; shift
  d network create -d kuryr --ipam-driver kuryr --label "$LABEL" "$@" "$name"
}
# ctr NAME NET [docker run args...]: detached sleeper on NET
ctr() {
  local name="$1" n="$2" out; shift 2
  # output only on failure: dockerd's "IPv4 forwarding is disabled" warning is noise
  out="$(d run -d --name "$name" --label "$LABEL" --network "$n" "$@" "$IMG" sleep 600 2>&1)" ||
    { echo "$out" >&2; return 1; }
}
# run_in NET [args...] -- CMD...: throwaway container, prints its output
run_in() {
  local n="$1"; shift
  local args=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do args+=("$1"); shift; done
  shift
  d run --rm --label "$LABEL" --network "$n" "${args[@]}" "$IMG" "$@"
}
ip_of() { d inspect -f "{{(index .NetworkSettings.Networks \"$2\").IPAddress}}" "$1"; }
net_id12() { d network inspect -f '{{.Id}}' "$1" | cut -c1-12; }
bridge_of() { echo "kbr$(net_id12 "$1")"; }
subnets_of() { d network inspect -f '{{range .IPAM.Config}}{{.Subnet}} {{end}}' "$1"; }
# only user-given gateways: inspect shows no gateway chosen by the IPAM driver
gateways_of() { d network inspect -f '{{range .IPAM.Config}}{{.Gateway}} {{end}}' "$1"; }
inet4() { awk '$1 == "inet" {print $2; exit}'; }   # first IPv4 CIDR in `ip addr`
link_exists() { ip link show dev "$1" >/dev/null 2>&1; }
link_up() { ip -o link show dev "$1" 2>/dev/null | grep -Eq '<([^>]*,)?UP[,>]'; }
kuryr_links() { ip -o link | awk -F': ' '{sub(/@.*/, "", $2); print $2}' | grep -E '^(kbr|kvh|kvc)' || true; }
# real kuryr only: in fake mode print a skip and return 1
real_only() { if [ -n "$FAKE" ]; then skip "$1 (fake plugin)"; return 1; fi; }

# assert_bridge_has BRIDGE ADDR...: each gateway (bare IP) on the bridge
assert_bridge_has() {
  local br="$1" a addrs; shift
  addrs="$(ip -o addr show dev "$br" 2>&1)"
  for a in "$@"; do assert_contains "$addrs" " ${a%/*}/" "bridge $br holds $a"; done
}
