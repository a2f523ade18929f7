#!/usr/bin/env bash
# `npm test`: the whole suite from a fresh machine. Installs pnpm and dependencies, builds, makes sure Redis,
# Postgres and a Docker engine are reachable (scripts/services.sh), then runs the unit/integration tests and the
# end-to-end suite, and prints one closing line "N passed, N failed, N skipped".
#   bash scripts/test.sh          everything
#   bash scripts/test.sh unit     packages only
#   bash scripts/test.sh e2e      end-to-end only (pnpm test:e2e)
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-all}"
source scripts/bootstrap.sh
eval "$(bash scripts/services.sh all)"
export TESTCONTAINERS_RYUK_DISABLED=true TESTCONTAINERS_HOST_OVERRIDE=127.0.0.1
mkdir -p .vitest
rm -f .vitest/*.json
status=0
if [ "$what" = all ] || [ "$what" = unit ]; then
  echo "test: type-checking the tests (tsconfig.test.json)" >&2
  npx tsc -p tsconfig.test.json || status=1
  npx tsc -p e2e/tsconfig.json || status=1
  npx vitest run --project unit --reporter=default --reporter=json --outputFile=.vitest/unit.json || status=1
fi
if [ "$what" = all ] || [ "$what" = e2e ]; then
  npx vitest run --project e2e --reporter=default --reporter=json --outputFile=.vitest/e2e.json || status=1
fi
node scripts/summarize.mjs .vitest/*.json || status=1
exit $status
