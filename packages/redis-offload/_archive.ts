import { finished } from "node:stream/promises";
import type { Pool, PoolClient } from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { createTotals, ensureTotals } from "./_archive_totals.ts";

/** Where the archive lives and how its partitions are cut. */
export interface ArchiveTarget {
  schema: string;
  table: string;
  partition: "day" | "week" | "month";
  lockTimeout: number;
}

/** One row to archive. */
export interface ArchiveRow {
  key: string;
  kind: string;
  redisType: "hash" | "string";
  /** JSON text (a hash as an object of strings; a string record as it is, possibly the UTF-8 bytes as read). */
  payload: string | Buffer;
  /** Epoch milliseconds. */
  time: number;
  /** SHA-1 of the exact Redis content, hex. */
  digest: string;
}

const DAY = 86_400_000;
const MONDAY = 4 * DAY; // 1970-01-05, a Monday
const SPAN_LETTER = { day: "d", week: "w", month: "m" } as const;

/** Quotes an identifier (the options only accept plain ones, quoting keeps case). */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export function qualified(target: Pick<ArchiveTarget, "schema" | "table">): string {
  return `${quoteIdent(target.schema)}.${quoteIdent(target.table)}`;
}

/** The partition [from, to) holding `time`. */
export function partitionBounds(span: ArchiveTarget["partition"], time: number): { from: number; to: number } {
  if (span === "day") {
    const from = Math.floor(time / DAY) * DAY;
    return { from, to: from + DAY };
  }
  if (span === "week") {
    const from = Math.floor((time - MONDAY) / (7 * DAY)) * 7 * DAY + MONDAY;
    return { from, to: from + 7 * DAY };
  }
  const date = new Date(time);
  return { from: Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1), to: Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1) };
}

/** The name of the partition starting at `from`: `<table>_<d|w|m><YYYYMMDD>`. */
export function partitionName(target: Pick<ArchiveTarget, "table" | "partition">, from: number): string {
  return `${target.table}_${SPAN_LETTER[target.partition]}${new Date(from).toISOString().slice(0, 10).replace(/-/g, "")}`;
}

/** Reads a partition name back into its bounds (undefined for a table this hook did not name). */
export function parsePartitionName(table: string, name: string): { from: number; to: number; span: ArchiveTarget["partition"] } | undefined {
  const match = new RegExp(`^${table}_([dwm])(\\d{4})(\\d{2})(\\d{2})$`).exec(name);
  if (!match) return undefined;
  const span = ({ d: "day", w: "week", m: "month" } as const)[match[1] as "d" | "w" | "m"];
  const from = Date.UTC(Number(match[2]), Number(match[3]) - 1, Number(match[4]));
  const bounds = partitionBounds(span, from);
  return bounds.from === from ? { ...bounds, span } : undefined;
}

function lockKey(target: ArchiveTarget): string {
  return `reclaim-offload:${target.schema}.${target.table}`;
}

/**
 * Runs `work` in a transaction of its own on a pooled connection, with `lock_timeout` bounding every wait for a lock:
 * committed when `work` resolves, rolled back when it throws (the error is rethrown).
 */
export async function inTransaction<T>(pool: Pool, target: Pick<ArchiveTarget, "lockTimeout">, work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query(`BEGIN; SET LOCAL lock_timeout = ${Math.max(1, Math.round(target.lockTimeout))}`);
    const result = await work(client);
    await client.query("COMMIT");
    return result;
  } catch (err) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

/**
 * Runs one DDL step in its own transaction, under the archive's advisory lock (so replicas starting at once take
 * turns) and with `lock_timeout`: a lock conflict rolls back this step only and rejects with Postgres' error.
 */
export function ddlStep<T>(pool: Pool, target: ArchiveTarget, step: (client: PoolClient) => Promise<T>): Promise<T> {
  return inTransaction(pool, target, async (client) => {
    await client.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [lockKey(target)]);
    return step(client);
  });
}

/**
 * Creates the archive table (and its schema, indexes and running totals, `_archive_totals.ts`) when it is missing.
 * Idempotent and safe when two replicas start at once: the check is repeated under the advisory lock. A table that
 * exists costs two queries (an archive made before the totals existed gets them, counted once).
 */
