import { setTimeout as sleep } from "node:timers/promises";
import type { Pool, PoolClient } from "pg";
import { throwIfAborted } from "@reclaim/core";
import { BatchSizer } from "./_batch_sizer.ts";
import { setTimeouts, type ColumnTarget } from "./_sql.ts";
import { rewriteJsonStrings } from "./urls.ts";

/** SQLSTATEs after which a batch is rolled back and retried smaller: statement timeout, lock timeout, deadlock, serialization. */
const RETRYABLE = new Set(["57014", "55P03", "40P01", "40001"]);
/** Consecutive failed attempts of one batch before the sweep gives up. */
const MAX_ATTEMPTS = 30;

/** One value's change, for dry-run samples. */
export interface SampleChange {
  key: string;
  before: string;
  after: string;
}

/** What one sweep of one column did (or, read-only, found). */
export interface SweepResult {
  /** Rows walked (the key ranges of the batches). */
  scanned: number;
  /** Rows read because they matched the host pattern (and, incrementally, were written since the last pass). */
  candidates: number;
  /** Rows whose value changed (read-only: would change). */
  rewritten: number;
  /** String values changed inside those rows (json: several per row). */
  values: number;
  batches: number;
  /** Batches retried smaller after a timeout, lock timeout or deadlock. */
  retries: number;
  /** Times it waited for a replica to catch up. */
  replicaWaits: number;
  samples: SampleChange[];
}

/** How to sweep one column (or, with {@link sweepTable}, several columns of one table). */
export interface SweepOptions {
  /** `write` rewrites under short transactions; `read` only counts (dry run, verify). */
  mode: "write" | "read";
  rewrite: (value: string) => string | undefined;
  /** The candidate pattern for `~*`. */
  pattern: string;
  /** Resume after this key (text form). */
  from: string | null;
  /** Only rows written by transactions at or after this xid (the hook's incremental passes). */
  sinceXid?: number | null;
  batchTarget: number;
  initialBatchSize: number;
  maxBatchSize: number;
  pause: number;
  lockTimeout: number;
  statementTimeout: number;
  maxReplicaLag?: number | undefined;
  replicaLagCheck: number;
  replicaLag: () => Promise<number>;
  signal?: AbortSignal | undefined;
  /** Samples to keep per column. @default 0 */
  sample?: number;
  /** After a batch was rolled back to be retried smaller. */
  onRetry?: (err: Error) => void;
  /** Inside each write batch's transaction, after its update (progress goes here, so both commit or neither). */
  inBatch?: (client: PoolClient, lastKey: string, scanned: number, rewritten: number) => Promise<void>;
  /** After each batch commits. */
  onBatch?: (result: Readonly<SweepResult>, batchSize: number) => void;
}

/** Options of {@link sweepTable}: one pattern per column, and per-column callbacks. */
export interface TableSweepOptions extends Omit<SweepOptions, "pattern" | "inBatch" | "onBatch"> {
  patterns: readonly string[];
  inBatch?: (client: PoolClient, lastKey: string, scanned: number, rewritten: readonly number[]) => Promise<void>;
  onBatch?: (results: readonly Readonly<SweepResult>[], batchSize: number) => void;
}

/** Rewrites one value of a column; `undefined` when it stays. */
function rewriteValue(target: ColumnTarget, value: string, rewrite: (value: string) => string | undefined): { text: string; values: number } | undefined {
  if (target.kind === "text") {
    const next = rewrite(value);
    return next === undefined || next === value ? undefined : { text: next, values: 1 };
  }
  return rewriteJsonStrings(value, rewrite);
}

