import { existsSync, statSync } from "node:fs";
import type { RunContext } from "@reclaim/core";
import Database from "better-sqlite3";
import type { CompactorMetrics } from "./_metrics.ts";
import { applyRetention, ARCHIVE_SCHEMA } from "./_retention.ts";
import type { DatabaseStats, TableResult, VacuumOutcome } from "./report.ts";
import { checkTables } from "./_schema_check.ts";
import { quoteIdentifier } from "./_sql.ts";
import { checkpoint, convertToIncremental, databaseStats, freeDiskBytes, IncrementalVacuum, isEmptyDatabase, type VacuumHooks } from "./_vacuum.ts";
import type { SqliteCompactorOptions } from "./options.ts";
import { WalCheckpointer } from "./_wal_checkpointer.ts";
import { WritePacer } from "./_write_pacer.ts";

/** The result of one pass, before it becomes a RunReport. */
export interface PassSummary {
  tables: TableResult[];
  rowsDeleted: number;
  rowsArchived: number;
  reclaimedBytes: number;
  vacuum: VacuumOutcome;
  analyzed: string[];
  stats: DatabaseStats;
}

/** Error code of a pass whose database file does not exist. */
export const DATABASE_NOT_FOUND = "RECLAIM_ERR_SQLITE_NOT_FOUND";

/** Opens the database with the compactor's connection settings (busy_timeout, no cascading deletes). */
export function openDatabase(path: string, busyTimeoutMs: number): Database.Database {
  if (!existsSync(path)) {
    throw Object.assign(new Error(`SQLite database ${path} does not exist`), { code: DATABASE_NOT_FOUND });
  }
  const db = new Database(path, { fileMustExist: true });
  db.pragma(`busy_timeout = ${Math.round(busyTimeoutMs)}`);
  // Deletes never cascade: the compactor removes exactly the rows its rules select, nothing in other tables.
  db.pragma("foreign_keys = OFF");
  // The pass checkpoints every few batches itself (see WalCheckpointer), outside its write transactions.
  db.pragma("wal_autocheckpoint = 0");
  return db;
}

/** One pass: retention per table, statistics refresh, space given back, WAL truncated. */
export async function runPass(options: SqliteCompactorOptions, metrics: CompactorMetrics, ctx: RunContext): Promise<PassSummary> {
  const db = openDatabase(options.path, options.busyTimeout);
  try {
    const shapes = checkTables(db, options.tables);
    const archive = options.archive !== undefined && !ctx.dryRun;
    if (archive) {
      new Database(options.archive!.path).close(); // creates the file: ATTACH inherits the no-create open flag
      db.prepare(`ATTACH DATABASE ? AS ${ARCHIVE_SCHEMA}`).run(options.archive!.path);
      db.pragma(`${ARCHIVE_SCHEMA}.synchronous = FULL`); // the copy is on disk before the delete commits
    }
    const bytesBefore = fileBytes(options.path);
    const onTransaction = (ms: number) => metrics.transactionSeconds.observe(ms / 1000);
    // In WAL mode, copy the batches' pages into the database every few batches (PASSIVE: never blocks the writer;
    // see WalCheckpointer), so the service's own commits find a short log, restart it, and never checkpoint it themselves.
    const wal = String(db.pragma("journal_mode", { simple: true })).toLowerCase() === "wal";
    // In WAL mode, commit without an fsync of the log (synchronous=NORMAL; the checkpoints every few batches sync it,
    // outside the write lock): with FULL every batch held the write lock through an fsync, whose latency on a busy
    // disk made the writers' longest waits. NORMAL in WAL mode never corrupts the database; a power cut can only
    // undo the batches since the last checkpoint, which the next pass deletes again (their archive copies were committed, FULL, first).
    if (wal) db.pragma("main.synchronous = NORMAL");
    const checkpointer = wal ? new WalCheckpointer(db) : undefined;
    const afterBatch = checkpointer && (() => checkpointer.afterBatch());
    const hooks: VacuumHooks = { onTransaction, ...(afterBatch && { afterBatch }) };
    const pacer = new WritePacer(db, { targetMs: options.batchTarget, busyTimeoutMs: options.busyTimeout });
    const vacuum = new IncrementalVacuum(options.batchTarget, pacer);
    const betweenBatches = ctx.dryRun ? undefined : releaseWhileDeleting(db, vacuum, options.vacuum.freeRatio, ctx.signal, hooks);
    const tables: TableResult[] = [];
    for (const shape of shapes) {
      const result = await applyRetention(db, shape, { now: ctx.now(), signal: ctx.signal, batchTargetMs: options.batchTarget, pacer, archive, dryRun: ctx.dryRun, ...hooks, ...(betweenBatches && { betweenBatches }) });
      tables.push(result);
      if (!ctx.dryRun) {
        if (result.deleted > 0) metrics.rowsRemoved.inc({ table: result.table }, result.deleted);
        if (result.archived > 0) metrics.rowsArchived.inc({ table: result.table }, result.archived);
      }
      if (result.deleted > 0) ctx.log.info({ table: result.table, deleted: result.deleted, archived: result.archived, batches: result.batches, dryRun: ctx.dryRun }, ctx.dryRun ? "rows would be removed" : "rows removed");
    }
    const analyzed = ctx.dryRun ? [] : refreshStatistics(db, tables, options.vacuum.analyzeAfterRows, ctx);
    const outcome = ctx.dryRun ? "dry_run" : await giveSpaceBack(db, options, metrics, ctx, vacuum, hooks);
    if (archive) db.exec(`DETACH DATABASE ${ARCHIVE_SCHEMA}`);
    const stats = databaseStats(db);
    const rowsDeleted = tables.reduce((sum, t) => sum + t.deleted, 0);
    const rowsArchived = tables.reduce((sum, t) => sum + t.archived, 0);
    const reclaimedBytes = ctx.dryRun ? stats.freePages * stats.pageSize : Math.max(0, bytesBefore - fileBytes(options.path));
    return { tables, rowsDeleted, rowsArchived, reclaimedBytes, vacuum: outcome, analyzed, stats };
  } finally {
    db.close();
  }
}

