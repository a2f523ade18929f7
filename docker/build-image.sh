#!/usr/bin/env bash
# Builds the reclaim daemon image from the built workspace (run `pnpm build` first).
#
#   bash docker/build-image.sh [TAG]          # default TAG reclaim/reclaim:dev; prints TAG on stdout
#
# Base image, in order: $BASE_IMAGE if set; node:20-bookworm-slim if it is present or can be pulled (a pull that
# cannot reach a registry fails in well under a second); otherwise a local base built FROM scratch out of this
# machine's Node by docker/build-base-image.sh (reclaim/node-local:20).
#
# The build context is app.tar, a self-contained `pnpm deploy --prod` of @reclaim/cli (its dist, production
# dependencies and better-sqlite3's compiled addon from pnpm's side-effects cache) trimmed of source maps,
# TypeScript sources, declarations and native build leftovers, with docker/writer/ as writer/; and
# docker/entrypoint.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
tag="${1:-reclaim/reclaim:dev}"
log() { echo "build-image: [${SECONDS}s] $*" >&2; }
die() { log "$*"; exit 1; }

[ -f packages/cli/dist/main.js ] || die "packages/cli/dist/main.js is missing: run 'pnpm build' first"

pull_timeout="${PULL_TIMEOUT:-60}"
default_base="node:20-bookworm-slim"
if [ -n "${BASE_IMAGE:-}" ]; then
  base="$BASE_IMAGE"
elif docker image inspect "$default_base" >/dev/null 2>&1; then
  base="$default_base"
elif timeout "$pull_timeout" docker pull -q "$default_base" >/dev/null 2>&1; then
  base="$default_base"
else
  log "cannot pull $default_base: using a local base built from $(command -v node)"
  base="$(bash docker/build-base-image.sh node)"
fi

ctx="$(mktemp -d)"
trap 'rm -rf "$ctx"' EXIT
log "deploying @reclaim/cli with its production dependencies"
# pnpm's store is shared with anyone running pnpm on this machine: take the same lock as `pnpm add`.
flock /tmp/reclaim-pnpm.lock \
  pnpm --filter @reclaim/cli deploy --prod --legacy --prefer-offline "$ctx/app" >"$ctx/deploy.log" 2>&1 ||
  { cat "$ctx/deploy.log" >&2; die "pnpm deploy failed"; }
# Not needed at run time: source maps, TypeScript sources and declarations, @types, docs, pnpm bookkeeping
# (.modules.yaml carries a timestamp that would defeat the build cache).
find "$ctx/app" \( -name '*.map' -o -name '*.ts' -o -name '*.mts' -o -name '*.cts' -o -name '*.tsbuildinfo' \
  -o -iname 'README*' -o -iname 'CHANGELOG*' -o -iname '*.md' \) -type f -delete
rm -rf "$ctx"/app/node_modules/.pnpm/@types+* "$ctx/app/node_modules/.modules.yaml" "$ctx/app/node_modules/.pnpm/lock.yaml"
# .bin shims name the deploy folder on this host: wrong inside the image, and different on every build.
find "$ctx/app/node_modules" -type d -name .bin -prune -exec rm -rf {} +
for addon in "$ctx"/app/node_modules/.pnpm/better-sqlite3@*/node_modules/better-sqlite3; do
  [ -d "$addon" ] || continue
  [ -f "$addon/build/Release/better_sqlite3.node" ] || die "better-sqlite3 has no compiled addon in $addon"
  mv "$addon/build/Release/better_sqlite3.node" "$ctx/better_sqlite3.node"
  rm -rf "$addon/build" "$addon/deps" "$addon/src"
  mkdir -p "$addon/build/Release"
  mv "$ctx/better_sqlite3.node" "$addon/build/Release/better_sqlite3.node"
done
cp -r docker/writer "$ctx/app/writer"
mkdir -p "$ctx/app/.data" "$ctx/context"
cp docker/entrypoint.sh "$ctx/context/entrypoint.sh"
# One reproducible tarball (sorted, fixed mtimes and owners) instead of thousands of files: the context is sent
# as one file, and an unchanged app hits the build cache.
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$ctx/app" -cf "$ctx/context/app.tar" .

log "building $tag from $base ($(du -sh "$ctx/context/app.tar" | cut -f1) of app)"
docker build -q -f docker/Dockerfile --build-arg "BASE_IMAGE=$base" -t "$tag" "$ctx/context" 2>"$ctx/build.log" >/dev/null ||
  { cat "$ctx/build.log" >&2; die "docker build failed"; }
log "built $tag"
echo "$tag"
