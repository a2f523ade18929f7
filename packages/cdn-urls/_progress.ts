import type { Pool, PoolClient } from "pg";
import { quoteIdent, splitRelation } from "./_sql.ts";

/** One column's saved progress. */
export interface ProgressRow {
  lastKey: string | null;
  scanned: number;
  rewritten: number;
  done: boolean;
  sinceXid: number | null;
}

/** The quoted name of the progress table. */
export function progressRelation(name: string): string {
  const { schema, table } = splitRelation(name);
  return schema === undefined ? quoteIdent(table) : `${quoteIdent(schema)}.${quoteIdent(table)}`;
}

/** Creates the progress table when it is missing. */
export async function ensureProgressTable(pool: Pool, relation: string): Promise<void> {
  await pool.query(
    `CREATE TABLE IF NOT EXISTS ${relation} (
       job text NOT NULL, label text NOT NULL, last_key text, scanned bigint NOT NULL DEFAULT 0,
       rewritten bigint NOT NULL DEFAULT 0, done boolean NOT NULL DEFAULT false, since_xid bigint,
       updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (job, label))`,
  );
}

/** The saved progress of every column of `job`. */
export async function loadProgress(pool: Pool, relation: string, job: string): Promise<Map<string, ProgressRow>> {
  const { rows } = await pool.query<{ label: string; last_key: string | null; scanned: string; rewritten: string; done: boolean; since_xid: string | null }>(
    `SELECT label, last_key, scanned, rewritten, done, since_xid FROM ${relation} WHERE job = $1`,
    [job],
  );
  return new Map(
    rows.map((row) => [
      row.label,
      { lastKey: row.last_key, scanned: Number(row.scanned), rewritten: Number(row.rewritten), done: row.done, sinceXid: row.since_xid === null ? null : Number(row.since_xid) },
    ]),
  );
}

/** Starts (or restarts) a column: no key done yet, counts at zero. */
export async function resetProgress(db: Pool | PoolClient, relation: string, job: string, label: string): Promise<void> {
  await db.query(
    `INSERT INTO ${relation} (job, label) VALUES ($1, $2)
     ON CONFLICT (job, label) DO UPDATE SET last_key = NULL, scanned = 0, rewritten = 0, done = false, updated_at = now()`,
    [job, label],
  );
}

/** Records one committed batch of several columns of one table, in one statement (inside the batch's transaction). */
export async function advanceProgressMany(client: PoolClient, relation: string, job: string, labels: readonly string[], lastKey: string, scanned: number, rewritten: readonly number[]): Promise<void> {
  await client.query(
    `UPDATE ${relation} AS p SET last_key = $2, scanned = p.scanned + $3, rewritten = p.rewritten + v.r, updated_at = now()
       FROM unnest($4::text[], $5::bigint[]) AS v(label, r) WHERE p.job = $1 AND p.label = v.label`,
    [job, lastKey, scanned, labels, rewritten],
  );
}

/** Marks a column finished; `sinceXid` is where the hook's next pass starts looking. */
export async function finishProgress(db: Pool | PoolClient, relation: string, job: string, label: string, sinceXid: number | null): Promise<void> {
  await db.query(
    `INSERT INTO ${relation} (job, label, done, since_xid) VALUES ($1, $2, true, $3)
     ON CONFLICT (job, label) DO UPDATE SET done = true, last_key = NULL, since_xid = $3, updated_at = now()`,
    [job, label, sinceXid],
  );
}
