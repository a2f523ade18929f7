import type { Pool, PoolClient } from "pg";
import { ddlStep, inTransaction, listPartitions, qualified, quoteIdent, type ArchiveTarget } from "./_archive.ts";
import { subtractPartition } from "./_archive_totals.ts";

/** Postgres' `lock_not_available`: `lock_timeout` ran out. */
const LOCK_NOT_AVAILABLE = "55P03";

/** What archive retention did in one pass. */
export interface RetentionResult {
  /** Partitions dropped whole (every row in them was past its kind's window). */
  partitionsDropped: string[];
  /** Rows deleted in batches, by kind. */
  rowsDeleted: Record<string, number>;
  /** Steps that failed (a drop, or a kind's batched deletes, under `lock_timeout`, ...): `step: message`. The pass goes on. */
  failedSteps: string[];
}

/**
 * Archive retention. `windows` maps each configured kind to its `archiveFor` (ms); rows of any other kind are never
 * removed. First, partitions whose whole range is past the shortest window are considered for a drop: under an
 * ACCESS EXCLUSIVE lock on the archive (bounded by `lock_timeout`), the kinds present in the partition are listed
 * (loose index scan) and each must be a configured kind with no row inside its window; only then is it dropped. A
 * lock conflict fails that drop (recorded in `failedSteps`), never the pass, and leaves the partition. Then the rows
 * past their window that remain are deleted in batches of `batch` rows, per kind, each batch under `lock_timeout`
 * too: a lock conflict stops that kind's deletes (recorded), never the pass.
 */
export async function applyRetention(
  pool: Pool,
  target: ArchiveTarget,
  windows: ReadonlyMap<string, number>,
  now: number,
  batch: number,
  signal: AbortSignal,
): Promise<RetentionResult> {
  const result: RetentionResult = { partitionsDropped: [], rowsDeleted: {}, failedSteps: [] };
  if (windows.size === 0) return result;
  const cutoffs = new Map([...windows].map(([kind, keep]) => [kind, now - keep]));
  const earliestCutoff = Math.max(...cutoffs.values()); // the shortest window's cutoff
  for (const [name, bounds] of await listPartitions(pool, target)) {
    signal.throwIfAborted();
    if (!bounds || bounds.to > earliestCutoff) continue;
    try {
      const dropped = await ddlStep(pool, target, async (client) => {
        await client.query(`LOCK TABLE ${qualified(target)} IN ACCESS EXCLUSIVE MODE`);
        if (!(await allPastWindow(client, target, name, cutoffs))) return false;
        await subtractPartition(client, target, name); // a DROP fires no DELETE trigger
        await client.query(`DROP TABLE ${quoteIdent(target.schema)}.${quoteIdent(name)}`);
        return true;
      });
      if (dropped) result.partitionsDropped.push(name);
    } catch (err) {
      result.failedSteps.push(`drop ${name}: ${(err as Error).message}`);
    }
  }
  for (const [kind, cutoff] of cutoffs) {
    let deleted = 0;
    try {
      for (;;) {
        signal.throwIfAborted();
        // Each batch in its own transaction under `lock_timeout`: a lock held on the archive fails this kind's
        // deletes (recorded in `failedSteps`, the rows stay for a later pass), never the pass.
        const removed = await inTransaction(pool, target, async (client) => {
          const done = await client.query(
            `DELETE FROM ${qualified(target)} WHERE (key, record_time, digest) IN
               (SELECT key, record_time, digest FROM ${qualified(target)} WHERE kind = $1 AND record_time < $2 LIMIT $3)`,
            [kind, new Date(cutoff).toISOString(), batch],
          );
          return done.rowCount ?? 0;
        });
        deleted += removed;
        if (removed < batch) break;
      }
    } catch (err) {
      if ((err as { code?: string }).code !== LOCK_NOT_AVAILABLE) throw err;
      result.failedSteps.push(`delete ${kind}: ${(err as Error).message}`);
    }
    if (deleted > 0) result.rowsDeleted[kind] = deleted;
  }
  return result;
}

/** Whether every row of the partition is of a configured kind and past that kind's cutoff (index probes only). */
async function allPastWindow(client: PoolClient, target: ArchiveTarget, name: string, cutoffs: ReadonlyMap<string, number>): Promise<boolean> {
  const partition = `${quoteIdent(target.schema)}.${quoteIdent(name)}`;
  let previous: string | null = null;
  for (;;) {
    const next: { rows: Array<{ kind: string | null }> } = await client.query(
      previous === null ? `SELECT min(kind) AS kind FROM ${partition}` : `SELECT min(kind) AS kind FROM ${partition} WHERE kind > $1`,
      previous === null ? [] : [previous],
    );
    const kind = next.rows[0]?.kind ?? null;
    if (kind === null) return true;
    const cutoff = cutoffs.get(kind);
    if (cutoff === undefined) return false;
    const inside = await client.query(`SELECT 1 FROM ${partition} WHERE kind = $1 AND record_time >= $2 LIMIT 1`, [kind, new Date(cutoff).toISOString()]);
    if ((inside.rowCount ?? 0) > 0) return false;
    previous = kind;
  }
}
