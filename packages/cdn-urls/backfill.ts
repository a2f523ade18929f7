import type { Pool } from "pg";
import { candidatePattern, groupByTable, resolveColumns, type ColumnTarget } from "./_sql.ts";
import { replicaLagOf, sweepTable, type SampleChange, type SweepResult } from "./_engine.ts";
import { advanceProgressMany, ensureProgressTable, finishProgress, loadProgress, progressRelation, resetProgress } from "./_progress.ts";
import { cdnUrlsOptions, type CdnUrlsOptions } from "./options.ts";
import { storedPathRewriter } from "./urls.ts";

/** One column's line of a backfill, dry run or verify report. */
export interface ColumnReport {
  /** `table.column` as configured. */
  column: string;
  table: string;
  kind: "text" | "json" | "jsonb";
  /** Rows walked by this run. */
  scanned: number;
  /** Rows changed by this run (dry run and verify: rows that still hold an old host). */
  rewritten: number;
  /** String values changed (json columns may hold several per row). */
  values: number;
  /** Rows changed by this backfill over all its runs (resumed runs included). */
  rewrittenTotal: number;
  batches: number;
  retries: number;
  replicaWaits: number;
  /** Whether this run started where an interrupted one stopped. */
  resumed: boolean;
  durationMs: number;
  samples: SampleChange[];
}

/** What a backfill (or a dry run of it) did. */
export interface BackfillReport {
  dryRun: boolean;
  columns: ColumnReport[];
}

/** Progress of a running backfill, for a progress bar or log lines. */
export interface BackfillProgress {
  column: string;
  /** Rows walked in this column so far (resumed work included). */
  done: number;
  /** The planner's estimate of the column's rows. */
  estimated: number;
  rewritten: number;
  batchSize: number;
}

/** Runtime options of {@link backfillCdnUrls}. */
export interface BackfillRun {
  /** The backfill's name in the progress table (the instance name). @default "cdn-urls" */
  job?: string;
  /** Count and sample only; write nothing (not even the progress table). @default false */
  dryRun?: boolean;
  /** Before → after samples per column in a dry run. @default 5 */
  sample?: number;
  signal?: AbortSignal;
  /** Called when a column starts and after each batch. */
  onProgress?: (progress: BackfillProgress) => void;
  /** Called when a batch is rolled back after a timeout, to be retried smaller. */
  onRetry?: (err: Error) => void;
  /** Replica lag probe in ms. @default max `replay_lag` of `pg_stat_replication` */
  replicaLag?: () => Promise<number>;
}

/** Columns after the catalog check (exported for the verbs and the hook). */
export async function checkColumns(pool: Pool, options: CdnUrlsOptions): Promise<ColumnTarget[]> {
  return await resolveColumns(pool, options.columns);
}

/**
 * Strips the CDN hosts from every configured column: keyset batches, each its own short transaction, sized to
 * `batchTarget`, progress saved in `progressTable` in the same transaction as the batch. A run that was killed
 * resumes where the last committed batch ended; a run after a finished one walks the columns again and changes
 * nothing. Every column is checked against the catalog first: a problem throws a `UsageError` before any write.
 *
 * @example
 * ```ts
 * const report = await backfillCdnUrls(pool, { hosts: ["cdn.example.ai"], columns: [{ table: "flat_file", column: "url" }] });
 * ```
 */
