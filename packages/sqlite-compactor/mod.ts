/**
 * @module
 * SQLite compactor: retention by age and row count for finished rows (optionally archived to another file first),
 * in short batches that leave the write lock to the service; space given back without a manual VACUUM
 * (one-time conversion to `auto_vacuum=INCREMENTAL`, then `incremental_vacuum`); WAL truncation; ANALYZE after
 * large deletes; a status the operator can read (`system.compactor_status`).
 *
 * @example
 * ```ts
 * import { createRunner } from "@reclaim/core";
 * import { createSqliteCompactorHook, compactorStatus } from "@reclaim/sqlite-compactor";
 *
 * const hook = createSqliteCompactorHook({
 *   path: "/data/app.db",
 *   tables: [{ table: "jobs", timeColumn: "finished_at", statusColumn: "status", terminal: ["done", "failed"], maxAge: "30d", maxRows: 100000 }],
 *   archive: { path: "/data/archive.db" },
 * });
 * const runner = createRunner(hook, { interval: 3_600_000 });
 * runner.start();
 * console.log(compactorStatus(runner));
 * ```
 */
export * from "./compactor.ts";
export * from "./compactor_status.ts";
export * from "./definition.ts";
export * from "./find_database.ts";
export * from "./incremental_vacuum.ts";
export * from "./options.ts";
export * from "./report.ts";
