import { throwIfAborted } from "@reclaim/core";
import type { Database } from "better-sqlite3";
import { BatchSizer, timeTransaction, type TransactionTiming } from "./_batch_sizer.ts";
import type { WritePacer } from "./_write_pacer.ts";
import type { TableShape } from "./_schema_check.ts";
import type { TableResult } from "./report.ts";
import { quoteIdentifier, retentionPredicate, terminalParameters, timeMsExpression } from "./_sql.ts";

/** Schema name under which the archive file is attached. */
export const ARCHIVE_SCHEMA = "reclaim_archive";
const ROWID_COLUMN = "_reclaim_rowid";
const ARCHIVED_AT_COLUMN = "_reclaim_archived_at";

/** Inputs of {@link applyRetention}. */
export interface RetentionRun {
  now: number;
  signal: AbortSignal;
  batchTargetMs: number;
  /** Spaces the write transactions of the whole pass (deletes and incremental vacuum steps alike). */
  pacer: WritePacer;
  archive: boolean;
  dryRun: boolean;
  /** Called with each write transaction's duration in ms. */
  onTransaction?(ms: number): void;
  /** Called after each batch, outside any transaction (the pass checkpoints the WAL there). */
  afterBatch?(): void;
  /** Awaited after each batch with the page counts at its commit (the pass gives the pages just freed back there). */
  betweenBatches?(pages: { freePages: number; pageCount: number }): Promise<void>;
}

/**
 * Removes the rows a table's rule selects, in rowid-window batches sized to `batchTargetMs`. With an archive, each
 * window is first copied (skipping rows already archived with identical values) in one committed statement, then
 * deleted in a second one that only deletes rows whose identical copy is in the archive: a crash between the two
 * leaves the rows in both places, never in neither, and the retry does not copy them twice.
 */
export async function applyRetention(db: Database, shape: TableShape, run: RetentionRun): Promise<TableResult> {
  const { rule, rowid } = shape;
  const table = quoteIdentifier(rule.table);
  const params: Record<string, unknown> = { ...terminalParameters(rule) };
  const hasAge = rule.maxAge !== null;
  if (hasAge) params.ageCutoff = run.now - rule.maxAge!;
  let hasCount = false;
  if (rule.maxRows !== null) {
    const cutoff = countCutoff(db, shape);
    if (cutoff) {
      hasCount = true;
      params.countTime = cutoff.time;
      params.countRowid = cutoff.rowid;
    }
  }
  const result: TableResult = { table: rule.table, deleted: 0, archived: 0, batches: 0 };
  if (!hasAge && !hasCount) return result;
  const predicate = retentionPredicate(rule, rowid, hasAge, hasCount);
  if (run.dryRun) {
    const row = db.prepare(`SELECT count(*) AS n FROM main.${table} WHERE ${predicate}`).get(params) as { n: number };
    result.deleted = row.n;
    return result;
  }

  if (run.archive) prepareArchiveTable(db, shape);
  // Two subqueries: SQLite answers a lone min() or max() from the b-tree's edge, both in one SELECT with a full scan.
  const bounds = db.prepare(`SELECT (SELECT min(${rowid}) FROM main.${table}) AS lo, (SELECT max(${rowid}) FROM main.${table}) AS hi`).safeIntegers(true).get() as { lo: bigint | null; hi: bigint | null };
  if (bounds.lo === null || bounds.hi === null) return result;
  const windowEnd = db.prepare(`SELECT ${rowid} AS r FROM main.${table} WHERE ${rowid} > ? ORDER BY ${rowid} LIMIT 1 OFFSET ?`).safeIntegers(true).pluck();
  const window = `${rowid} > $lo AND ${rowid} <= $hi`;
  const same = sameRowCondition(shape, "a", table);
  const copy = run.archive
    ? db.prepare(
        `INSERT INTO ${ARCHIVE_SCHEMA}.${table} (${shape.columns.map(quoteIdentifier).join(", ")}, ${ROWID_COLUMN}, ${ARCHIVED_AT_COLUMN}) ` +
          `SELECT ${shape.columns.map(quoteIdentifier).join(", ")}, ${rowid}, $now FROM main.${table} ` +
          `WHERE ${window} AND ${predicate} AND NOT EXISTS (SELECT 1 FROM ${ARCHIVE_SCHEMA}.${table} AS a WHERE ${same})`,
      )
    : undefined;
  const remove = db.prepare(
    `DELETE FROM main.${table} WHERE ${window} AND ${predicate}` +
      (run.archive ? ` AND EXISTS (SELECT 1 FROM ${ARCHIVE_SCHEMA}.${table} AS a WHERE ${same})` : ""),
  );

  const sizer = new BatchSizer(run.batchTargetMs);
  const last = bounds.hi;
  const nextEnd = (lo: bigint): bigint => {
    const end = (windowEnd.get(lo, sizer.size - 1) as bigint | undefined) ?? last;
    return end < last ? end : last;
  };
  let cursor = bounds.lo - 1n;
  while (cursor < last) {
    throwIfAborted(run.signal);
    const lo = cursor;
    let slowest: TransactionTiming | undefined;
    let copiedUpTo: bigint | undefined;
    if (copy) {
      // A write to the archive file only: the service's database is read, not locked for writing.
      copiedUpTo = nextEnd(lo);
      const copied = timeTransaction(() => copy.run({ ...params, lo, hi: copiedUpTo, now: run.now }));
      result.archived += copied.value.changes;
      run.onTransaction?.(copied.timing.ms);
      slowest = copied.timing;
    }
    // The window's end and the free-page counts are read inside the write transaction: one lock to wait for.
    const removed = await run.pacer.transaction(() => {
      const hi = copiedUpTo ?? nextEnd(lo);
      const changes = remove.run({ ...params, lo, hi }).changes;
      const freePages = db.pragma("freelist_count", { simple: true }) as number;
      const pageCount = db.pragma("page_count", { simple: true }) as number;
      return { hi, changes, pages: { freePages, pageCount } };
    }, run.signal);
    result.deleted += removed.value.changes;
    run.onTransaction?.(removed.timing.ms);
    if (!slowest || removed.timing.ms > slowest.ms) slowest = removed.timing;
    sizer.record(slowest.ms, slowest);
    result.batches++;
    cursor = removed.value.hi;
    run.afterBatch?.();
    await run.betweenBatches?.(removed.value.pages);
  }
  return result;
}

