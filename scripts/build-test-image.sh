#!/usr/bin/env bash
# Builds the local test image `gantry-test-busybox:latest` without any registry:
# a rootfs holding Debian's static busybox (plus one symlink per applet), a passwd/group
# with root and nobody (65534), /tmp and /work, fed to `docker import`.
#
# Usage: scripts/build-test-image.sh [--force] [--image NAME:TAG]
# Idempotent: does nothing when the image already exists, unless --force is given.
set -euo pipefail

IMAGE="gantry-test-busybox:latest"
FORCE=0
while [ $# -gt 0 ]; do
    case "$1" in
        --force) FORCE=1 ;;
        --image) IMAGE="$2"; shift ;;
        -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
    shift
done

log() { echo "build-test-image: $*"; }

if ! docker version >/dev/null 2>&1; then
    echo "build-test-image: no Docker engine answers (is dockerd running, may this user use it?)" >&2
    exit 1
fi

if [ "$FORCE" -eq 0 ] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
    log "image $IMAGE already exists, nothing to do (use --force to rebuild)"
    exit 0
fi

# Debian's busybox-static installs /bin/busybox as a static binary.
BUSYBOX=/bin/busybox
if ! dpkg -s busybox-static >/dev/null 2>&1; then
    log "installing busybox-static with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y busybox-static >/dev/null 2>&1; then
        apt-get update >/dev/null
        apt-get install -y busybox-static >/dev/null
    fi
fi
if [ ! -x "$BUSYBOX" ]; then
    BUSYBOX="$(command -v busybox || true)"
fi
if [ -z "$BUSYBOX" ]; then
    echo "build-test-image: no busybox binary found" >&2
    exit 1
fi
# A dynamic busybox would not run in an image without libc.
if command -v ldd >/dev/null 2>&1 && ldd "$BUSYBOX" 2>&1 | grep -q '=>'; then
    echo "build-test-image: $BUSYBOX is not statically linked" >&2
    exit 1
fi
log "using $BUSYBOX"

WORKDIR="$(mktemp -d)"
trap 'rm -rf "$WORKDIR"' EXIT
ROOTFS="$WORKDIR/rootfs"
mkdir -p "$ROOTFS"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,work,proc,sys,dev,root}
chmod 1777 "$ROOTFS/tmp"
chmod 0777 "$ROOTFS/work"
cp "$BUSYBOX" "$ROOTFS/bin/busybox"
chmod 0755 "$ROOTFS/bin/busybox"

count=0
for applet in $("$ROOTFS/bin/busybox" --list); do
    [ "$applet" = "busybox" ] && continue
    ln -sf /bin/busybox "$ROOTFS/bin/$applet"
    count=$((count + 1))
done
log "linked $count applets into /bin"

cat >"$ROOTFS/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/sh
EOF
cat >"$ROOTFS/etc/group" <<'EOF'
root:x:0:
nogroup:x:65534:
EOF

tar -C "$ROOTFS" -c . | docker import \
    --change 'CMD ["/bin/sh"]' \
    --change 'ENV PATH=/bin:/sbin:/usr/bin:/usr/sbin' \
    - "$IMAGE" >/dev/null
log "imported $IMAGE ($(docker image inspect -f '{{.Size}}' "$IMAGE") bytes)"
