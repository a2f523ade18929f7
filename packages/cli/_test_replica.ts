// A `reclaim` process for multi-replica tests: the built-in hooks plus the test probes (`probe-redis`, `probe-postgres`).
import { definitions } from "./hooks.ts";
import { processIo } from "./io.ts";
import { main } from "./program.ts";
import { probeDefinitions } from "./_test_probe_hook.ts";

process.exitCode = await main(process.argv.slice(2), processIo(), [...definitions, ...probeDefinitions]);
