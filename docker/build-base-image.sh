#!/usr/bin/env bash
# Builds a local base image FROM scratch out of this machine's own binaries, for hosts that cannot pull from a
# container registry.
#
#   bash docker/build-base-image.sh node     [TAG]   # default TAG reclaim/node-local:20
#   bash docker/build-base-image.sh busybox  [TAG]   # default TAG reclaim/busybox-local:1
#
# node:    /usr/bin/node (as /usr/local/bin/node, where the official node image keeps it), every library `ldd`
#          lists, the dynamic loader, /bin/busybox as /bin/sh and its applets, /etc/passwd with root and node
#          (uid 1000), a 1777 /tmp. A stand-in for node:20-bookworm-slim with the same glibc as this host, so
#          native modules built here (better-sqlite3) load in it.
# busybox: /bin/busybox and its applets only (a shell, httpd, wget, ...), for small fixtures.
#
# Prints the tag on stdout. An image that already exists with the same content stamp is kept (FORCE=1 rebuilds).
# Every image carries LABEL reclaim.managed=true.
set -euo pipefail

kind="${1:-node}"
log() { echo "build-base-image: $*" >&2; }
die() { log "$*"; exit 1; }

busybox="${BUSYBOX:-/bin/busybox}"
[ -x "$busybox" ] || die "$busybox is missing (apt-get install busybox-static)"
if command -v file >/dev/null && ! file -L "$busybox" | grep -q 'statically linked'; then
  log "warning: $busybox does not look statically linked (apt-get install busybox-static)"
fi

case "$kind" in
  node)
    tag="${2:-reclaim/node-local:20}"
    node_bin="${NODE_BIN:-$(command -v node)}"
    node_bin="$(readlink -f "$node_bin")"
    [ -x "$node_bin" ] || die "no node binary found"
    stamp="node-$("$node_bin" --version)-$(sha256sum "$node_bin" "$busybox" | sha256sum | cut -c1-16)"
    ;;
  busybox)
    tag="${2:-reclaim/busybox-local:1}"
    stamp="busybox-$(sha256sum "$busybox" | cut -c1-16)"
    ;;
  *) die "usage: build-base-image.sh node|busybox [TAG]" ;;
esac

if [ -z "${FORCE:-}" ] &&
  [ "$(docker image inspect --format '{{ index .Config.Labels "reclaim.base.stamp" }}' "$tag" 2>/dev/null)" = "$stamp" ]; then
  log "$tag is up to date ($stamp)"
  echo "$tag"
  exit 0
fi

ctx="$(mktemp -d)"
trap 'rm -rf "$ctx"' EXIT
root="$ctx/rootfs"
mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/root"
chmod 1777 "$root/tmp"
cp "$busybox" "$root/bin/busybox"
# Applets as symlinks (sh, ls, cat, httpd, wget, touch, dd, df, kill, ...), made here so no RUN step is needed.
for applet in $("$busybox" --list); do
  [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
done

if [ "$kind" = node ]; then
  mkdir -p "$root/usr/local/bin" "$root/home/node"
  cp "$node_bin" "$root/usr/local/bin/node"
  # Every shared library node needs, at the path the loader will look for it, plus the loader itself.
  ldd "$node_bin" | awk '/=> \//{print $3} /^\s*\/lib/{print $1}' | while read -r lib; do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
  mkdir -p "$root/lib64"
  cp -L /lib64/ld-linux-x86-64.so.2 "$root/lib64/ld-linux-x86-64.so.2"
  printf 'root:x:0:0:root:/root:/bin/sh\nnode:x:1000:1000::/home/node:/bin/sh\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnode:x:1000:\n' >"$root/etc/group"
  chown 1000:1000 "$root/home/node"
  cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM scratch
COPY rootfs/ /
ENV PATH=/usr/local/bin:/usr/bin:/bin NODE_VERSION=$("$node_bin" --version | tr -d v)
LABEL reclaim.managed=true reclaim.base.stamp=$stamp
CMD ["node"]
DOCKERFILE
else
  printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
  cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM scratch
COPY rootfs/ /
ENV PATH=/bin
LABEL reclaim.managed=true reclaim.base.stamp=$stamp
CMD ["sh"]
DOCKERFILE
fi

log "building $tag ($stamp)"
docker build -q -t "$tag" "$ctx" >/dev/null
echo "$tag"
