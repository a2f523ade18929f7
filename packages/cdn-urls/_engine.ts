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

/** How to sweep one column. */
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
  /** Samples to keep. @default 0 */
  sample?: number;
  /** Inside each write batch's transaction, after its update (progress goes here, so both commit or neither). */
  inBatch?: (client: PoolClient, lastKey: string, scanned: number, rewritten: number) => Promise<void>;
  /** After a batch was rolled back to be retried smaller. */
  onRetry?: (err: Error) => void;
  /** After each batch commits. */
  onBatch?: (result: Readonly<SweepResult>, batchSize: number) => void;
}

/** Rewrites one value of a column; `undefined` when it stays. */
function rewriteValue(target: ColumnTarget, value: string, rewrite: (value: string) => string | undefined): { text: string; values: number } | undefined {
  if (target.kind === "text") {
    const next = rewrite(value);
    return next === undefined || next === value ? undefined : { text: next, values: 1 };
  }
  return rewriteJsonStrings(value, rewrite);
}

/**
 * Walks one column in keyset batches on its key (never OFFSET): each batch finds its upper key through the key's
 * index, reads only the candidate rows in that range (locking them `FOR NO KEY UPDATE` in write mode), rewrites them
 * in JavaScript and writes them back with one `UPDATE ... FROM unnest(...)`, all in one short transaction with
 * `lock_timeout` and `statement_timeout`. A batch that times out is rolled back and retried with half the rows.
 */
export async function sweepColumn(pool: Pool, target: ColumnTarget, options: SweepOptions): Promise<SweepResult> {
  const result: SweepResult = { scanned: 0, candidates: 0, rewritten: 0, values: 0, batches: 0, retries: 0, replicaWaits: 0, samples: [] };
  const sizer = new BatchSizer(options.batchTarget, options.initialBatchSize, options.maxBatchSize);
  const write = options.mode === "write";
  const cast = target.kind === "text" ? "" : `::${target.kind}`;
  const valueExpr = target.kind === "text" ? target.col : `${target.col}::text`;
  let last = options.from;
  let attempts = 0;
  for (;;) {
    if (options.signal) throwIfAborted(options.signal);
    if (options.maxReplicaLag !== undefined) {
      while ((await options.replicaLag()) > options.maxReplicaLag) {
        result.replicaWaits++;
        await sleep(options.replicaLagCheck, undefined, options.signal ? { signal: options.signal } : undefined);
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
           FROM (SELECT ${target.key} AS k FROM ${target.relation} ${last !== null ? `WHERE ${target.key} > $2` : ""} ORDER BY ${target.key} LIMIT $1) s
          ORDER BY k DESC LIMIT 1`,
        boundParams,
      );
      const bound = bounds[0];
      if (!bound) {
        await client.query("COMMIT");
        client.release();
        return result;
      }
      const params: unknown[] = [bound.upper, options.pattern];
      let where = `${target.key} <= $1 AND ${target.col}::text ~* $2`;
      if (last !== null) {
        params.push(last);
        where += ` AND ${target.key} > $${params.length}`;
      }
      if (options.sinceXid !== undefined && options.sinceXid !== null) {
        params.push(options.sinceXid);
        const since = `$${params.length}::bigint`;
        // both ages are taken from the same reference (this transaction's stable xid), so the comparison is exact;
        // when the last pass is more than 2^31 transactions ago the 32-bit ages wrap: walk every row then
        where += ` AND (age(xmin) <= age((${since} % 4294967296)::text::xid) OR pg_snapshot_xmax(pg_current_snapshot())::text::bigint - ${since} >= 2000000000)`;
      }
      const { rows } = await client.query<{ k: string; v: string | null }>(
        `SELECT ${target.key}::text AS k, ${valueExpr} AS v FROM ${target.relation} WHERE ${where}${write ? " FOR NO KEY UPDATE" : ""}`,
        params,
      );
      const keys: string[] = [];
      const values: string[] = [];
      let changedValues = 0;
      const samples: SampleChange[] = [];
      for (const row of rows) {
        if (row.v === null) continue;
        const next = rewriteValue(target, row.v, options.rewrite);
        if (!next) continue;
        keys.push(row.k);
        values.push(next.text);
        changedValues += next.values;
        if (result.samples.length + samples.length < (options.sample ?? 0)) samples.push({ key: row.k, before: row.v, after: next.text });
      }
      if (write && keys.length > 0) {
        await client.query(
          `UPDATE ${target.relation} AS t SET ${target.col} = v.n${cast} FROM unnest($1::${target.keyType}[], $2::text[]) AS v(k, n) WHERE t.${target.key} = v.k`,
          [keys, values],
        );
      }
      if (write && options.inBatch) await options.inBatch(client, bound.upper, bound.n, keys.length);
      await client.query("COMMIT");
      result.scanned += bound.n;
      result.candidates += rows.length;
      result.rewritten += keys.length;
      result.values += changedValues;
      result.batches++;
      result.samples.push(...samples);
      last = bound.upper;
      attempts = 0;
      sizer.record(bound.n, performance.now() - started);
      options.onBatch?.(result, size);
    } catch (err) {
      await client.query("ROLLBACK").catch((rollbackError: Error) => (broken = rollbackError));
      const code = (err as { code?: string }).code;
      if (code === undefined || !RETRYABLE.has(code) || ++attempts >= MAX_ATTEMPTS) {
        client.release(broken ?? (code === undefined ? (err as Error) : undefined));
        throw err;
      }
      result.retries++;
      sizer.shrink();
      options.onRetry?.(err as Error);
      client.release(broken);
      await sleep(Math.min(1_000, 20 * attempts), undefined, options.signal ? { signal: options.signal } : undefined);
      continue;
    }
    client.release();
    if (options.pause > 0) await sleep(options.pause, undefined, options.signal ? { signal: options.signal } : undefined);
  }
  return result;
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