/**
 * In an INCREMENTAL database, once the free pages pass `freeRatio` of the file (the rule that makes the end of the
 * pass run incremental_vacuum anyway), gives the free pages back after every delete batch rather than all at the
 * end. incremental_vacuum's cost per page grows with the length of the free-page list: releasing 1.5 GB of free
 * pages in one go made each page cost ~0.15 ms, most of the pass, and steps whose cost the sizer could not predict
 * (writer stalls of 150–530 ms). With the list kept to a few batches' worth, a page costs a few microseconds.
 */
function releaseWhileDeleting(db: Database.Database, vacuum: IncrementalVacuum, freeRatio: number, signal: AbortSignal, hooks: VacuumHooks): ((pages: { freePages: number; pageCount: number }) => Promise<void>) | undefined {
  if (db.pragma("auto_vacuum", { simple: true }) !== 2) return undefined;
  let releasing = false;
  return async ({ freePages, pageCount }) => {
    releasing ||= pageCount > 0 && freePages / pageCount > freeRatio;
    if (releasing) await vacuum.release(db, signal, hooks, freePages);
  };
}

function refreshStatistics(db: Database.Database, tables: TableResult[], threshold: number, ctx: RunContext): string[] {
  const analyzed: string[] = [];
  const indexes = db.prepare("SELECT count(*) AS n FROM pragma_index_list(?)");
  for (const table of tables) {
    if (table.deleted < threshold) continue;
    // Statistics only steer index choice; for a table without indexes ANALYZE would only count its rows, a full
    // scan under the write lock.
    if ((indexes.get(table.table) as { n: number }).n === 0) continue;
    db.pragma("analysis_limit = 1000"); // bounded: ANALYZE samples instead of scanning a large table
    db.exec(`ANALYZE main.${quoteIdentifier(table.table)}`);
    analyzed.push(table.table);
    ctx.log.info({ table: table.table, deleted: table.deleted }, "planner statistics refreshed (ANALYZE)");
  }
  db.pragma("optimize");
  return analyzed;
}

async function giveSpaceBack(
  db: Database.Database,
  options: SqliteCompactorOptions,
  metrics: CompactorMetrics,
  ctx: RunContext,
  vacuum: IncrementalVacuum,
  hooks: VacuumHooks,
): Promise<VacuumOutcome> {
  const stats = databaseStats(db);
  let outcome: VacuumOutcome = "none";
  if (stats.autoVacuum === "none") {
    if (isEmptyDatabase(db)) {
      convertToIncremental(db); // no tables yet: instant
      ctx.log.info("new database set to auto_vacuum=INCREMENTAL");
      outcome = "converted";
    } else if (!options.vacuum.convert) {
      outcome = "conversion_off";
    } else {
      const free = freeDiskBytes(options.path);
      if (free >= 2 * stats.databaseBytes) {
        const started = performance.now();
        try {
          convertToIncremental(db);
        } catch (err) {
          metrics.vacuumConversions.inc({ outcome: "failed" });
          throw err;
        }
        metrics.vacuumConversions.inc({ outcome: "converted" });
        ctx.log.info({ databaseBytesBefore: stats.databaseBytes, durationMs: Math.round(performance.now() - started) }, "database converted to auto_vacuum=INCREMENTAL with a one-time VACUUM");
        outcome = "converted";
      } else {
        metrics.vacuumConversions.inc({ outcome: "skipped_low_disk" });
        ctx.log.warn({ freeDiskBytes: free, databaseBytes: stats.databaseBytes }, "auto_vacuum is NONE and the free disk is under twice the database size: one-time VACUUM skipped, space not given back");
        outcome = "skipped_low_disk";
      }
    }
  } else if (stats.autoVacuum === "incremental" && (vacuum.released > 0 || (stats.pageCount > 0 && stats.freePages / stats.pageCount > options.vacuum.freeRatio))) {
    // Also when the free pages are now under the threshold because they were given back during the deletes: the
    // last batches' pages go too.
    await vacuum.release(db, ctx.signal, hooks);
    ctx.log.info({ pages: vacuum.released, bytes: vacuum.released * stats.pageSize }, "free pages given back (incremental_vacuum)");
    outcome = "incremental";
  }
  if (stats.journalMode.toLowerCase() === "wal") {
    const { busy } = checkpoint(db, options.batchTarget);
    if (busy) ctx.log.debug("wal_checkpoint(TRUNCATE) could not finish: readers or writers were busy; the next pass retries");
  }
  return outcome;
}

function fileBytes(path: string): number {
  let total = 0;
  for (const file of [path, `${path}-wal`]) {
    try {
      total += statSync(file).size;
    } catch {
      // no WAL file: nothing to add
    }
  }
  return total;
}
