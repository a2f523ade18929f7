import { existsSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { OptionRangeError, parseOptions, type Hook, type RunContext, type RunReport } from "@reclaim/core";
import { Registry } from "prom-client";
import { compactorMetrics } from "./_metrics.ts";
import { openDatabase, runPass } from "./_pass.ts";
import { checkTables } from "./_schema_check.ts";
import { databaseStats } from "./_vacuum.ts";
import type { DatabaseStats, TableResult, VacuumOutcome } from "./report.ts";
import { sqliteCompactorOptionsSchema, type SqliteCompactorConfig, type SqliteCompactorOptions } from "./options.ts";

/**
 * Hook name, also the `hook` label.
 *
 * @example
 * ```ts
 * runner.status().hook === SQLITE_COMPACTOR_HOOK;
 * ```
 */
export const SQLITE_COMPACTOR_HOOK = "sqlite-compactor";

/** Options of {@link createSqliteCompactorHook}: the config block plus runtime objects. */
export interface SqliteCompactorHookOptions extends SqliteCompactorConfig {
  /** Registry for the compactor's metrics. @default a private registry */
  registry?: Registry;
}

/** What one pass reports (`status().lastRun.report`, `reclaim run sqlite-compactor` output). */
export interface SqliteCompactorReport extends RunReport {
  rowsDeleted: number;
  rowsArchived: number;
  tables: TableResult[];
  vacuum: VacuumOutcome;
  /** Tables whose planner statistics were refreshed. */
  analyzed: string[];
  databaseBytes: number;
  freePages: number;
}

/** Rows and bytes, for the last pass and since the hook was created. */
export interface CompactorCounts {
  rowsDeleted: number;
  rowsArchived: number;
  bytesReclaimed: number;
}

/** The hook's `status()`: merged by the runner into `status().details`. */
export type SqliteCompactorDetails = {
  path: string;
  /** The database as last seen (creation or end of the last pass); null when the file did not exist then. */
  database: DatabaseStats | null;
  lastPass: (CompactorCounts & { finishedAt: string; vacuum: VacuumOutcome; tables: TableResult[] }) | null;
  totals: CompactorCounts & { passes: number };
};

/** The compactor hook: a {@link Hook} whose `status()` is typed. */
export interface SqliteCompactorHook extends Hook<SqliteCompactorReport> {
  status(): SqliteCompactorDetails;
}

/**
 * Creates the SQLite compactor: per-table retention of terminal rows (age and count) in short adaptive batches,
 * an optional archive file, one-time conversion to `auto_vacuum=INCREMENTAL`, `incremental_vacuum`, WAL truncation
 * and statistics refresh. Throws an option error (naming the field and value) for bad options, and — when the
 * database exists — for tables or columns it does not have.
 *
 * @example
 * ```ts
 * const hook = createSqliteCompactorHook({
 *   path: "/data/app.db",
 *   tables: [{ table: "jobs", timeColumn: "finished_at", statusColumn: "status", terminal: ["done", "failed"], maxAge: "30d", maxRows: 100000 }],
 *   archive: { path: "/data/archive.db" },
 *   registry,
 * });
 * const runner = createRunner(hook, { interval: 3_600_000, registry });
 * runner.start();
 * ```
 */
export function createSqliteCompactorHook(input: SqliteCompactorHookOptions): SqliteCompactorHook {
  const { registry, ...config } = input;
  const options = parseOptions(SQLITE_COMPACTOR_HOOK, sqliteCompactorOptionsSchema, config) as SqliteCompactorOptions;
  checkPaths(options);
  const metrics = compactorMetrics(registry ?? new Registry());
  let database = inspectExisting(options);
  let lastPass: SqliteCompactorDetails["lastPass"] = null;
  const totals = { rowsDeleted: 0, rowsArchived: 0, bytesReclaimed: 0, passes: 0 };

  return {
    name: SQLITE_COMPACTOR_HOOK,
    spanName: "compact sqlite",
    kind: "row",
    options,
    async run(ctx: RunContext): Promise<SqliteCompactorReport> {
      ctx.span.setAttribute("db.system.name", "sqlite");
      const pass = await runPass(options, metrics, ctx);
      const { stats } = pass;
      ctx.span.setAttributes({
        "reclaim.sqlite.rows_deleted": pass.rowsDeleted,
        "reclaim.sqlite.rows_archived": pass.rowsArchived,
        "reclaim.sqlite.vacuum": pass.vacuum,
        "reclaim.sqlite.file_bytes": stats.databaseBytes,
        "reclaim.sqlite.freelist_pages": stats.freePages,
        "reclaim.sqlite.auto_vacuum": stats.autoVacuum,
        "reclaim.sqlite.journal_mode": stats.journalMode,
      });
      metrics.fileBytes.set(stats.databaseBytes);
      metrics.freelistPages.set(stats.freePages);
      database = stats;
      if (!ctx.dryRun) {
        lastPass = { finishedAt: new Date(ctx.now()).toISOString(), rowsDeleted: pass.rowsDeleted, rowsArchived: pass.rowsArchived, bytesReclaimed: pass.reclaimedBytes, vacuum: pass.vacuum, tables: pass.tables };
        totals.rowsDeleted += pass.rowsDeleted;
        totals.rowsArchived += pass.rowsArchived;
        totals.bytesReclaimed += pass.reclaimedBytes;
        totals.passes++;
      }
      return {
        removed: pass.rowsDeleted,
        reclaimedBytes: pass.reclaimedBytes,
        removedByKind: { row: pass.rowsDeleted },
        rowsDeleted: pass.rowsDeleted,
        rowsArchived: pass.rowsArchived,
        tables: pass.tables,
        vacuum: pass.vacuum,
        analyzed: pass.analyzed,
        databaseBytes: stats.databaseBytes,
        freePages: stats.freePages,
      };
    },
    status(): SqliteCompactorDetails {
      return { path: options.path, database, lastPass, totals: { ...totals } };
    },
  };
}

function checkPaths(options: SqliteCompactorOptions): void {
  if (existsSync(options.path) && !statSync(options.path).isFile()) {
    throw new OptionRangeError(SQLITE_COMPACTOR_HOOK, "path", "must be a SQLite database file", options.path);
  }
  if (!options.archive) return;
  if (resolve(options.archive.path) === resolve(options.path)) {
    throw new OptionRangeError(SQLITE_COMPACTOR_HOOK, "archive.path", "must be a different file from path", options.archive.path);
  }
  if (!existsSync(dirname(resolve(options.archive.path)))) {
    throw new OptionRangeError(SQLITE_COMPACTOR_HOOK, "archive.path", "must be in an existing folder", options.archive.path);
  }
}

/** When the database already exists, checks the tables and columns now (before anything runs) and reads its figures. */
function inspectExisting(options: SqliteCompactorOptions): DatabaseStats | null {
  if (!existsSync(options.path)) return null;
  const db = openDatabase(options.path, options.busyTimeout);
  try {
    checkTables(db, options.tables);
    return databaseStats(db);
  } catch (err) {
    if ((err as { code?: unknown }).code === "SQLITE_NOTADB") {
      throw new OptionRangeError(SQLITE_COMPACTOR_HOOK, "path", "must be a SQLite database file", options.path);
    }
    throw err;
  } finally {
    db.close();
  }
}
