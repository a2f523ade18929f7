#!/usr/bin/env bash
# `npm start`: install and build if needed, then `reclaim start` (embedded default watching ./.data, exporter on
# 127.0.0.1:9464 unless a reclaim.config.json or RECLAIM_* variables say otherwise). Extra arguments go to `start`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bootstrap.sh
mkdir -p "${RECLAIM_DATA_DIR:-.data}"
# The node flags of the CLI's shebang (packages/cli/main.ts): a 4 MiB young generation keeps peak RSS down.
exec node --max-semi-space-size=4 packages/cli/dist/main.js start "$@"
