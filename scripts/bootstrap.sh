#!/usr/bin/env bash
# Sourced by start.sh and test.sh: pnpm (if missing), dependencies, build. Idempotent and quick when up to date.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if ! command -v pnpm >/dev/null 2>&1; then
  echo "bootstrap: installing pnpm 10 (npm i -g pnpm@10)" >&2
  npm install --global --silent pnpm@10 >&2
fi
# better-sqlite3 builds from source where its prebuilt download is unreachable; use the local Node headers.
if [ -z "${npm_config_nodedir:-}" ] && [ -f /usr/include/node/node.h ]; then export npm_config_nodedir=/usr; fi
pnpm install --frozen-lockfile --reporter=append-only >&2 2>&1 | grep -v -e "^Progress" -e "install: " >&2 || true
[ -d node_modules/.pnpm ] || { echo "bootstrap: pnpm install failed" >&2; exit 1; }
pnpm run --silent build >&2
