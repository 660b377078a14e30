#!/usr/bin/env bash
# Bring kuryr up on one Docker node (a Swarm node VM), the way a Magnum cluster
# template's boot fragment would: write kuryr.conf, optionally start userspace Open
# vSwitch, then create and enable the managed plugin (or start the container).
# Idempotent: a second run with the same settings changes nothing and says so; with
# other settings it says what it redoes.
#
#   OS_ENDPOINT=http://neutron:9696 OS_AUTH_TYPE=none \
#     bash scripts/kuryr-node-bootstrap.sh [--with-ovs] [--container | --config-only] [--force]
#
#   --with-ovs     start ovsdb-server and ovs-vswitchd (userspace datapath, as this
#                  kernel has no openvswitch module) and the bridge KURYR_OVS_BRIDGE
#   --container    run the image of scripts/container-image.sh (legacy socket) instead
#                  of the managed plugin
#   --config-only  only write and check kuryr.conf (host-process install, systemd)
#   --force        allow `plugin disable -f` when a redo finds the plugin in use
#                  (its networks' containers keep their interfaces)
#
# Neutron settings, in this order:
#   OS_CLOUD       a clouds.yaml entry (OS_CLIENT_CONFIG_FILE, ./clouds.yaml,
#                  ~/.config/openstack/clouds.yaml, /etc/openstack/clouds.yaml;
#                  needs python3 with PyYAML), copied into [neutron]
#   OS_AUTH_URL    Keystone: OS_USERNAME/OS_USER_ID + OS_PASSWORD, or
#                  OS_APPLICATION_CREDENTIAL_ID (or _NAME) + _SECRET; OS_PROJECT_*,
#                  OS_*_DOMAIN_*, OS_REGION_NAME, OS_INTERFACE, OS_CACERT
#   OS_ENDPOINT    Neutron itself, with OS_AUTH_TYPE=none (noauth Neutron)
#   none of these: refused, unless KURYR_BACKEND=embedded
# Env (defaults in brackets):
#   KURYR_CONF_DIR [/etc/kuryr]  KURYR_STATE_DIR [/var/lib/kuryr]
#   KURYR_CAPABILITY_SCOPE [local]  KURYR_BINDING_HOST [hostname]  KURYR_LOG_LEVEL []
#   KURYR_OVS_BRIDGE [br-int]  OVS_RUNDIR [/var/run/openvswitch]
#   OVS_DBDIR [/etc/openvswitch]  OVS_LOGDIR [/var/log/openvswitch]
#   KURYR_PLUGIN [kuryr/kuryr:latest]  KURYR_PLUGIN_DIR [] (prebuilt config.json +
#   rootfs; else built by scripts/managed-plugin.sh)  KURYR_BIN [the plugin dir's,
#   else target/release/kuryr]  KURYR_IMAGE [kuryr/kuryr:latest]
#   KURYR_CONTAINER [kuryr]  KURYR_SOCKET_NAME [kuryr] (container and config-only modes:
#   /run/docker/plugins/NAME.sock, the driver name)  KURYR_LOCK_FILE [] (config-only)
#   DOCKER [docker]  DOCKER_HOST (as for the docker CLI)
# Secrets are never printed: changes are reported by key name only.
set -euo pipefail
umask 077

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DOCKER="${DOCKER:-docker}"
CONF_DIR="${KURYR_CONF_DIR:-/etc/kuryr}"
CONF="$CONF_DIR/kuryr.conf"
STATE_DIR="${KURYR_STATE_DIR:-/var/lib/kuryr}"
PLUGIN="${KURYR_PLUGIN:-kuryr/kuryr:latest}"
IMAGE="${KURYR_IMAGE:-kuryr/kuryr:latest}"
CONTAINER="${KURYR_CONTAINER:-kuryr}"
SOCKET_NAME="${KURYR_SOCKET_NAME:-kuryr}"
OVS_BRIDGE="${KURYR_OVS_BRIDGE:-br-int}"
export OVS_RUNDIR="${OVS_RUNDIR:-/var/run/openvswitch}"
OVS_DBDIR="${OVS_DBDIR:-/etc/openvswitch}"
OVS_LOGDIR="${OVS_LOGDIR:-/var/log/openvswitch}"