/** Sweeps one column: {@link sweepTable} with one target. */
export async function sweepColumn(pool: Pool, target: ColumnTarget, options: SweepOptions): Promise<SweepResult> {
  const { pattern, inBatch, onBatch, ...rest } = options;
  const results = await sweepTable(pool, [target], {
    ...rest,
    patterns: [pattern],
    ...(inBatch ? { inBatch: (client, lastKey, scanned, rewritten) => inBatch(client, lastKey, scanned, rewritten[0] ?? 0) } : {}),
    ...(onBatch ? { onBatch: (all, size) => onBatch(all[0] as SweepResult, size) } : {}),
  });
  return results[0] as SweepResult;
}

/**
 * Walks one table in keyset batches on its key (never OFFSET), for one or more of its columns at once (so a row is
 * read, locked and rewritten once whatever the number of columns): each batch finds its upper key through the key's
 * index, reads only the rows in that range whose text matches (locking them `FOR NO KEY UPDATE` in write mode),
 * rewrites them in JavaScript and writes them back with one `UPDATE ... FROM unnest(...)`, all in one short
 * transaction with `lock_timeout` and `statement_timeout`. A batch that times out is rolled back and retried with
 * half the rows. Every target must share `relation` and `key`.
 */
export async function sweepTable(pool: Pool, targets: readonly ColumnTarget[], options: TableSweepOptions): Promise<SweepResult[]> {
  const results: SweepResult[] = targets.map(() => ({ scanned: 0, candidates: 0, rewritten: 0, values: 0, batches: 0, retries: 0, replicaWaits: 0, samples: [] }));
  const first = targets[0];
  if (!first) return results;
  const sizer = new BatchSizer(options.batchTarget, options.initialBatchSize, options.maxBatchSize);
  const write = options.mode === "write";
  const signalOption = options.signal ? { signal: options.signal } : undefined;
  const { relation, key, keyType } = first;
  const selectList = targets.map((target, i) => `${target.kind === "text" ? target.col : `${target.col}::text`} AS v${i}`).join(", ");
  const setList = targets.map((target, i) => `${target.col} = COALESCE(v.n${i}${target.kind === "text" ? "" : `::${target.kind}`}, t.${target.col})`).join(", ");
  const unnestArgs = targets.map((_, i) => `$${i + 2}::text[]`).join(", ");
  const unnestNames = targets.map((_, i) => `n${i}`).join(", ");
  let last = options.from;
  let attempts = 0;
  for (;;) {
    if (options.signal) throwIfAborted(options.signal);
    if (options.maxReplicaLag !== undefined) {
      while ((await options.replicaLag()) > options.maxReplicaLag) {
        for (const result of results) result.replicaWaits++;
        await sleep(options.replicaLagCheck, undefined, signalOption);
      }
    }
    const size = sizer.size;
    const client = await pool.connect();
    const started = performance.now();
    let broken: Error | undefined;
    try {
      await client.query(write ? "BEGIN" : "BEGIN READ ONLY");
      await setTimeouts(client, options.lockTimeout, options.statementTimeout);
      const boundParams: unknown[] = [size];
      if (last !== null) boundParams.push(last);
      const { rows: bounds } = await client.query<{ upper: string; n: number }>(
        `SELECT k::text AS upper, count(*) OVER ()::int AS n
           FROM (SELECT ${key} AS k FROM ${relation} ${last !== null ? `WHERE ${key} > $2` : ""} ORDER BY ${key} LIMIT $1) s
          ORDER BY k DESC LIMIT 1`,
        boundParams,
      );
      const bound = bounds[0];
      if (!bound) {
        await client.query("COMMIT");
        client.release();
        return results;
      }
      const params: unknown[] = [bound.upper];
      const matches = targets.map((target, i) => {
        params.push(options.patterns[i]);
        return `${target.col}::text ~* $${params.length}`;
      });
      let where = `${key} <= $1 AND (${matches.join(" OR ")})`;
      if (last !== null) {
        params.push(last);
        where += ` AND ${key} > $${params.length}`;
      }
      if (options.sinceXid !== undefined && options.sinceXid !== null) {
        params.push(options.sinceXid);
        const since = `$${params.length}::bigint`;
        // both ages are taken from the same reference (this transaction's stable xid), so the comparison is exact;
        // when the last pass is more than 2^31 transactions ago the 32-bit ages wrap: walk every row then
        where += ` AND (age(xmin) <= age((${since} % 4294967296)::text::xid) OR pg_snapshot_xmax(pg_current_snapshot())::text::bigint - ${since} >= 2000000000)`;
      }
      const { rows } = await client.query<Record<string, string | null>>(
        `SELECT ${key}::text AS k, ${selectList} FROM ${relation} WHERE ${where}${write ? " FOR NO KEY UPDATE" : ""}`,
        params,
      );
      const keys: string[] = [];
      const columns: Array<Array<string | null>> = targets.map(() => []);
      const rewritten = targets.map(() => 0);
      const values = targets.map(() => 0);
      const samples: SampleChange[][] = targets.map(() => []);
      for (const row of rows) {
        let changed = false;
        const next = targets.map((target, i) => {
          const value = row[`v${i}`];
          const out = value === null || value === undefined ? undefined : rewriteValue(target, value, options.rewrite);
          if (!out) return null;
          changed = true;
          rewritten[i]!++;
          values[i]! += out.values;
          if ((results[i]?.samples.length ?? 0) + (samples[i]?.length ?? 0) < (options.sample ?? 0)) samples[i]?.push({ key: row.k as string, before: value as string, after: out.text });
          return out.text;
        });
        if (!changed) continue;
        keys.push(row.k as string);
        next.forEach((value, i) => columns[i]?.push(value));
      }
      if (write && keys.length > 0) {
        await client.query(
          `UPDATE ${relation} AS t SET ${setList} FROM unnest($1::${keyType}[], ${unnestArgs}) AS v(k, ${unnestNames}) WHERE t.${key} = v.k`,
          [keys, ...columns],
        );
      }
      if (write && options.inBatch) await options.inBatch(client, bound.upper, bound.n, rewritten);
      await client.query("COMMIT");
      results.forEach((result, i) => {
        result.scanned += bound.n;
        result.candidates += rows.length;
        result.rewritten += rewritten[i] ?? 0;
        result.values += values[i] ?? 0;
        result.batches++;
        result.samples.push(...(samples[i] ?? []));
      });
      last = bound.upper;
      attempts = 0;
      sizer.record(bound.n, performance.now() - started);
      options.onBatch?.(results, size);
    } catch (err) {
      await client.query("ROLLBACK").catch((rollbackError: Error) => (broken = rollbackError));
      const code = (err as { code?: string }).code;
      if (code === undefined || !RETRYABLE.has(code) || ++attempts >= MAX_ATTEMPTS) {
        client.release(broken ?? (code === undefined ? (err as Error) : undefined));
        throw err;
      }
      for (const result of results) result.retries++;
      sizer.shrink();
      options.onRetry?.(err as Error);
      client.release(broken);
      await sleep(Math.min(1_000, 20 * attempts), undefined, signalOption);
      continue;
    }
    client.release();
    if (options.pause > 0) await sleep(options.pause, undefined, signalOption);
  }
}

/** Replica replay lag in ms as the primary sees it (`pg_stat_replication`; 0 without replicas). */
export async function replicaLagOf(pool: Pool): Promise<number> {
  const { rows } = await pool.query<{ lag: number }>(`SELECT COALESCE(max(EXTRACT(EPOCH FROM replay_lag)) * 1000, 0)::float8 AS lag FROM pg_stat_replication`);
  return rows[0]?.lag ?? 0;
}

/** The oldest transaction that may still commit rows this pass cannot see: the hook's next pass looks at rows from it on. */
export async function snapshotXmin(pool: Pool): Promise<number> {
  const { rows } = await pool.query<{ xmin: string }>(`SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS xmin`);
  return Number(rows[0]?.xmin ?? 0);
}
