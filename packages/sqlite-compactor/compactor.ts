import { existsSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { OptionRangeError, parseOptions, silentLogger, type Hook, type HookIdentity, type Logger, type ResourceFigure, type RunContext, type RunReport } from "@reclaim/core";
import { Registry } from "prom-client";
import { compactorMetrics } from "./_metrics.ts";
import { openDatabase, runPass } from "./_pass.ts";
import { checkDistinctTables, checkTables } from "./_schema_check.ts";
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
export interface SqliteCompactorHookOptions extends SqliteCompactorConfig, HookIdentity {
  /** Where creation warns that the database could not be inspected (the check then runs at the first pass). @default silent */
  logger?: Logger;
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
  /** File size and free pages, as the console draws them. */
  resources: ResourceFigure[];
};

/** The compactor hook: a {@link Hook} whose `status()` is typed. */
export interface SqliteCompactorHook extends Hook<SqliteCompactorReport> {
  status(): SqliteCompactorDetails;
}

/**
 * Creates the SQLite compactor: per-table retention of terminal rows (age and count) in short adaptive batches,
 * an optional archive file, one-time conversion to `auto_vacuum=INCREMENTAL`, `incremental_vacuum`, WAL truncation
 * and statistics refresh. Throws an option error (naming the field and value) for bad options, and — when the
 * database exists and can be read now — for tables or columns it does not have. A database locked or unreadable at
 * creation is not an error: the schema check waits for the first pass (a failed pass if it is still unreadable).
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
  const { registry, logger, name = SQLITE_COMPACTOR_HOOK, ...config } = input;
  const options = parseOptions(SQLITE_COMPACTOR_HOOK, sqliteCompactorOptionsSchema, config) as SqliteCompactorOptions;
  checkPaths(options);
  const metrics = compactorMetrics(registry ?? new Registry(), name);
  let database = inspectExisting(options, logger ?? silentLogger);
  let lastPass: SqliteCompactorDetails["lastPass"] = null;
  const totals = { rowsDeleted: 0, rowsArchived: 0, bytesReclaimed: 0, passes: 0 };

  return {
    name,
    type: SQLITE_COMPACTOR_HOOK,
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
      const resources: ResourceFigure[] = database
        ? [
            { label: "file (page_count × page_size)", value: database.databaseBytes, unit: "bytes" },
            { label: "free pages", value: database.freePages * database.pageSize, unit: "bytes", max: database.databaseBytes },
          ]
        : [];
      return { path: options.path, database, lastPass, totals: { ...totals }, resources };
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

/**
 * When the database already exists, checks the tables and columns now (before anything runs) and reads its figures.
 * Only the user's mistakes fail creation: a file that is not a SQLite database, a table or column it does not have.
 * A database that cannot be read right now — locked by another process (`SQLITE_BUSY`), unreadable (`SQLITE_CANTOPEN`,
 * `EACCES`), damaged (`SQLITE_CORRUPT`), gone in between — is a condition of the moment, not of the config: the check
 * is left to the first pass (every pass checks the schema before it writes), where it fails that pass only. The
 * inspection does not wait on locks (`busy_timeout=0`), so a busy service never delays the creation of the hook.
 */
function inspectExisting(options: SqliteCompactorOptions, logger: Logger): DatabaseStats | null {
  checkDistinctTables(options.tables);
  if (!existsSync(options.path)) return null;
  let db: ReturnType<typeof openDatabase> | undefined;
  try {
    db = openDatabase(options.path, 0);
    checkTables(db, options.tables);
    return databaseStats(db);
  } catch (err) {
    if (err instanceof OptionRangeError) throw err; // a table or column the database does not have
    const code = (err as { code?: unknown }).code;
    if (code === "SQLITE_NOTADB") {
      throw new OptionRangeError(SQLITE_COMPACTOR_HOOK, "path", "must be a SQLite database file", options.path);
    }
    if (typeof code !== "string") throw err; // not SQLite's nor the file system's: a bug, not a state of the database
    logger.warn({ path: options.path, code, err }, "database cannot be inspected now: the schema check is left to the first pass");
    return null;
  } finally {
    db?.close();
  }
}