WITH_OVS=0 MODE=plugin FORCE=0 CHANGES=0
WORK="$(mktemp -d /tmp/kuryr-bootstrap.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT

say() { echo "kuryr-bootstrap: $*"; }
die() { echo "kuryr-bootstrap: error: $*" >&2; exit 1; }
# changed WHAT: one line per thing this run did to the node
changed() { CHANGES=$((CHANGES + 1)); say "$*"; }
d() { timeout "${KURYR_DOCKER_TIMEOUT:-180}" "$DOCKER" "$@"; }
sha() { sha256sum "$1" | cut -d' ' -f1; }

usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit "${1:-0}"; }

for arg in "$@"; do
  case "$arg" in
    --with-ovs) WITH_OVS=1 ;;
    --container) MODE=container ;;
    --config-only) MODE=config ;;
    --force) FORCE=1 ;;
    -h|--help) usage 0 ;;
    *) echo "kuryr-bootstrap: unknown argument $arg" >&2; usage 2 >&2 ;;
  esac
done

# ---------------------------------------------------------------- kuryr.conf --
# NEUTRON maps [neutron] keys to values, filled from clouds.yaml or OS_*.
declare -A NEUTRON=()

# The value as oslo reads it back: oslo trims a value and strips one pair of
# matching quotes, so a value that starts or ends with blanks or a quote is quoted.
ini_value() {
  case "$1" in
    *$'\n'*|*$'\r'*) return 1 ;;
    [[:space:]\"\']*|*[[:space:]\"\']) printf '"%s"' "$1" ;;
    *) printf '%s' "$1" ;;
  esac
}

from_env() {
  local key var
  for pair in auth_url:OS_AUTH_URL endpoint:OS_ENDPOINT auth_type:OS_AUTH_TYPE \
      username:OS_USERNAME user_id:OS_USER_ID password:OS_PASSWORD \
      user_domain_name:OS_USER_DOMAIN_NAME user_domain_id:OS_USER_DOMAIN_ID \
      project_name:OS_PROJECT_NAME project_id:OS_PROJECT_ID \
      project_domain_name:OS_PROJECT_DOMAIN_NAME project_domain_id:OS_PROJECT_DOMAIN_ID \
      application_credential_id:OS_APPLICATION_CREDENTIAL_ID \
      application_credential_name:OS_APPLICATION_CREDENTIAL_NAME \
      application_credential_secret:OS_APPLICATION_CREDENTIAL_SECRET \
      region_name:OS_REGION_NAME endpoint_type:OS_INTERFACE cafile:OS_CACERT; do
    key="${pair%%:*}" var="${pair#*:}"
    [ -n "${!var:-}" ] && NEUTRON[$key]="${!var}"
  done
  return 0
}

# What kuryr itself does with OS_CLOUD (src/config/clouds.rs): the entry's auth
# keys verbatim, auth_type, region_name, interface→endpoint_type, cacert→cafile,
# verify: false→insecure. Copied into the file because a managed plugin sees
# neither the host's clouds.yaml nor an OS_CLOUD setting.
from_cloud() {
  if ! python3 -c 'import yaml' 2>/dev/null; then
    die "OS_CLOUD needs python3 with PyYAML (or give OS_AUTH_URL/OS_ENDPOINT instead)"
  fi
  local key value
  # NUL-separated pairs in a file of this run's private directory (0700).
  python3 - "$OS_CLOUD" > "$WORK/cloud" <<'EOF' || exit 1
import os, sys, yaml
name = sys.argv[1]
paths = [os.environ.get("OS_CLIENT_CONFIG_FILE"), "clouds.yaml",
         os.path.join(os.environ.get("HOME", "/"), ".config/openstack/clouds.yaml"),
         "/etc/openstack/clouds.yaml"]
for path in filter(None, paths):
    try:
        with open(path) as f:
            doc = yaml.safe_load(f) or {}
    except OSError:
        continue
    cloud = (doc.get("clouds") or {}).get(name)
    if cloud is None:
        continue
    out = {}
    scalar = (str, int, float, bool)
    for k, v in (cloud.get("auth") or {}).items():
        if isinstance(v, scalar):
            out[k] = str(v).lower() if isinstance(v, bool) else str(v)
    for src, dst in (("auth_type", "auth_type"), ("region_name", "region_name"),
                     ("interface", "endpoint_type"), ("cacert", "cafile")):
        if isinstance(cloud.get(src), scalar):
            out[dst] = str(cloud[src])
    if cloud.get("verify") is False:
        out["insecure"] = "true"
    for k, v in out.items():
        sys.stdout.write(k + "\0" + v + "\0")
    sys.exit(0)
sys.stderr.write("kuryr-bootstrap: error: OS_CLOUD=%s: no clouds.yaml defines that cloud\n" % name)
sys.exit(1)
EOF
  while IFS= read -r -d '' key && IFS= read -r -d '' value; do
    NEUTRON[$key]="$value"
  done < "$WORK/cloud"
  [ "${#NEUTRON[@]}" -gt 0 ] || die "OS_CLOUD=$OS_CLOUD: the entry is empty or unreadable"
}