export async function ensureArchiveTable(pool: Pool, target: ArchiveTarget): Promise<void> {
  const exists = await pool.query("SELECT to_regclass($1) IS NOT NULL AS present", [qualified(target)]);
  if (exists.rows[0]?.present) return ensureTotals(pool, target);
  await ddlStep(pool, target, async (client) => {
    const again = await client.query("SELECT to_regclass($1) IS NOT NULL AS present, to_regnamespace($2) IS NOT NULL AS schema", [qualified(target), quoteIdent(target.schema)]);
    if (again.rows[0]?.present) return createTotals(client, target);
    if (!again.rows[0]?.schema) await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(target.schema)}`);
    await client.query(`CREATE TABLE ${qualified(target)} (
      key text NOT NULL,
      kind text NOT NULL,
      redis_type text NOT NULL,
      payload jsonb NOT NULL,
      record_time timestamptz NOT NULL,
      archived_at timestamptz NOT NULL DEFAULT now(),
      digest bytea NOT NULL,
      PRIMARY KEY (key, record_time, digest)
    ) PARTITION BY RANGE (record_time)`);
    await client.query(`CREATE INDEX ${quoteIdent(`${target.table}_kind_time`)} ON ${qualified(target)} (kind, record_time)`);
    await createTotals(client, target);
  });
}

/** The partitions of the archive table: name → bounds (null for partitions this hook did not name). */
export async function listPartitions(db: Pool | PoolClient, target: ArchiveTarget): Promise<Map<string, { from: number; to: number } | null>> {
  const result = await db.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = to_regclass($1)`,
    [qualified(target)],
  );
  return new Map(result.rows.map((row) => [row.name, parsePartitionName(target.table, row.name) ?? null]));
}

/**
 * Creates (as a plain table, then ATTACH PARTITION, which takes only SHARE UPDATE EXCLUSIVE on the parent) the
 * partition starting at `from`, unless it exists. One DDL step: rejects on a lock conflict or an overlapping
 * partition, leaving nothing behind.
 */
export async function ensurePartition(pool: Pool, target: ArchiveTarget, from: number): Promise<string> {
  const name = partitionName(target, from);
  const { to } = partitionBounds(target.partition, from);
  await ddlStep(pool, target, async (client) => {
    const partitions = await listPartitions(client, target);
    if (partitions.has(name)) return;
    const partition = `${quoteIdent(target.schema)}.${quoteIdent(name)}`;
    await client.query(`CREATE TABLE IF NOT EXISTS ${partition} (LIKE ${qualified(target)} INCLUDING DEFAULTS)`);
    await client.query(
      `ALTER TABLE ${qualified(target)} ATTACH PARTITION ${partition} FOR VALUES FROM ('${new Date(from).toISOString()}') TO ('${new Date(to).toISOString()}')`,
    );
  });
  return name;
}

/**
 * Inserts rows in one statement, skipping rows already archived (same key, time and content); returns rows inserted.
 * The slower path ({@link writeBatch} uses it when the batch holds a row that is already there, or row by row after a
 * data error).
 */
export async function insertRows(client: Pool | PoolClient, target: ArchiveTarget, rows: readonly ArchiveRow[]): Promise<number> {
  if (rows.length === 0) return 0;
  const result = await client.query(
    `INSERT INTO ${qualified(target)} (key, kind, redis_type, payload, record_time, digest)
     SELECT k, c, r, p::jsonb, t, decode(d, 'hex') FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::text[]) AS u(k, c, r, p, t, d)
     ON CONFLICT DO NOTHING`,
    [
      rows.map((r) => r.key),
      rows.map((r) => r.kind),
      rows.map((r) => r.redisType),
      rows.map((r) => r.payload.toString()),
      rows.map((r) => new Date(r.time).toISOString()),
      rows.map((r) => r.digest),
    ],
  );
  return result.rowCount ?? 0;
}

/** `COPY ... (FORMAT binary)` signature, flags and header extension length. */
const BINARY_HEADER = Buffer.from("PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0", "latin1");
/** Milliseconds from 1970-01-01 to 2000-01-01, Postgres' epoch for timestamps. */
const PG_EPOCH_MS = 946_684_800_000;
const FIELDS = 6;

