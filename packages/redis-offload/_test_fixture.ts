// Test-only helpers: a Redis client and a Postgres pool on the shared test services, a unique key prefix and schema
// per test (other test files run in parallel on the same servers), and cleanup that removes only those.
import { randomBytes } from "node:crypto";
import { databaseUrl, redisUrl } from "@reclaim/core/testing";
import { Redis } from "ioredis";
import pg from "pg";

export const DAY = 86_400_000;

/** A test's own corner of the shared Redis and Postgres. */
export interface Stores extends AsyncDisposable {
  redis: Redis;
  pool: pg.Pool;
  /** Unique key prefix, e.g. `t-1a2b3c:`. */
  prefix: string;
  /** Unique schema name for the archive. */
  schema: string;
}

export async function openStores(): Promise<Stores> {
  const id = randomBytes(4).toString("hex");
  const redis = new Redis(redisUrl, { lazyConnect: true });
  await redis.connect();
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 6 });
  const prefix = `offload-${id}:`;
  const schema = `offload_${id}`;
  return {
    redis,
    pool,
    prefix,
    schema,
    async [Symbol.asyncDispose]() {
      await deleteByPrefix(redis, prefix);
      await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
      await pool.end();
      redis.disconnect();
    },
  };
}

export async function deleteByPrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
    cursor = next;
    if (keys.length > 0) await redis.unlink(...keys);
  } while (cursor !== "0");
}

/** Archived rows of a schema's `reclaim_archive` table, by key (every version). */
export async function archivedRows(pool: pg.Pool, schema: string, table = "reclaim_archive"): Promise<Map<string, Array<{ kind: string; redis_type: string; payload: unknown; record_time: Date }>>> {
  const exists = await pool.query("SELECT to_regclass($1) IS NOT NULL AS present", [`"${schema}"."${table}"`]);
  const rows = new Map<string, Array<{ kind: string; redis_type: string; payload: unknown; record_time: Date }>>();
  if (!exists.rows[0]?.present) return rows;
  const result = await pool.query(`SELECT key, kind, redis_type, payload, record_time FROM "${schema}"."${table}" ORDER BY archived_at`);
  for (const row of result.rows) {
    const list = rows.get(row.key) ?? [];
    list.push({ kind: row.kind, redis_type: row.redis_type, payload: row.payload, record_time: row.record_time });
    rows.set(row.key, list);
  }
  return rows;
}

/** The partitions of the archive table. */
export async function partitions(pool: pg.Pool, schema: string, table = "reclaim_archive"): Promise<string[]> {
  const result = await pool.query(
    "SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = to_regclass($1) ORDER BY 1",
    [`"${schema}"."${table}"`],
  );
  return result.rows.map((row) => row.name as string);
}