# kuryr's own auth checks (src/config/auth.rs, which check-config below runs too),
# said first in the bootstrap's terms, with the variable to set. It also writes an
# auth_type (v3applicationcredential when a credential is given, where kuryr would
# assume password) and refuses token auth (a token expires).
check_auth() {
  local t="${NEUTRON[auth_type]:-}"
  if [ -z "$t" ]; then
    if [ -n "${NEUTRON[auth_url]:-}" ]; then
      if [ -n "${NEUTRON[application_credential_id]:-}${NEUTRON[application_credential_name]:-}" ]; then
        t=v3applicationcredential
      else
        t=password
      fi
    else
      t=none
    fi
    NEUTRON[auth_type]="$t"
  fi
  need() { [ -n "${NEUTRON[$1]:-}" ] || die "auth_type $t needs [neutron] $1 (${2:-})"; }
  case "${t,,}" in
    none|noauth) need endpoint OS_ENDPOINT ;;
    password|v3password)
      need auth_url OS_AUTH_URL
      [ -n "${NEUTRON[username]:-}${NEUTRON[user_id]:-}" ] ||
        die "auth_type $t needs [neutron] username or user_id (OS_USERNAME)"
      need password OS_PASSWORD ;;
    v3applicationcredential|applicationcredential|v3_application_credential)
      need auth_url OS_AUTH_URL
      [ -n "${NEUTRON[application_credential_id]:-}" ] ||
        { need application_credential_name OS_APPLICATION_CREDENTIAL_NAME
          [ -n "${NEUTRON[username]:-}${NEUTRON[user_id]:-}" ] ||
            die "an application credential given by name needs username or user_id"; }
      need application_credential_secret OS_APPLICATION_CREDENTIAL_SECRET ;;
    token|v3token) die "auth_type $t: a token expires; give a password or an application credential" ;;
    *) die "auth_type $t is not supported (none, password, v3applicationcredential)" ;;
  esac
}

# A CA bundle outside the config directory is invisible to the plugin and the
# container: copy it in and point cafile at the copy.
import_cafile() {
  local src="${NEUTRON[cafile]:-}" dest="$CONF_DIR/ca.pem"
  [ -n "$src" ] || return 0
  [ -r "$src" ] || die "cafile $src is not readable"
  if ! cmp -s "$src" "$dest"; then
    install -m 0644 "$src" "$dest.tmp" && mv -f "$dest.tmp" "$dest"
    changed "CA bundle copied to $dest"
  fi
  if [ "$MODE" = config ]; then NEUTRON[cafile]="$dest"; else NEUTRON[cafile]=/etc/kuryr/ca.pem; fi
}

