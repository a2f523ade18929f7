import { defineHook } from "@reclaim/core";
import { compactorStatus } from "./compactor_status.ts";
import { createSqliteCompactorHook } from "./compactor.ts";
import { findSqliteDatabase } from "./find_database.ts";
import { sqliteCompactorOptionsSchema } from "./options.ts";

/**
 * The `sqlite-compactor` hook for the `reclaim` command: its config block, a pass every hour (first after 60 s),
 * the embedded default (compaction only, for the first SQLite database directly in the data folder) and the
 * `system.compactor_status` JSON-RPC method.
 *
 * @example
 * ```json
 * { "hooks": { "sqlite-compactor": { "path": "/data/app.db",
 *   "tables": [{ "table": "jobs", "terminal": ["done", "failed"], "maxAge": "30d", "maxRows": 100000 }] } } }
 * ```
 */
export const sqliteCompactorDefinition = defineHook({
  name: "sqlite-compactor",
  summary: "retention for finished rows of a SQLite database, incremental vacuum, ANALYZE and WAL truncation",
  options: sqliteCompactorOptionsSchema,
  schedule: { interval: 3_600_000, initialDelay: 60_000 },
  embeddedDefault(env) {
    const path = findSqliteDatabase(env.dataDir);
    return path === undefined ? undefined : { path };
  },
  create(options, env) {
    return createSqliteCompactorHook({ ...options, name: env.instance, registry: env.registry, logger: env.logger });
  },
  rpc: {
    "system.compactor_status": (runner) => compactorStatus(runner),
  },
});
