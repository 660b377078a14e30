#!/usr/bin/env bash
# Build the local test image kuryr-busybox:latest without a registry:
# Debian's busybox-static (installed if missing) + applet symlinks, turned
# into an image with `docker import`. Idempotent: does nothing if the image
# already exists.
#
# Env: DOCKER     [/usr/bin/docker]  client (Debian's 20.10 matches dockerd)
#      DOCKER_HOST [unix:///run/docker-test.sock]
#      IMAGE      [kuryr-busybox:latest]
set -euo pipefail

DOCKER="${DOCKER:-/usr/bin/docker}"
IMAGE="${IMAGE:-kuryr-busybox:latest}"
export DOCKER_HOST="${DOCKER_HOST:-unix:///run/docker-test.sock}"
APPLETS=(sh ip sleep cat ls ping hostname nslookup true ifconfig route grep awk echo)

log() { echo "busybox-image: $*" >&2; }

ensure_busybox() {
  # busybox-static, not busybox: the image has no libc, the binary must be static
  if [ -x /bin/busybox ] && dpkg -s busybox-static >/dev/null 2>&1; then return; fi
  log "installing busybox-static"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq busybox-static >&2 ||
    { apt-get update -qq >&2 && apt-get install -y -qq busybox-static >&2; }
}

build() {
  local work rootfs a
  work="$(mktemp -d /tmp/kuryr-busybox.XXXXXX)"
  # shellcheck disable=SC2064  # expand $work now: it is local
  trap "rm -rf '$work'" EXIT
  rootfs="$work/rootfs"
  mkdir -p "$rootfs/bin" "$rootfs/etc" "$rootfs/proc" "$rootfs/sys" \
           "$rootfs/dev" "$rootfs/tmp"
  cp /bin/busybox "$rootfs/bin/busybox"
  for a in "${APPLETS[@]}"; do
    ln -s busybox "$rootfs/bin/$a"
  done
  tar -C "$rootfs" -cf "$work/rootfs.tar" .
  "$DOCKER" import -c 'ENV PATH=/bin' -c 'CMD ["/bin/sh"]' \
    "$work/rootfs.tar" "$IMAGE" >/dev/null
  log "built $IMAGE"
}

main() {
  if "$DOCKER" image inspect "$IMAGE" >/dev/null 2>&1; then
    log "$IMAGE already present"
    exit 0
  fi
  ensure_busybox
  build
}

main "$@"