render_conf() {
  local key value
  echo "# Written by kuryr-node-bootstrap.sh; rerun it rather than editing this file."
  echo "[DEFAULT]"
  echo "capability_scope = ${KURYR_CAPABILITY_SCOPE:-local}"
  [ -z "${KURYR_LOG_LEVEL:-}" ] || echo "log_level = $KURYR_LOG_LEVEL"
  # The plugin and the container always see their state under /var/lib/kuryr.
  [ "$MODE" != config ] || [ "$STATE_DIR" = /var/lib/kuryr ] || echo "state_dir = $STATE_DIR"
  # A managed plugin's socket is fixed by config.json; elsewhere it names the driver.
  if [ "$MODE" != plugin ] && [ "$SOCKET_NAME" != kuryr ]; then
    echo "kuryr_uri = unix:///run/docker/plugins/$SOCKET_NAME.sock"
  fi
  [ "$MODE" != config ] || [ -z "${KURYR_LOCK_FILE:-}" ] || echo "lock_file = $KURYR_LOCK_FILE"
  [ "${KURYR_BACKEND:-}" != embedded ] || { echo "backend = embedded"; return 0; }
  echo
  echo "[neutron]"
  for key in $(printf '%s\n' "${!NEUTRON[@]}" | sort); do
    value="$(ini_value "${NEUTRON[$key]}")" || die "[neutron] $key: a value may not hold a line break"
    case "$key" in *[=:[:space:]]*|'') die "[neutron] key '$key' cannot be written to an INI file" ;; esac
    echo "$key = $value"
  done
}

# flat FILE: "section key<TAB>line" per assignment, for a by-key comparison
flat() {
  [ -f "$1" ] || return 0
  awk '/^[ \t]*([#;]|$)/ {next} /^\[/ {s=$0; next}
       {k=$0; sub(/[=:].*/, "", k); gsub(/[ \t]/, "", k); print s " " k "\t" $0}' "$1" |
    LC_ALL=C sort -t $'\t' -k1,1
}

# Names (never values) of the keys that differ between two files.
changed_keys() {
  LC_ALL=C join -t $'\t' -a1 -a2 -e '<unset>' -o 0,1.2,2.2 <(flat "$1") <(flat "$2") |
    awk -F'\t' '$2 != $3 {print $1}' | paste -sd, | sed 's/,/, /g'
}

write_conf() {
  local new="$WORK/kuryr.conf" out rc=0 line
  mkdir -p "$CONF_DIR"
  if [ -n "${OS_CLOUD:-}" ]; then
    [ -z "${OS_AUTH_URL:-}${OS_ENDPOINT:-}" ] || say "OS_CLOUD=$OS_CLOUD wins over OS_AUTH_URL/OS_ENDPOINT"
    from_cloud
  elif [ -n "${OS_AUTH_URL:-}${OS_ENDPOINT:-}" ]; then
    from_env
  elif [ "${KURYR_BACKEND:-}" != embedded ]; then
    die "no Neutron given: set OS_CLOUD, OS_AUTH_URL or OS_ENDPOINT (or KURYR_BACKEND=embedded)"
  fi
  if [ "${KURYR_BACKEND:-}" != embedded ]; then
    check_auth
    import_cafile
    NEUTRON[binding_host]="${KURYR_BINDING_HOST:-$(hostname)}"
    [ "$OVS_BRIDGE" = br-int ] || NEUTRON[ovs_bridge]="$OVS_BRIDGE"
  fi
  render_conf > "$new"
  # A clean environment: the OS_* variables of this shell must not paper over
  # what the file lacks, since the plugin will not have them.
  out="$(env -i PATH="$PATH" "$BIN" check-config --config-file "$new" 2>&1)" || rc=$?
  while IFS= read -r line; do [ -z "$line" ] || say "check-config: ${line/$new/kuryr.conf}"; done <<< "$out"
  [ "$rc" = 0 ] || die "kuryr check-config refused the settings; $CONF left as it was"
  if cmp -s "$new" "$CONF"; then
    say "$CONF: unchanged"
  else
    local what="created"
    [ ! -f "$CONF" ] || what="rewritten (changed: $(changed_keys "$CONF" "$new"))"
    install -m 0600 "$new" "$CONF.tmp" && mv -f "$CONF.tmp" "$CONF"
    changed "$CONF: $what"
  fi
  if [ "$(stat -c %a "$CONF")" != 600 ]; then chmod 0600 "$CONF"; changed "$CONF: mode set to 0600"; fi
  CONF_SHA="$(sha "$CONF")"
}

# ---------------------------------------------------------------- the binary --
kuryr_bin() {
  local c
  for c in "${KURYR_BIN:-}" "${KURYR_PLUGIN_DIR:+$KURYR_PLUGIN_DIR/rootfs/usr/bin/kuryr}" \
      "$ROOT/target/release/kuryr"; do
    [ -n "$c" ] && [ -x "$c" ] && { echo "$c"; return 0; }
  done
  die "no kuryr binary: set KURYR_BIN or KURYR_PLUGIN_DIR, or run cargo build --release"
}

