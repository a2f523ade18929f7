import type { Pool } from "pg";
import { qualified } from "./_archive.ts";

/** Where the archive table is. */
export interface ArchiveLocation {
  /** @default "public" */
  schema?: string;
  /** @default "reclaim_archive" */
  table?: string;
}

/** One archived record, as read back. */
export interface ArchivedRecord {
  key: string;
  kind: string;
  /** `hash` (payload is an object of strings) or `string` (payload is the JSON value the string held). */
  redisType: string;
  /** The record's time (ISO 8601, UTC). */
  recordTime: string;
  /** When it was archived (ISO 8601, UTC). */
  archivedAt: string;
  payload: unknown;
}

const COLUMNS = `key, kind, redis_type, record_time, archived_at, payload`;

function toRecord(row: { key: string; kind: string; redis_type: string; record_time: Date; archived_at: Date; payload: unknown }): ArchivedRecord {
  return { key: row.key, kind: row.kind, redisType: row.redis_type, recordTime: row.record_time.toISOString(), archivedAt: row.archived_at.toISOString(), payload: row.payload };
}

function location(where: ArchiveLocation): { schema: string; table: string } {
  return { schema: where.schema ?? "public", table: where.table ?? "reclaim_archive" };
}

/**
 * Every archived version of `key`, newest archive first (a record rewritten after it was archived and archived again
 * has two). Empty when the key was never archived or the archive table does not exist.
 *
 * @example
 * ```ts
 * const [latest] = await getArchived(pool, "worker:completion:42");
 * console.log(latest?.payload);
 * ```
 */
export async function getArchived(pool: Pool, key: string, where: ArchiveLocation = {}): Promise<ArchivedRecord[]> {
  const target = location(where);
  if (!(await exists(pool, target))) return [];
  const result = await pool.query(`SELECT ${COLUMNS} FROM ${qualified(target)} WHERE key = $1 ORDER BY archived_at DESC, record_time DESC`, [key]);
  return result.rows.map(toRecord);
}

/** Filter of {@link listArchived}. */
export interface ListArchivedOptions extends ArchiveLocation {
  kind: string;
  /** Records whose time is at or after this (ms since 1970). */
  since: number;
  /** Records whose time is before this (ms since 1970). @default no bound */
  until?: number;
  /** At most this many records. @default 1000 */
  limit?: number;
}

/**
 * Archived records of one kind whose time is in [since, until), oldest first.
 *
 * @example
 * ```ts
 * const failed = await listArchived(pool, { kind: "failed", since: Date.now() - 30 * 86_400_000 });
 * ```
 */
export async function listArchived(pool: Pool, options: ListArchivedOptions): Promise<ArchivedRecord[]> {
  const target = location(options);
  if (!(await exists(pool, target))) return [];
  const result = await pool.query(
    `SELECT ${COLUMNS} FROM ${qualified(target)} WHERE kind = $1 AND record_time >= $2 AND ($3::timestamptz IS NULL OR record_time < $3)
     ORDER BY record_time, key LIMIT $4`,
    [options.kind, new Date(options.since).toISOString(), options.until === undefined ? null : new Date(options.until).toISOString(), options.limit ?? 1000],
  );
  return result.rows.map(toRecord);
}

async function exists(pool: Pool, target: { schema: string; table: string }): Promise<boolean> {
  const result = await pool.query("SELECT to_regclass($1) IS NOT NULL AS present", [qualified(target)]);
  return Boolean(result.rows[0]?.present);
}
