#!/bin/sh
# Image entrypoint: `reclaim "$@"` as PID 1 (so SIGTERM from `docker stop` reaches it), optionally with the demo
# writer (/app/writer/writer.mjs) running beside it when WRITER=1. The writer stands in for the service whose
# volume reclaim looks after; it is not needed in production.
set -e
if [ "${WRITER:-0}" = 1 ]; then
  node /app/writer/writer.mjs &
fi
# The node flags of the CLI's shebang (packages/cli/main.ts): a 4 MiB young generation keeps peak RSS down.
exec node --max-semi-space-size=4 /app/dist/main.js "$@"