/**
 * Rows as `COPY ... (FORMAT binary)` data (key, kind, redis_type, payload, record_time, digest) in one buffer. Binary
 * rather than text: nothing to escape (a payload read as bytes is copied as it is), no timestamp or hex to format in
 * Node or to parse in Postgres. Per row: the field count, then each field as its length and bytes — text as UTF-8,
 * `jsonb` as version 1 and the JSON text, `timestamptz` as microseconds since 2000-01-01 (64 bits, big-endian),
 * `bytea` as the raw 20 bytes of the SHA-1.
 */
export function copyBinary(rows: readonly ArchiveRow[]): Buffer {
  // Sized once for the usual row (payload read as bytes; a key's UTF-8 takes at most 3 bytes a character).
  let estimate = BINARY_HEADER.length + 2;
  for (const r of rows) estimate += 2 + 4 * FIELDS + r.key.length * 3 + r.kind.length * 3 + r.redisType.length + (r.payload.length + 1) + 8 + 20;
  let buffer = Buffer.allocUnsafe(estimate);
  let used = 0;
  const room = (bytes: number) => {
    if (used + bytes <= buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(buffer.length * 2, used + bytes));
    buffer.copy(grown, 0, 0, used);
    buffer = grown;
  };
  const text = (value: string) => {
    room(4 + value.length * 3);
    const length = buffer.write(value, used + 4);
    buffer.writeInt32BE(length, used);
    used += 4 + length;
  };
  room(BINARY_HEADER.length);
  used += BINARY_HEADER.copy(buffer, used);
  for (const r of rows) {
    room(2);
    buffer.writeInt16BE(FIELDS, used);
    used += 2;
    text(r.key);
    text(r.kind);
    text(r.redisType);
    const payload = typeof r.payload === "string" ? Buffer.from(r.payload) : r.payload;
    room(4 + 1 + payload.length + 12 + 24);
    buffer.writeInt32BE(payload.length + 1, used);
    buffer[used + 4] = 1;
    used += 5 + payload.copy(buffer, used + 5);
    // Whole milliseconds, as `new Date(time)` keeps them in the INSERT path: a row has one key whichever path wrote it.
    // Exact: |micros| < 2^53 for every year up to 9999.
    const micros = (Math.trunc(r.time) - PG_EPOCH_MS) * 1000;
    const high = Math.floor(micros / 2 ** 32);
    buffer.writeInt32BE(8, used);
    buffer.writeInt32BE(high, used + 4);
    buffer.writeUInt32BE(micros - high * 2 ** 32, used + 8);
    buffer.writeInt32BE(20, used + 12);
    used += 16 + buffer.write(r.digest, used + 16, "hex");
  }
  room(2);
  buffer.writeInt16BE(-1, used);
  used += 2;
  return buffer.subarray(0, used);
}

/**
 * Writes a batch and commits it; resolves with the rows inserted. One transaction whose `lock_timeout` bounds the wait
 * for the archive's locks (a partition being dropped, an ALTER by hand): a conflict rejects with Postgres' error
 * (55P03) and commits nothing. The rows go in with `COPY` (what Postgres ingests fastest); when one of them is already
 * archived (a pass interrupted between commit and delete, a record read twice), the unique key refuses the `COPY`,
 * and the batch is written again with `INSERT ... ON CONFLICT DO NOTHING`, so a row is never duplicated. The
 * statement runs in `turn` (the pass's batches take turns, see `offload.ts`); the commit, which waits for the disk,
 * runs outside it, so the next batch's statement goes on meanwhile.
 */
export async function writeBatch(pool: Pool, target: ArchiveTarget, rows: readonly ArchiveRow[], turn: WriteTurn = atOnce): Promise<number> {
  if (rows.length === 0) return 0;
  try {
    return await inTransaction(pool, target, (client) =>
      turn(async () => {
        const copy = client.query(copyFrom(`COPY ${qualified(target)} (key, kind, redis_type, payload, record_time, digest) FROM STDIN (FORMAT binary)`));
        copy.end(copyBinary(rows));
        await finished(copy);
        return rows.length;
      }),
    );
  } catch (err) {
    if ((err as { code?: string }).code !== "23505") throw err;
  }
  return inTransaction(pool, target, (client) => turn(() => insertRows(client, target, rows)));
}

/** Runs a write's statement when it is its turn (the default: at once). */
export type WriteTurn = <T>(write: () => Promise<T>) => Promise<T>;
const atOnce: WriteTurn = (write) => write();
