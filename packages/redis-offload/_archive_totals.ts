/*
 * The archive's running totals by kind (rows, payload bytes), kept in a small table beside it by two statement-level
 * triggers on the archive (AFTER INSERT and AFTER DELETE, over their transition tables), so every pass reads a few
 * rows instead of counting the whole archive (a full scan that grew with the archive: 1.7 s at 750,000 rows). The
 * triggers see every row inserted or deleted through the archive table — COPY, INSERT ... ON CONFLICT (only the rows
 * it inserted), retention's DELETEs, an operator's DELETE — in the same transaction, so the totals commit or roll back
 * with the rows. A partition dropped whole is subtracted in the drop's own transaction ({@link subtractPartition}).
 * Not seen: TRUNCATE, rows written straight into a partition, UPDATEs of a payload.
 */
import type { Pool, PoolClient } from "pg";
import { ddlStep, qualified, quoteIdent, type ArchiveTarget } from "./_archive.ts";

function totalsTable(target: ArchiveTarget): string {
  return `${quoteIdent(target.schema)}.${quoteIdent(`${target.table}_totals`)}`;
}

/** Whether the archive has its totals table (an archive made by an earlier version has not). */
export async function hasTotals(db: Pool | PoolClient, target: ArchiveTarget): Promise<boolean> {
  const result = await db.query("SELECT to_regclass($1) IS NOT NULL AS present", [totalsTable(target)]);
  return Boolean(result.rows[0]?.present);
}

/**
 * Creates the totals table, its trigger function and the two triggers, and counts what the archive already holds
 * (once: an archive made by an earlier version). Runs inside a DDL step (advisory lock, `lock_timeout`).
 */
export async function createTotals(client: PoolClient, target: ArchiveTarget): Promise<void> {
  if (await hasTotals(client, target)) return;
  const totals = totalsTable(target);
  const tally = `${quoteIdent(target.schema)}.${quoteIdent(`${target.table}_tally`)}`;
  const perKind = `SELECT kind, count(*) AS row_count, coalesce(sum(pg_column_size(payload)), 0) AS payload_bytes FROM changed GROUP BY kind`;
  await client.query(`CREATE TABLE ${totals} (kind text PRIMARY KEY, row_count bigint NOT NULL, payload_bytes bigint NOT NULL)`);
  await client.query(`CREATE OR REPLACE FUNCTION ${tally}() RETURNS trigger LANGUAGE plpgsql AS $tally$
    BEGIN
      IF TG_OP = 'INSERT' THEN
        INSERT INTO ${totals} AS t ${perKind}
          ON CONFLICT (kind) DO UPDATE SET row_count = t.row_count + EXCLUDED.row_count, payload_bytes = t.payload_bytes + EXCLUDED.payload_bytes;
      ELSE
        UPDATE ${totals} AS t SET row_count = t.row_count - d.row_count, payload_bytes = t.payload_bytes - d.payload_bytes
          FROM (${perKind}) AS d WHERE t.kind = d.kind;
      END IF;
      RETURN NULL;
    END
  $tally$`);
  for (const [event, table] of [["INSERT", "NEW"], ["DELETE", "OLD"]] as const) {
    await client.query(
      `CREATE TRIGGER ${quoteIdent(`${target.table}_tally_${event.toLowerCase()}`)} AFTER ${event} ON ${qualified(target)}
         REFERENCING ${table} TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION ${tally}()`,
    );
  }
  await client.query(
    `INSERT INTO ${totals} SELECT kind, count(*), coalesce(sum(pg_column_size(payload)), 0) FROM ${qualified(target)} GROUP BY kind`,
  );
}

/** Adds the totals to an archive that has none (one DDL step; idempotent, safe with two replicas at once). */
export async function ensureTotals(pool: Pool, target: ArchiveTarget): Promise<void> {
  if (await hasTotals(pool, target)) return;
  await ddlStep(pool, target, (client) => createTotals(client, target));
}

/** Takes a partition's rows out of the totals: call in the transaction that drops it. */
export async function subtractPartition(client: PoolClient, target: ArchiveTarget, partition: string): Promise<void> {
  await client.query(
    `UPDATE ${totalsTable(target)} AS t SET row_count = t.row_count - d.row_count, payload_bytes = t.payload_bytes - d.payload_bytes
       FROM (SELECT kind, count(*) AS row_count, coalesce(sum(pg_column_size(payload)), 0) AS payload_bytes
             FROM ${quoteIdent(target.schema)}.${quoteIdent(partition)} GROUP BY kind) AS d
      WHERE t.kind = d.kind`,
  );
}

/** Rows and payload bytes (`pg_column_size` of the `jsonb`) in the archive, by kind, from the totals. */
export async function archiveStats(pool: Pool, target: ArchiveTarget): Promise<Map<string, { rows: number; bytes: number }>> {
  const result = await pool.query<{ kind: string; row_count: string; payload_bytes: string }>(
    `SELECT kind, row_count, payload_bytes FROM ${totalsTable(target)} WHERE row_count <> 0 OR payload_bytes <> 0`,
  );
  return new Map(result.rows.map((row) => [row.kind, { rows: Number(row.row_count), bytes: Number(row.payload_bytes) }]));
}
