#!/usr/bin/env bash
# Build kuryr's container image offline, from the managed plugin's rootfs: no
# registry and no base image (`docker import` of a tarball), like kuryr-libnetwork's
# kuryr/libnetwork image.
#
#   bash scripts/container-image.sh [IMAGE]        # default kuryr/kuryr:latest
#   docker run -d --name kuryr --net=host --cap-add=NET_ADMIN --restart=always \
#     -v /etc/kuryr:/etc/kuryr:ro -v /var/lib/kuryr:/var/lib/kuryr \
#     -v /run/docker/plugins:/run/docker/plugins kuryr/kuryr:latest
#
# The container serves the legacy socket /run/docker/plugins/kuryr.sock for the
# host's dockerd. Settings as for the managed plugin: kuryr.conf in /etc/kuryr, or
# env (-e CAPABILITY_SCOPE=..., -e OS_AUTH_URL=..., ...).
#
# Env: DOCKER [docker], KURYR_BIN [target/release/kuryr]
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
IMAGE="${1:-kuryr/kuryr:latest}"
DOCKER="${DOCKER:-docker}"
WORK="$(mktemp -d /tmp/kuryr-image.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT

bash "$ROOT/scripts/managed-plugin.sh" "$WORK/plugin" >/dev/null
# The binary's digest as a label, so a deployment script can tell whether an image
# already carries this build (scripts/kuryr-node-bootstrap.sh).
BUILD="$(sha256sum "$WORK/plugin/rootfs/usr/bin/kuryr" | cut -d' ' -f1)"
tar -C "$WORK/plugin/rootfs" -c . |
  "$DOCKER" import \
    --change 'ENTRYPOINT ["/usr/bin/kuryr", "serve"]' \
    --change 'ENV CAPABILITY_SCOPE=local LOG_LEVEL=info KURYR_PACKAGING=container' \
    --change 'VOLUME ["/var/lib/kuryr"]' \
    --change "LABEL kuryr.binary.sha256=$BUILD" \
    --message "kuryr $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo dev)" \
    - "$IMAGE" >/dev/null
echo "container-image: built $IMAGE" >&2