/** The (time, rowid) of the `maxRows`-th newest terminal row, or undefined when there are no more than `maxRows`. */
function countCutoff(db: Database, shape: TableShape): { time: number; rowid: bigint } | undefined {
  const { rule, rowid } = shape;
  const time = timeMsExpression(quoteIdentifier(rule.timeColumn), rule.timeFormat);
  const terminal = rule.terminal.map((_, i) => `$t${i}`).join(", ");
  const row = db
    .prepare(
      `SELECT t, r FROM (SELECT ${time} AS t, ${rowid} AS r FROM main.${quoteIdentifier(rule.table)} WHERE ${quoteIdentifier(rule.statusColumn)} IN (${terminal})) ` +
        `WHERE t IS NOT NULL ORDER BY t DESC, r DESC LIMIT 1 OFFSET $offset`,
    )
    .safeIntegers(true)
    .get({ ...terminalParameters(rule), offset: rule.maxRows! - 1 }) as { t: number | bigint; r: bigint } | undefined;
  return row ? { time: Number(row.t), rowid: row.r } : undefined;
}

/** `a` (the archive row) holds the same rowid and the same values as the source row. */
function sameRowCondition(shape: TableShape, alias: string, source: string): string {
  const parts = [`${alias}.${ROWID_COLUMN} = ${source}.${shape.rowid}`];
  for (const column of shape.columns) parts.push(`${alias}.${quoteIdentifier(column)} IS ${source}.${quoteIdentifier(column)}`);
  return parts.join(" AND ");
}

/** Creates the archive table (untyped columns, so values are kept exactly) and adds columns the source gained since. */
function prepareArchiveTable(db: Database, shape: TableShape): void {
  const table = quoteIdentifier(shape.rule.table);
  const columns = shape.columns.map(quoteIdentifier).join(", ");
  db.exec(`CREATE TABLE IF NOT EXISTS ${ARCHIVE_SCHEMA}.${table} (${columns}, ${ROWID_COLUMN} INTEGER NOT NULL, ${ARCHIVED_AT_COLUMN} INTEGER NOT NULL)`);
  db.exec(`CREATE INDEX IF NOT EXISTS ${ARCHIVE_SCHEMA}.${quoteIdentifier(`${shape.rule.table}_by_reclaim_rowid`)} ON ${table} (${ROWID_COLUMN})`);
  const existing = new Set((db.prepare(`SELECT name FROM pragma_table_info(?, ?)`).all(shape.rule.table, ARCHIVE_SCHEMA) as { name: string }[]).map((c) => c.name.toLowerCase()));
  for (const column of shape.columns) {
    if (!existing.has(column.toLowerCase())) db.exec(`ALTER TABLE ${ARCHIVE_SCHEMA}.${table} ADD COLUMN ${quoteIdentifier(column)}`);
  }
}
