#!/usr/bin/env bash
# Tiny assertion library for the e2e suites. Source it; it keeps counters
# and never exits on a failed check (the suite goes on and reports all).
#
#   section "title"                 banner
#   assert_eq EXPECTED ACTUAL MSG   string equality
#   assert_contains HAYSTACK NEEDLE MSG
#   assert_not_contains HAYSTACK NEEDLE MSG
#   assert_ok CMD...                command exits 0
#   assert_fails CMD...             command exits non-zero
#   check MSG CMD...                command exits 0, custom message, runs
#                                   in the current shell
#   pass MSG / fail MSG [DETAIL]    record a result directly
#   skip MSG                        a check that does not apply to this run
#   assert_in4 IP CIDR              IPv4 address inside the subnet
#   assert_no_dups WHAT ADDR...     no address given twice
#   up_unless_answering             start the private dockerd ($DOCKER_HOST) and the
#                                   Neutron ($NEUTRON_URL) unless they answer; sets
#                                   STARTED_DOCKERD / STARTED_NEUTRON to 1 for what it started
#   neutron_purge_prefix PREFIX     delete Neutron's ports, networks and pools of
#                                   CIDRs starting with PREFIX ($NEUTRON_URL)
#   summary                         prints totals; returns 1 if anything failed
# A failed assertion prints the command or message, expected and actual.

E2E_PASSED=0
E2E_FAILED=0
E2E_SKIPPED=0
E2E_FAILURES=()
E2E_SECTION=""

_e2e_indent() { sed 's/^/        /'; }

section() {
  E2E_SECTION="$*"
  printf '\n=== %s ===\n' "$*"
}

pass() {
  E2E_PASSED=$((E2E_PASSED + 1))
  printf '  ok    %s\n' "$1"
}

# skip MSG: a check that does not apply to this run (counted separately)
skip() {
  E2E_SKIPPED=$((E2E_SKIPPED + 1))
  printf '  skip  %s\n' "$1"
}