export async function backfillCdnUrls(pool: Pool, input: unknown, run: BackfillRun = {}): Promise<BackfillReport> {
  const options = cdnUrlsOptions.parse(input);
  const targets = await resolveColumns(pool, options.columns);
  const dryRun = run.dryRun ?? false;
  const job = `backfill:${run.job ?? "cdn-urls"}`;
  const relation = progressRelation(options.progressTable);
  const rewrite = storedPathRewriter({ hosts: options.hosts });
  let progress = new Map<string, { lastKey: string | null; scanned: number; rewritten: number; done: boolean }>();
  if (!dryRun) {
    await ensureProgressTable(pool, relation);
    progress = await loadProgress(pool, relation, job);
    const finished = targets.every((target) => progress.get(target.label)?.done === true);
    if (finished || progress.size === 0) {
      for (const target of targets) await resetProgress(pool, relation, job, target.label);
      progress = await loadProgress(pool, relation, job);
    }
  }
  const columns = new Map<string, ColumnReport>();
  for (const group of groupByTable(targets)) {
    const started = performance.now();
    const pending: ColumnTarget[] = [];
    for (const target of group) {
      const saved = progress.get(target.label);
      if (!dryRun && saved === undefined) await resetProgress(pool, relation, job, target.label);
      if (saved?.done) {
        columns.set(target.label, {
          column: target.label, table: target.table, kind: target.kind, resumed: false, samples: [],
          scanned: 0, rewritten: 0, values: 0, rewrittenTotal: saved.rewritten, batches: 0, retries: 0, replicaWaits: 0, durationMs: 0,
        });
      } else pending.push(target);
    }
    if (pending.length === 0) continue;
    // the columns of a table advance together; if their saved keys differ (the config changed), start the table over
    const lastKeys = pending.map((target) => (dryRun ? null : (progress.get(target.label)?.lastKey ?? null)));
    const from = lastKeys.every((key) => key !== null && key === lastKeys[0]) ? (lastKeys[0] ?? null) : null;
    if (from === null && !dryRun && lastKeys.some((key) => key !== null)) {
      for (const target of pending) {
        await resetProgress(pool, relation, job, target.label);
        progress.delete(target.label);
      }
    }
    const before = pending.map((target) => ({ scanned: progress.get(target.label)?.scanned ?? 0, rewritten: progress.get(target.label)?.rewritten ?? 0 }));
    const name = `${pending[0]!.table}.${pending.map((target) => target.column).join("+")}`;
    const estimated = pending[0]!.estimatedRows;
    const report = (results: readonly SweepResult[], batchSize: number) =>
      run.onProgress?.({
        column: name,
        done: (before[0]?.scanned ?? 0) + (results[0]?.scanned ?? 0),
        estimated,
        rewritten: before.reduce((sum, b, i) => sum + b.rewritten + (results[i]?.rewritten ?? 0), 0),
        batchSize,
      });
    report([], options.initialBatchSize);
    const labels = pending.map((target) => target.label);
    const results = await sweepTable(pool, pending, {
      mode: dryRun ? "read" : "write",
      rewrite,
      patterns: pending.map((target) => candidatePattern(options.hosts, target.kind)),
      from,
      batchTarget: options.batchTarget,
      initialBatchSize: options.initialBatchSize,
      maxBatchSize: options.maxBatchSize,
      pause: options.pause,
      lockTimeout: options.lockTimeout,
      statementTimeout: options.statementTimeout,
      maxReplicaLag: options.maxReplicaLag,
      replicaLagCheck: options.replicaLagCheck,
      replicaLag: run.replicaLag ?? (() => replicaLagOf(pool)),
      signal: run.signal,
      sample: dryRun ? (run.sample ?? 5) : 0,
      ...(run.onRetry ? { onRetry: run.onRetry } : {}),
      inBatch: (client, lastKey, scanned, rewritten) => advanceProgressMany(client, relation, job, labels, lastKey, scanned, rewritten),
      onBatch: report,
    });
    if (!dryRun) for (const target of pending) await finishProgress(pool, relation, job, target.label, null);
    const durationMs = Math.round(performance.now() - started);
    pending.forEach((target, i) => {
      const result = results[i] as SweepResult;
      columns.set(target.label, {
        column: target.label,
        table: target.table,
        kind: target.kind,
        resumed: from !== null,
        scanned: result.scanned,
        rewritten: result.rewritten,
        values: result.values,
        rewrittenTotal: (before[i]?.rewritten ?? 0) + result.rewritten,
        batches: result.batches,
        retries: result.retries,
        replicaWaits: result.replicaWaits,
        durationMs,
        samples: result.samples,
      });
    });
  }
  return { dryRun, columns: targets.map((target) => columns.get(target.label) as ColumnReport) };
}