# ----------------------------------------------------------- Open vSwitch --
alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
vsctl() { ovs-vsctl --timeout=30 --db="unix:$OVS_RUNDIR/db.sock" "$@"; }
# The daemons outlive this script: start them with a clean environment, so no
# OS_PASSWORD lingers in their /proc/PID/environ, and log to files only.
ovs_daemon() {
  local name="$1"; shift
  env -i PATH="$PATH" OVS_RUNDIR="$OVS_RUNDIR" "$name" "$@" --pidfile="$OVS_RUNDIR/$name.pid" \
    --detach -vconsole:off --log-file="$OVS_LOGDIR/$name.log" ||
    { tail -n 5 "$OVS_LOGDIR/$name.log" >&2 2>/dev/null; die "$name did not start"; }
}

start_ovs() {
  local t db="$OVS_DBDIR/conf.db"
  for t in ovsdb-tool ovsdb-server ovs-vswitchd ovs-vsctl; do
    command -v "$t" >/dev/null || die "--with-ovs: $t not found (Debian: openvswitch-switch)"
  done
  mkdir -p "$OVS_RUNDIR" "$OVS_LOGDIR" "$OVS_DBDIR"
  if alive "$OVS_RUNDIR/ovsdb-server.pid"; then
    say "ovsdb-server: running (pid $(cat "$OVS_RUNDIR/ovsdb-server.pid"))"
  else
    # Debian's package leaves conf.db a dangling link (ovs-local.md).
    if [ ! -e "$db" ]; then
      rm -f "$db"
      ovsdb-tool create "$db" /usr/share/openvswitch/vswitch.ovsschema
    fi
    ovs_daemon ovsdb-server "$db" --remote="punix:$OVS_RUNDIR/db.sock"
    vsctl --no-wait init
    changed "ovsdb-server: started ($OVS_RUNDIR/db.sock)"
  fi
  if alive "$OVS_RUNDIR/ovs-vswitchd.pid"; then
    say "ovs-vswitchd: running (pid $(cat "$OVS_RUNDIR/ovs-vswitchd.pid"))"
  else
    ovs_daemon ovs-vswitchd "unix:$OVS_RUNDIR/db.sock"
    changed "ovs-vswitchd: started"
  fi
  # No openvswitch kernel module here: the bridge runs in the userspace datapath.
  if [ "$(vsctl --if-exists get bridge "$OVS_BRIDGE" datapath_type 2>/dev/null)" = netdev ]; then
    say "OVS bridge $OVS_BRIDGE: present (datapath_type=netdev)"
  else
    vsctl --may-exist add-br "$OVS_BRIDGE" -- set bridge "$OVS_BRIDGE" datapath_type=netdev
    changed "OVS bridge $OVS_BRIDGE: created (datapath_type=netdev)"
  fi
}

# ---------------------------------------------------------- managed plugin --
APPLIED="$CONF_DIR/.bootstrap-applied"   # "<plugin id> <kuryr.conf sha256>"

plugin_field() { d plugin inspect -f "$1" "$PLUGIN" 2>/dev/null; }
WANT_MOUNTS=()   # the plugin's mount settings, "name.source=path", sorted
plugin_mounts() { plugin_field '{{range .Settings.Mounts}}{{.Name}}.source={{.Source}}{{"\n"}}{{end}}' | sed '/^$/d' | sort | paste -sd' '; }