# fail MSG [DETAIL...]: DETAIL lines are printed indented under the message
fail() {
  local msg="$1"; shift
  E2E_FAILED=$((E2E_FAILED + 1))
  E2E_FAILURES+=("[$E2E_SECTION] $msg")
  printf '  FAIL  %s\n' "$msg"
  if [ $# -gt 0 ]; then printf '%s\n' "$@" | _e2e_indent; fi
}

assert_eq() {
  local expected="$1" actual="$2" msg="${3:-assert_eq}"
  if [ "$expected" = "$actual" ]; then
    pass "$msg"
  else
    fail "$msg" "expected: $expected" "actual:   $actual"
  fi
}

assert_contains() {
  local haystack="$1" needle="$2" msg="${3:-assert_contains}"
  if [[ "$haystack" == *"$needle"* ]]; then
    pass "$msg"
  else
    fail "$msg" "expected to contain: $needle" "actual: $haystack"
  fi
}

assert_not_contains() {
  local haystack="$1" needle="$2" msg="${3:-assert_not_contains}"
  if [[ "$haystack" != *"$needle"* ]]; then
    pass "$msg"
  else
    fail "$msg" "expected NOT to contain: $needle" "actual: $haystack"
  fi
}

# assert_ok CMD...: the message is the command itself; its output is shown
# only on failure, to keep a passing run short.
assert_ok() {
  local out rc=0
  out="$("$@" 2>&1)" || rc=$?
  if [ "$rc" = 0 ]; then
    pass "$*"
  else
    fail "$*" "expected: exit 0" "actual:   exit $rc" "output:   $out"
  fi
}

assert_fails() {
  local out rc=0
  out="$("$@" 2>&1)" || rc=$?
  if [ "$rc" != 0 ]; then
    pass "fails: $*"
  else
    fail "fails: $*" "expected: non-zero exit" "actual:   exit 0" "output:   $out"
  fi
}

# check MSG CMD...: like assert_ok, but with a message of its own; CMD runs
# in this shell (not a subshell), so it may set variables or start processes
check() {
  local msg="$1" rc=0; shift
  "$@" || rc=$?
  if [ "$rc" = 0 ]; then
    pass "$msg"
  else
    fail "$msg" "command:  $*" "expected: exit 0" "actual:   exit $rc"
  fi
}

# summary [NAME]: prints "NAME PASS (n checks)" or "NAME FAIL (k of n failed)"
# plus the plain "N passed, N failed" line CI tooling reads; returns 1 on failure.
summary() {
  local name="${1:-E2E}" total=$((E2E_PASSED + E2E_FAILED)) f
  echo
  if [ "$E2E_FAILED" -gt 0 ]; then
    echo "Failed checks:"
    for f in "${E2E_FAILURES[@]}"; do echo "  - $f"; done
  fi
  echo "$name: $E2E_PASSED passed, $E2E_FAILED failed, $E2E_SKIPPED skipped"
  if [ "$E2E_FAILED" = 0 ] && [ "$total" -gt 0 ]; then
    echo "$name PASS ($total checks)"
    return 0
  fi
  echo "$name FAIL ($E2E_FAILED of $total failed)"
  return 1
}

# ---- IPv4 address helpers --------------------------------------------------
# ip2int A.B.C.D: the address as a 32-bit integer
# shellcheck disable=SC2086  # split the dotted quad on IFS=.
ip2int() { local IFS=.; set -- $1; echo $(( ($1 << 24) | ($2 << 16) | ($3 << 8) | $4 )); }
# in_cidr4 IP CIDR
in_cidr4() {
  local ip="${1%/*}" net="${2%/*}" len="${2#*/}" mask
  [[ "$ip" =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$ ]] || return 1
  mask=$(( len == 0 ? 0 : (0xffffffff << (32 - len)) & 0xffffffff ))
  (( ($(ip2int "$ip") & mask) == ($(ip2int "$net") & mask) ))
}
assert_in4() { if in_cidr4 "$1" "$2"; then pass "$1 in $2"; else fail "address in $2" "expected: inside $2" "actual:   '$1'"; fi; }
# assert_no_dups LABEL ADDR...: no address appears twice
assert_no_dups() {
  local what="$1"; shift
  local dups
  dups="$(printf '%s\n' "$@" | sort | uniq -d)"
  assert_eq "" "$dups" "$what: no duplicate addresses among $# ($*)"
}

# neutron_purge_prefix PREFIX: delete the ports, the networks (found by their
# subnets) and the subnet pools whose addresses start with PREFIX, a suite's own
# range. The Neutron database outlives a suite, so a run killed before its
# cleanup leaves objects that make the next run's subnet allocation fail:
# suites call this at start, not only after a failure.
neutron_purge_prefix() {
  local id url="$NEUTRON_URL/v2.0"
  for id in $(curl -s --max-time 30 "$url/ports" | jq -r --arg p "$1" '.ports[] | select(any(.fixed_ips[]?; .ip_address | startswith($p))) | .id'); do
    curl -s --max-time 30 -X DELETE "$url/ports/$id" >/dev/null
  done
  for id in $(curl -s --max-time 30 "$url/subnets" | jq -r --arg p "$1" '.subnets[] | select(.cidr | startswith($p)) | .network_id' | sort -u); do
    curl -s --max-time 30 -X DELETE "$url/networks/$id" >/dev/null
  done
  for id in $(curl -s --max-time 30 "$url/subnetpools" | jq -r --arg p "$1" '.subnetpools[] | select(any(.prefixes[]; startswith($p))) | .id'); do
    curl -s --max-time 30 -X DELETE "$url/subnetpools/$id" >/dev/null
  done
}

# up_unless_answering: what a suite needs and does not find running, it starts (and
# its cleanup stops only that): the private dockerd of scripts/dockerd-up.sh on
# $DOCKER_HOST, then the Neutron of scripts/neutron-up.sh on $NEUTRON_URL.
up_unless_answering() {
  if ! curl -s --max-time 2 --unix-socket "${DOCKER_HOST#unix://}" http://localhost/_ping >/dev/null 2>&1; then
    eval "$("$ROOT/scripts/dockerd-up.sh")"
    # shellcheck disable=SC2034  # read by the calling suite's cleanup
    STARTED_DOCKERD=1
  fi
  if [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$NEUTRON_URL/v2.0/networks")" != 200 ]; then
    echo "starting Neutron (scripts/neutron-up.sh; 80 s to 3 min)" >&2
    NEUTRON_PORT="${NEUTRON_URL##*:}" "$ROOT/scripts/neutron-up.sh" >/dev/null
    # shellcheck disable=SC2034  # read by the calling suite's cleanup
    STARTED_NEUTRON=1
  fi
}
