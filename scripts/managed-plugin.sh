#!/usr/bin/env bash
# Build kuryr as a Docker managed (v2) plugin, offline: no registry, no base image.
#
#   bash scripts/managed-plugin.sh DIR          # DIR/config.json + DIR/rootfs/
#   docker plugin create kuryr/kuryr:latest DIR
#   docker plugin enable kuryr/kuryr:latest     # no settings: the embedded backend
#
# The rootfs holds the release binary (built if missing, or KURYR_BIN), the shared
# libraries it links, and nft and ovs-vsctl with theirs when the host has them
# (kuryr runs nft for isolation rules and ovs-vsctl for the OVS binding). It prints
# the `mkdir -p` line for the mount sources the plugin needs on the host: runc
# refuses to start a plugin whose bind-mount source is missing.
#
# Env: KURYR_BIN [target/release/kuryr]
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DIR="${1:?usage: managed-plugin.sh DIR}"
BIN="${KURYR_BIN:-$ROOT/target/release/kuryr}"

if [ ! -x "$BIN" ]; then
  echo "managed-plugin: building $BIN" >&2
  (cd "$ROOT" && cargo build --release --locked >&2)
fi

rm -rf "$DIR/rootfs"
mkdir -p "$DIR/rootfs"
R="$DIR/rootfs"
# Empty mount points: runc mounts /proc, /sys, /dev and the bind mounts over them.
mkdir -p "$R"/{proc,sys,dev,tmp,etc/kuryr,run/docker/plugins,run/kuryr,var/lib/kuryr,var/run/openvswitch,var/log/kuryr,usr/bin,usr/sbin}
chmod 1777 "$R/tmp"

# copy_with_libs FILE DEST: the file and every library ldd names, at their paths.
copy_with_libs() {
  local file="$1" dest="$2" lib
  install -m 0755 "$file" "$R$dest"
  for lib in $(ldd "$file" 2>/dev/null | grep -o '/[^ ]*' | sort -u); do
    [ -e "$R$lib" ] && continue
    mkdir -p "$R$(dirname "$lib")"
    cp -L "$lib" "$R$lib"
  done
}

copy_with_libs "$BIN" /usr/bin/kuryr
for tool in nft ovs-vsctl; do
  path="$(command -v "$tool" || true)"
  if [ -n "$path" ]; then
    copy_with_libs "$path" "/usr/sbin/$tool"
  else
    echo "managed-plugin: $tool not found on this host; the plugin will run without it" >&2
  fi
done
# Name resolution for a Keystone or Neutron URL given by host name.
printf 'hosts: files dns\n' > "$R/etc/nsswitch.conf"
printf 'root:x:0:0:root:/:/usr/bin/kuryr\n' > "$R/etc/passwd"
printf 'root:x:0:\n' > "$R/etc/group"

# The plugin's contract with dockerd (docker/cli docs/extend/config.md).
# - one socket for both interfaces;
# - host networking: the bridges, veths and OVS ports it makes are the host's;
# - only CAP_NET_ADMIN: netlink (links, addresses, routes) and nftables need it, and
#   nothing else kuryr does needs a capability (it writes no sysctl or sysfs knob,
#   which the sandbox mounts read-only anyway);
# - mounts whose source an operator may move (`settable: source`);
# - env with defaults; empty means unset. With no kuryr.conf mounted, OS_AUTH_URL
#   (Keystone) or OS_ENDPOINT (auth_type none) selects the Neutron backend.
cat > "$DIR/config.json" <<'EOF'
{
  "description": "kuryr: Docker networks and IPAM on Neutron, or on local bridges",
  "documentation": "https://opendev.org/openstack/kuryr-libnetwork",
  "entrypoint": ["/usr/bin/kuryr", "serve"],
  "workdir": "/",
  "interface": {
    "types": ["docker.networkdriver/1.0", "docker.ipamdriver/1.0"],
    "socket": "kuryr.sock"
  },
  "network": {"type": "host"},
  "linux": {"capabilities": ["CAP_NET_ADMIN"]},
  "mounts": [
    {"name": "config", "description": "kuryr.conf (optional)", "source": "/etc/kuryr",
     "destination": "/etc/kuryr", "type": "bind", "options": ["rbind", "ro"], "settable": ["source"]},
    {"name": "state", "description": "state that survives upgrade and disable/enable",
     "source": "/var/lib/kuryr", "destination": "/var/lib/kuryr", "type": "bind",
     "options": ["rbind", "rw"], "settable": ["source"]},
    {"name": "openvswitch", "description": "OVSDB socket for the OVS binding",
     "source": "/var/run/openvswitch", "destination": "/var/run/openvswitch", "type": "bind",
     "options": ["rbind", "rw"], "settable": ["source"]}
  ],
  "env": [
    {"name": "CAPABILITY_SCOPE", "description": "local, or global for swarm", "settable": ["value"], "value": "local"},
    {"name": "LOG_LEVEL", "description": "error, warn, info, debug or trace", "settable": ["value"], "value": "info"},
    {"name": "OS_AUTH_URL", "description": "Keystone v3 URL; selects the Neutron backend", "settable": ["value"], "value": ""},
    {"name": "OS_ENDPOINT", "description": "Neutron URL for auth_type none; selects the Neutron backend", "settable": ["value"], "value": ""},
    {"name": "OS_AUTH_TYPE", "description": "password, v3applicationcredential, token or none", "settable": ["value"], "value": ""},
    {"name": "OS_USERNAME", "settable": ["value"], "value": ""},
    {"name": "OS_PASSWORD", "settable": ["value"], "value": ""},
    {"name": "OS_PROJECT_NAME", "settable": ["value"], "value": ""},
    {"name": "OS_USER_DOMAIN_NAME", "settable": ["value"], "value": ""},
    {"name": "OS_PROJECT_DOMAIN_NAME", "settable": ["value"], "value": ""},
    {"name": "OS_APPLICATION_CREDENTIAL_ID", "settable": ["value"], "value": ""},
    {"name": "OS_APPLICATION_CREDENTIAL_SECRET", "settable": ["value"], "value": ""},
    {"name": "OS_REGION_NAME", "settable": ["value"], "value": ""},
    {"name": "OS_INTERFACE", "description": "public, internal or admin", "settable": ["value"], "value": ""},
    {"name": "KURYR_PACKAGING", "description": "how kuryr runs, for its start-up hints", "value": "managed-plugin"},
    {"name": "KURYR_BINDING_HOST", "description": "this node's binding:host_id in Neutron (default: its host name)", "settable": ["value"], "value": ""}
  ]
}
EOF

echo "managed-plugin: built $DIR (config.json, rootfs $(du -sh "$R" | cut -f1))" >&2
echo "mkdir -p /etc/kuryr /var/lib/kuryr /var/run/openvswitch"