# plugin_dir BUILD_SHA: a plugin directory whose description names the binary,
# so the next run can tell whether the installed plugin runs this build.
plugin_dir() {
  local dir="$WORK/plugin"
  if [ -n "${KURYR_PLUGIN_DIR:-}" ]; then
    if [ ! -f "$KURYR_PLUGIN_DIR/config.json" ] || [ ! -d "$KURYR_PLUGIN_DIR/rootfs" ]; then
      die "KURYR_PLUGIN_DIR=$KURYR_PLUGIN_DIR has no config.json and rootfs/"
    fi
    mkdir -p "$dir"
    cp -al "$KURYR_PLUGIN_DIR/rootfs" "$dir/rootfs" 2>/dev/null || cp -a "$KURYR_PLUGIN_DIR/rootfs" "$dir/rootfs"
    cp "$KURYR_PLUGIN_DIR/config.json" "$dir/config.json"
  else
    KURYR_BIN="$BIN" bash "$ROOT/scripts/managed-plugin.sh" "$dir" >/dev/null 2>"$WORK/build.log" ||
      { cat "$WORK/build.log" >&2; die "scripts/managed-plugin.sh failed"; }
  fi
  jq --arg b "$1" '.description += " [kuryr sha256:" + $b + "]"' "$dir/config.json" > "$dir/c.json"
  mv "$dir/c.json" "$dir/config.json"
  chmod -R go+rX "$dir"
  echo "$dir"
}

# Disable for a redo. Refused while networks use the plugin, unless --force.
plugin_disable() {
  local out
  out="$(d plugin disable "$PLUGIN" 2>&1)" && return 0
  [[ "$out" == *"in use"* ]] || die "plugin disable $PLUGIN: $out"
  [ "$FORCE" = 1 ] || die "$PLUGIN is in use by networks and must restart ($1): rerun with --force (containers keep their interfaces) or remove the networks"
  d plugin disable -f "$PLUGIN" >/dev/null
}

ensure_plugin() {
  local build id enabled desc mounts want dir redo=() restart=0
  command -v jq >/dev/null || die "jq is required"
  # The build is the packaged binary's: a prebuilt directory's own, else $BIN.
  if [ -n "${KURYR_PLUGIN_DIR:-}" ]; then
    build="$(sha "$KURYR_PLUGIN_DIR/rootfs/usr/bin/kuryr")"
  else
    build="$(sha "$BIN")"
  fi
  WANT_MOUNTS=("config.source=$CONF_DIR" "openvswitch.source=$OVS_RUNDIR" "state.source=$STATE_DIR")
  want="${WANT_MOUNTS[*]}"
  mkdir -p "$STATE_DIR" "$OVS_RUNDIR"   # runc refuses a missing bind-mount source
  if id="$(plugin_field '{{.Id}}')"; then
    enabled="$(plugin_field '{{.Enabled}}')"
    desc="$(plugin_field '{{.Config.Description}}')"
    mounts="$(plugin_mounts)"
    if [[ "$desc" != *"[kuryr sha256:$build]"* ]]; then
      say "plugin $PLUGIN: runs another kuryr build: replacing it (state in $STATE_DIR is kept)"
      [ "$enabled" != true ] || plugin_disable "new build"
      d plugin rm -f "$PLUGIN" >/dev/null
      id=""
    else
      if [ "$mounts" != "$want" ]; then
        redo+=("mounts: $(comm -23 <(tr ' ' '\n' <<< "$mounts") <(tr ' ' '\n' <<< "$want") | paste -sd' ') -> $(comm -13 <(tr ' ' '\n' <<< "$mounts") <(tr ' ' '\n' <<< "$want") | paste -sd' ')")
      fi
      [ "$(cat "$APPLIED" 2>/dev/null)" = "$id $CONF_SHA" ] || redo+=("kuryr.conf is not the one it started with")
      if [ "${#redo[@]}" -gt 0 ]; then
        say "plugin $PLUGIN: restarting (${redo[*]})"
        [ "$enabled" != true ] || plugin_disable "${redo[*]}"
        restart=1
      elif [ "$enabled" = true ]; then
        say "plugin $PLUGIN: unchanged (enabled, id ${id:0:12})"
        return 0
      fi
    fi
  fi
  if [ -z "$id" ]; then
    dir="$(plugin_dir "$build")"
    d plugin create "$PLUGIN" "$dir" >/dev/null
    id="$(plugin_field '{{.Id}}')"
    changed "plugin $PLUGIN: created (id ${id:0:12}, kuryr sha256:${build:0:12})"
  fi
  d plugin set "$PLUGIN" "${WANT_MOUNTS[@]}" >/dev/null
  d plugin enable "$PLUGIN" >/dev/null || die "plugin enable $PLUGIN failed (its log: dockerd's log, plugin=$id)"
  echo "$id $CONF_SHA" > "$APPLIED"
  if [ "$restart" = 1 ]; then changed "plugin $PLUGIN: restarted"; else changed "plugin $PLUGIN: enabled"; fi
}

# --------------------------------------------------------------- container --
ensure_image() {
  local build="$1" have
  have="$(d image inspect -f '{{index .Config.Labels "kuryr.binary.sha256"}}' "$IMAGE" 2>/dev/null || true)"
  if [ "$have" = "$build" ]; then
    say "image $IMAGE: present (kuryr sha256:${build:0:12})"
    return 0
  fi
  DOCKER="$DOCKER" KURYR_BIN="$BIN" bash "$ROOT/scripts/container-image.sh" "$IMAGE" 2>"$WORK/build.log" ||
    { cat "$WORK/build.log" >&2; die "scripts/container-image.sh failed"; }
  changed "image $IMAGE: built (kuryr sha256:${build:0:12})"
}

ensure_container() {
  local build image args have state hi ha hc why=()
  build="$(sha "$BIN")"
  ensure_image "$build"
  image="$(d image inspect -f '{{.Id}}' "$IMAGE")"
  mkdir -p "$STATE_DIR" "$OVS_RUNDIR" /run/docker/plugins
  args=(--net=host --cap-add=NET_ADMIN --restart=always
        -v "$CONF_DIR:/etc/kuryr:ro" -v "$STATE_DIR:/var/lib/kuryr"
        -v /run/docker/plugins:/run/docker/plugins -v "$OVS_RUNDIR:/var/run/openvswitch")
  # What the container was made from, as labels: the image, the run arguments and
  # the kuryr.conf it read at start.
  local want_args; want_args="$(printf '%s\n' "${args[@]}" | sha256sum | cut -d' ' -f1)"
  if have="$(d inspect -f '{{index .Config.Labels "kuryr.bootstrap.image"}} {{index .Config.Labels "kuryr.bootstrap.args"}} {{index .Config.Labels "kuryr.bootstrap.conf"}}' "$CONTAINER" 2>/dev/null)"; then
    read -r hi ha hc <<< "$have"
    [ "$hi" = "$image" ] || why+=("new image")
    [ "$ha" = "$want_args" ] || why+=("run arguments changed")
    [ "$hc" = "$CONF_SHA" ] || why+=("kuryr.conf changed")
    if [ "${#why[@]}" = 0 ]; then
      state="$(d inspect -f '{{.State.Running}}' "$CONTAINER")"
      if [ "$state" = true ]; then
        say "container $CONTAINER: unchanged (running, id $(d inspect -f '{{.Id}}' "$CONTAINER" | cut -c1-12))"
      else
        d start "$CONTAINER" >/dev/null
        changed "container $CONTAINER: started"
      fi
      return 0
    fi
    say "container $CONTAINER: recreating (${why[*]})"
    d rm -f "$CONTAINER" >/dev/null
  fi
  d run -d --name "$CONTAINER" "${args[@]}" --label "kuryr.bootstrap.image=$image" \
    --label "kuryr.bootstrap.args=$want_args" --label "kuryr.bootstrap.conf=$CONF_SHA" \
    "$IMAGE" >/dev/null
  local n=300
  until [ -S "/run/docker/plugins/$SOCKET_NAME.sock" ] && [ "$(d inspect -f '{{.State.Running}}' "$CONTAINER")" = true ]; do
    n=$((n - 1)); [ "$n" -gt 0 ] || die "container $CONTAINER does not serve /run/docker/plugins/$SOCKET_NAME.sock; see: docker logs $CONTAINER"
    sleep 0.1
  done
  changed "container $CONTAINER: started (driver $SOCKET_NAME, socket /run/docker/plugins/$SOCKET_NAME.sock)"
}

main() {
  [ "$(id -u)" = 0 ] || die "run as root"
  BIN="$(kuryr_bin)"
  write_conf
  [ "$WITH_OVS" = 0 ] || start_ovs
  case "$MODE" in
    plugin) ensure_plugin ;;
    container) ensure_container ;;
    config) ;;
  esac
  case "$CHANGES" in
    0) say "done: nothing changed" ;;
    1) say "done: 1 change" ;;
    *) say "done: $CHANGES changes" ;;
  esac
}

main
