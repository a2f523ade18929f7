import { createRunner } from "@reclaim/core";
import { freePort, memorySpans } from "@reclaim/core/testing";
import pg from "pg";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { createRedisOffloadHook, type RedisOffloadHookOptions, type RedisOffloadReport } from "./offload.ts";
import { archivedRows, DAY, openStores, partitions, type Stores } from "./_test_fixture.ts";

const NOW = Date.now();

function sources(prefix: string) {
  return [
    { match: `${prefix}completion:*`, kind: "completed", timeField: "completed_at", hotFor: "7d", archiveFor: "90d", index: `${prefix}jobs:completed` },
    { match: `${prefix}failure:*`, kind: "failed", timeField: "failed_at", hotFor: "14d", archiveFor: "180d" },
  ];
}

function hook(stores: Stores, extra: Partial<RedisOffloadHookOptions> = {}) {
  return createRedisOffloadHook({ sources: sources(stores.prefix), schema: stores.schema, batchSize: 7, redis: stores.redis, postgres: stores.pool, ...extra });
}

async function pass(h: ReturnType<typeof hook>, options: { dryRun?: boolean; registry?: Registry; tracer?: ReturnType<typeof memorySpans>["tracer"] } = {}) {
  const result = await createRunner(h, { enabled: true, now: () => NOW, ...options }).runOnce();
  return result as typeof result & { report?: RedisOffloadReport };
}

describe("createRedisOffloadHook()", () => {
  it("archives hashes and JSON strings past hotFor with their payload, then deletes them and their index member from Redis", async () => {
    await using stores = await openStores();
    const { redis, prefix } = stores;
    // completion records: hashes with epoch-ms, epoch-s and ISO times; one hot
    await redis.hset(`${prefix}completion:a`, { completed_at: String(NOW - 8 * DAY), job: "a", result: "ok" });
    await redis.hset(`${prefix}completion:b`, { completed_at: String(Math.floor((NOW - 30 * DAY) / 1000)), job: "b" });
    await redis.set(`${prefix}completion:c`, JSON.stringify({ completed_at: new Date(NOW - 10 * DAY).toISOString(), nested: { n: 1.5, list: [1, "x"] } }));
    await redis.hset(`${prefix}completion:hot`, { completed_at: String(NOW - 1 * DAY) });
    await redis.zadd(`${prefix}jobs:completed`, 1, "a", 2, "b", 3, "c", 4, "hot");
    // failure records: one past 14 d, one at 10 d (hot for failures)
    await redis.set(`${prefix}failure:x`, JSON.stringify({ failed_at: Math.floor((NOW - 20 * DAY) / 1000), reason: "boom" }));
    await redis.set(`${prefix}failure:y`, JSON.stringify({ failed_at: NOW - 10 * DAY }));

    const { outcome, report, error } = await pass(hook(stores));
    expect(error).toBeUndefined();
    expect(outcome).toBe("success");
    expect(await redis.exists(`${prefix}completion:a`, `${prefix}completion:b`, `${prefix}completion:c`, `${prefix}failure:x`)).toBe(0);
    expect(await redis.exists(`${prefix}completion:hot`, `${prefix}failure:y`)).toBe(2);
    expect(await redis.zrange(`${prefix}jobs:completed`, "0", "-1")).toEqual(["hot"]);

    const rows = await archivedRows(stores.pool, stores.schema);
    expect([...rows.keys()].sort()).toEqual([`${prefix}completion:a`, `${prefix}completion:b`, `${prefix}completion:c`, `${prefix}failure:x`]);
    expect(rows.get(`${prefix}completion:a`)).toEqual([{ kind: "completed", redis_type: "hash", payload: { completed_at: String(NOW - 8 * DAY), job: "a", result: "ok" }, record_time: new Date(NOW - 8 * DAY) }]);
    expect(rows.get(`${prefix}completion:b`)?.[0]?.record_time).toEqual(new Date(Math.floor((NOW - 30 * DAY) / 1000) * 1000));
    expect(rows.get(`${prefix}completion:c`)?.[0]).toMatchObject({ redis_type: "string", payload: { nested: { n: 1.5, list: [1, "x"] } } });
    expect(rows.get(`${prefix}failure:x`)?.[0]).toMatchObject({ kind: "failed", payload: { reason: "boom" } });
    expect(report?.sources.map((s) => [s.kind, s.due, s.archived, s.deleted, s.hot])).toEqual([["completed", 3, 3, 3, 1], ["failed", 1, 1, 1, 1]]);
    expect(report?.removedByKind).toEqual({ completed: 3, failed: 1 });
  });

  it("never touches a record without a readable time, another type, a string that is not JSON, or bytes that are not UTF-8, and counts them", async () => {
    await using stores = await openStores();
    const { redis, prefix } = stores;
    await redis.hset(`${prefix}completion:no-time`, { job: "x" });
    await redis.hset(`${prefix}completion:bad-time`, { completed_at: "yesterday-ish" });
    await redis.set(`${prefix}completion:json-no-time`, JSON.stringify({ other: 1 }));
    await redis.set(`${prefix}completion:plain`, "not json at all");
    await redis.rpush(`${prefix}completion:list`, "a");
    await redis.set(`${prefix}completion:nul`, JSON.stringify({ completed_at: NOW - 30 * DAY, text: "a\u0000b" }));
    // bytes that are not UTF-8 could not be archived as they are: a string and a hash value holding them
    const latin1 = Buffer.concat([Buffer.from(`{"completed_at": ${NOW - 30 * DAY}, "name": "caf`), Buffer.from([0xe9]), Buffer.from('"}')]);
    await redis.set(`${prefix}completion:latin1`, latin1);
    await redis.hset(`${prefix}completion:latin1-hash`, "completed_at", String(NOW - 30 * DAY), "name", Buffer.from([0x63, 0x61, 0x66, 0xe9]));
    const registry = new Registry();
    const { report } = await pass(hook(stores, { registry, name: "jobs-offload" }));
    expect(report?.sources[0]).toMatchObject({ undatable: 3, other: 5, due: 0, deleted: 0 });
    expect(await redis.exists(`${prefix}completion:no-time`, `${prefix}completion:bad-time`, `${prefix}completion:json-no-time`, `${prefix}completion:plain`, `${prefix}completion:list`, `${prefix}completion:nul`)).toBe(6);
    expect(await redis.getBuffer(`${prefix}completion:latin1`)).toEqual(latin1);
    expect(await redis.hlen(`${prefix}completion:latin1-hash`)).toBe(2);
    expect((await archivedRows(stores.pool, stores.schema)).size).toBe(0);
    expect(await registry.getSingleMetricAsString("reclaim_offload_undatable_records")).toContain('reclaim_offload_undatable_records{hook="jobs-offload",kind="completed"} 3');
  });

  it("leaves a record rewritten between the commit and the delete in Redis, and archives its new content on the next pass", async () => {
    await using stores = await openStores();
    const { redis, prefix } = stores;
    const key = `${prefix}completion:r`;
    await redis.hset(key, { completed_at: String(NOW - 9 * DAY), attempt: "1" });
    await redis.zadd(`${prefix}jobs:completed`, 1, "r");
    let rewrites = 0;
    const registry = new Registry();
    const h = hook(stores, {
      registry,
      onArchived: async ({ keys }) => {
        if (keys.includes(key) && rewrites++ === 0) await redis.hset(key, { attempt: "2" });
      },
    });
    const first = await pass(h, { registry });
    expect(first.report?.sources[0]).toMatchObject({ archived: 1, deleted: 0, skippedChanged: 1 });
    expect(await redis.hgetall(key)).toEqual({ completed_at: String(NOW - 9 * DAY), attempt: "2" });
    expect(await redis.zrange(`${prefix}jobs:completed`, "0", "-1")).toEqual(["r"]);
    expect(first.report?.sources[0]?.lagSeconds).toBeCloseTo(2 * 86_400, 0);
    expect(await registry.getSingleMetricAsString("reclaim_offload_skipped_changed_total")).toContain('kind="completed"} 1');

    const second = await pass(h, { registry });
    expect(second.report?.sources[0]).toMatchObject({ archived: 1, deleted: 1, skippedChanged: 0, lagSeconds: 0 });
    expect(await redis.exists(key)).toBe(0);
    const versions = (await archivedRows(stores.pool, stores.schema)).get(key)!.map((row) => row.payload);
    expect(versions).toEqual([{ completed_at: String(NOW - 9 * DAY), attempt: "1" }, { completed_at: String(NOW - 9 * DAY), attempt: "2" }]);
  });

  it("leaves a JSON string rewritten to other bytes of the same length, or replaced by a hash, in Redis", async () => {
    await using stores = await openStores();
    const { redis, prefix } = stores;
    const key = `${prefix}completion:s`;
    const typed = `${prefix}completion:t`;
    const body = (attempt: number) => JSON.stringify({ completed_at: NOW - 9 * DAY, attempt });
    await redis.set(key, body(1));
    await redis.set(typed, body(1));
    const h = hook(stores, {
      onArchived: async ({ keys }) => {
        if (keys.includes(key) && (await redis.get(key)) === body(1)) await redis.set(key, body(2));
        if (keys.includes(typed) && (await redis.type(typed)) === "string") await redis.multi().del(typed).hset(typed, { completed_at: String(NOW - 9 * DAY) }).exec();
      },
    });
    expect((await pass(h)).report?.sources[0]).toMatchObject({ archived: 2, deleted: 0, skippedChanged: 2 });
    expect(await redis.get(key)).toBe(body(2));
    expect(await redis.hgetall(typed)).toEqual({ completed_at: String(NOW - 9 * DAY) });
    expect((await pass(h)).report?.sources[0]).toMatchObject({ archived: 2, deleted: 2, skippedChanged: 0 });
    const rows = await archivedRows(stores.pool, stores.schema);
    expect(rows.get(key)!.map((row) => row.payload)).toEqual([JSON.parse(body(1)), JSON.parse(body(2))]);
    expect(rows.get(typed)!.map((row) => row.redis_type)).toEqual(["string", "hash"]);
  });

  it("reads sources of mostly strings, mostly hashes, or both alike (MGET first, the read script for the rest)", async () => {
    await using stores = await openStores();
    const { redis, prefix } = stores;
    const old = NOW - 20 * DAY;
    const expected = new Map<string, unknown>();
    for (let i = 0; i < 60; i++) {
      const key = `${prefix}failure:${i}`;
      // as many strings as hashes, in SCAN's order: batches of 7 range from mostly strings to mostly hashes
      if (i % 2 === 0) {
        await redis.set(key, JSON.stringify({ failed_at: old, i }));
        expected.set(key, { failed_at: old, i });
      } else {
        await redis.hset(key, { failed_at: String(old), i: String(i) });
        expected.set(key, { failed_at: String(old), i: String(i) });
      }
    }
    await redis.rpush(`${prefix}failure:list`, "x");
    await redis.set(`${prefix}failure:text`, "not json");
    const { report } = await pass(hook(stores));
    expect(report?.sources[1]).toMatchObject({ scanned: 62, due: 60, archived: 60, deleted: 60, other: 2 });
    const rows = await archivedRows(stores.pool, stores.schema);
    for (const [key, payload] of expected) expect(rows.get(key)?.[0]?.payload).toEqual(payload);
    expect(await redis.lrange(`${prefix}failure:list`, 0, -1)).toEqual(["x"]);
  });

  it("never writes a duplicate row when a pass re-archives records a killed pass had already committed", async () => {
    await using stores = await openStores();
    const { redis, prefix } = stores;
    for (let i = 0; i < 20; i++) await redis.set(`${prefix}failure:${i}`, JSON.stringify({ failed_at: NOW - 20 * DAY - i }));
    // the "killed" pass: archived, never deleted
    const first = await pass(hook(stores, { onArchived: () => { throw new Error("ignored"); } }));
    expect(first.report?.sources[1]?.deleted).toBe(20); // a failing callback changes nothing
    for (let i = 0; i < 20; i++) await redis.set(`${prefix}failure:${i}`, JSON.stringify({ failed_at: NOW - 20 * DAY - i }));
    const again = await pass(hook(stores));
    expect(again.report?.sources[1]).toMatchObject({ due: 20, archived: 0, deleted: 20 });
    const rows = await archivedRows(stores.pool, stores.schema);
    expect([...rows.values()].every((versions) => versions.length === 1)).toBe(true);
  });

  it("archives keys and payloads holding tabs, newlines, backslashes and \\N exactly as Redis held them", async () => {
    await using stores = await openStores();
    const { redis, prefix } = stores;
    const old = NOW - 20 * DAY;
    const records = new Map([
      [`${prefix}failure:tab\there`, JSON.stringify({ failed_at: old, text: "a\tb\nc\\d \\N é \u2028", quote: '"q"' })],
      [`${prefix}failure:new\nline\r`, `{\n\t"failed_at": ${old},\r\n\t"path": "C:\\\\temp\\\\x"\n}`],
      [`${prefix}failure:back\\slash`, JSON.stringify({ failed_at: old, s: "\\x00ff" })],
      [`${prefix}failure:\\N`, JSON.stringify({ failed_at: old, emoji: "\u{1F600}" })],
    ]);
    for (const [key, value] of records) await redis.set(key, value);
    await redis.hset(`${prefix}failure:hash\t`, { failed_at: String(old), "field\twith\ttabs": "value\\with\nnewline" });
    const registry = new Registry();
    const { outcome, report, error } = await pass(hook(stores, { registry }));
    expect(error).toBeUndefined();
    expect(outcome).toBe("success");
    expect(report?.sources[1]).toMatchObject({ due: 5, archived: 5, deleted: 5 });
    const rows = await archivedRows(stores.pool, stores.schema);
    for (const [key, value] of records) expect(rows.get(key)?.[0]?.payload).toEqual(JSON.parse(value));
    expect(rows.get(`${prefix}failure:hash\t`)?.[0]?.payload).toEqual({ failed_at: String(old), "field\twith\ttabs": "value\\with\nnewline" });
    expect(await redis.exists(...records.keys(), `${prefix}failure:hash\t`)).toBe(0);
    // in one batch write: no write was refused and retried row by row
    expect(await registry.getSingleMetricAsString("reclaim_offload_archive_write_failures_total")).toContain('{hook="redis-offload",kind="failed"} 0');
  });

  it("keeps each record's time to the millisecond in every format, before and after 2000, and COPY and INSERT agree on it", async () => {
    await using stores = await openStores();
    const { redis, prefix } = stores;
    const times = new Map<string, [unknown, number]>([
      [`${prefix}failure:iso`, ["1999-12-31T23:59:59.999Z", Date.UTC(1999, 11, 31, 23, 59, 59, 999)]],
      [`${prefix}failure:seconds`, [946_684_799.9995, 946_684_799_999]],
      [`${prefix}failure:offset`, ["2026-11-01 10:00:00.5+02:00", Date.UTC(2026, 10, 1, 8, 0, 0, 500)]],
      [`${prefix}failure:ms`, [NOW - 20 * DAY, NOW - 20 * DAY]],
    ]);
    const seed = async () => {
      for (const [key, [time]] of times) await redis.set(key, JSON.stringify({ failed_at: time }));
    };
    // An archive window reaching back before 2000, so retention keeps the 1999 rows.
    const longArchive = hook(stores, { sources: [{ match: `${prefix}failure:*`, kind: "failed", timeField: "failed_at", hotFor: "14d", archiveFor: "20000d" }] });
    await seed();
    expect((await pass(longArchive)).report?.sources[0]).toMatchObject({ due: 4, archived: 4, deleted: 4 });
    const rows = await archivedRows(stores.pool, stores.schema);
    for (const [key, [, ms]] of times) expect(rows.get(key)?.[0]?.record_time).toEqual(new Date(ms));
    // The same records again: COPY meets the rows it wrote, the batch goes again as INSERT ... ON CONFLICT DO NOTHING,
    // which finds every row under the same key (a record time that differed would duplicate the row).
    await seed();
    expect((await pass(longArchive)).report?.sources[0]).toMatchObject({ due: 4, archived: 0, deleted: 4 });
    expect([...(await archivedRows(stores.pool, stores.schema)).values()].flat()).toHaveLength(4);
  });

  it("a write that waits for a lock on the archive longer than lockTimeout fails the pass and deletes nothing from Redis", async () => {
    await using stores = await openStores();
    const { redis, prefix } = stores;
    const registry = new Registry();
    const h = hook(stores, { lockTimeout: "300ms", registry });
    await redis.set(`${prefix}failure:first`, JSON.stringify({ failed_at: NOW - 20 * DAY }));
    expect((await pass(h)).outcome).toBe("success"); // the table and the record's partition exist now
    await redis.set(`${prefix}failure:second`, JSON.stringify({ failed_at: NOW - 20 * DAY }));
    const holder = await stores.pool.connect();
    try {
      await holder.query(`BEGIN; LOCK TABLE "${stores.schema}".reclaim_archive IN ACCESS EXCLUSIVE MODE`);
      const { outcome, error } = await pass(h);
      expect(outcome).toBe("failure");
      expect(error).toMatch(/lock timeout/);
      expect(await redis.exists(`${prefix}failure:second`)).toBe(1);
    } finally {
      await holder.query("ROLLBACK");
      holder.release();
    }
    expect(await registry.getSingleMetricAsString("reclaim_offload_archive_write_failures_total")).toContain('reclaim_offload_archive_write_failures_total{hook="redis-offload",kind="failed"} 1');
    const after = await pass(h);
    expect(after.report?.sources[1]).toMatchObject({ archived: 1, deleted: 1 });
    expect(await redis.exists(`${prefix}failure:second`)).toBe(0);
  });

  it("deletes nothing from Redis when Postgres is down", async () => {
    await using stores = await openStores();
    const { redis, prefix } = stores;
    await redis.hset(`${prefix}completion:a`, { completed_at: String(NOW - 30 * DAY) });
    const down = new pg.Pool({ connectionString: `postgres://postgres@127.0.0.1:${await freePort()}/postgres`, connectionTimeoutMillis: 2_000 });
    try {
      const { outcome, error } = await pass(hook(stores, { postgres: down }));
      expect(outcome).toBe("failure");
      expect(error).toMatch(/ECONNREFUSED/);
    } finally {
      await down.end();
    }
    expect(await redis.hgetall(`${prefix}completion:a`)).toEqual({ completed_at: String(NOW - 30 * DAY) });
  });

  it("deletes nothing from Redis when Postgres refuses the writes", async () => {
    await using stores = await openStores();
    const { redis, prefix } = stores;
    await pass(hook(stores)); // creates the archive table
    await redis.hset(`${prefix}completion:a`, { completed_at: String(NOW - 30 * DAY) });
    const readOnly = new pg.Pool({ connectionString: process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5439/postgres", options: "-c default_transaction_read_only=on" });
    try {
      const { outcome, error } = await pass(hook(stores, { postgres: readOnly }));
      expect(outcome).toBe("failure");
      expect(error).toMatch(/read-only transaction/);
    } finally {
      await readOnly.end();
    }
    expect(await redis.exists(`${prefix}completion:a`)).toBe(1);
    expect((await archivedRows(stores.pool, stores.schema)).size).toBe(0);
  });

  it("--dry-run counts what each source would archive and writes nothing to Redis or Postgres", async () => {
    await using stores = await openStores();
    const { redis, prefix } = stores;
    await redis.hset(`${prefix}completion:a`, { completed_at: String(NOW - 30 * DAY) });
    await redis.hset(`${prefix}completion:b`, { completed_at: String(NOW - 1 * DAY) });
    await redis.set(`${prefix}failure:x`, JSON.stringify({ failed_at: NOW - 30 * DAY }));
    await redis.zadd(`${prefix}jobs:completed`, 1, "a");
    const { report } = await pass(hook(stores), { dryRun: true });
    expect(report?.sources.map((s) => [s.kind, s.due, s.hot])).toEqual([["completed", 1, 1], ["failed", 1, 0]]);
    expect(report?.removed).toBe(2);
    expect(await redis.exists(`${prefix}completion:a`, `${prefix}completion:b`, `${prefix}failure:x`)).toBe(3);
    expect(await redis.zcard(`${prefix}jobs:completed`)).toBe(1);
    const table = await stores.pool.query("SELECT to_regnamespace($1) AS schema", [stores.schema]);
    expect(table.rows[0].schema).toBeNull();
  });

  it("creates the archive table once when two replicas start at the same instant, with partitions ahead of now", async () => {
    await using stores = await openStores();
    const results = await Promise.all([pass(hook(stores, { partition: "day", partitionsAhead: 3 })), pass(hook(stores, { partition: "day", partitionsAhead: 3 }))]);
    expect(results.map((r) => r.error)).toEqual([undefined, undefined]);
    const names = await partitions(stores.pool, stores.schema);
    const day = (offset: number) => new Date(NOW + offset * DAY).toISOString().slice(0, 10).replace(/-/g, "");
    expect(names).toEqual([0, 1, 2, 3].map((offset) => `reclaim_archive_d${day(offset)}`));
  });

  it("status() gives the console archive rows, payload bytes and the offload lag per kind, as the metrics do", async () => {
    await using stores = await openStores();
    const { redis, prefix } = stores;
    await redis.set(`${prefix}failure:x`, JSON.stringify({ failed_at: NOW - 20 * DAY, reason: "boom" }));
    await redis.hset(`${prefix}completion:changed`, { completed_at: String(NOW - 9 * DAY), attempt: "1" });
    const registry = new Registry();
    // the record is rewritten between the commit and the delete: it stays in Redis, 2 days past hotFor (7 d)
    const h = hook(stores, { registry, onArchived: async ({ kind }) => void (kind === "completed" && (await redis.hset(`${prefix}completion:changed`, { attempt: "2" }))) });
    expect(h.status().resources).toEqual([]);
    await pass(h);
    const { kinds, resources } = h.status();
    expect(kinds.completed).toEqual({ archiveRows: 1, archiveBytes: expect.any(Number), lagSeconds: 2 * 86_400 });
    expect(kinds.failed).toMatchObject({ archiveRows: 1, lagSeconds: 0 });
    expect(resources).toContainEqual({ label: "archive rows (failed)", value: 1, unit: "count" });
    expect(resources).toContainEqual({ label: "archive payload (failed)", value: kinds.failed?.archiveBytes, unit: "bytes" });
    expect(resources).toContainEqual({ label: "offload lag past hotFor (completed)", value: 2 * 86_400, unit: "seconds" });
    const text = await registry.metrics();
    expect(text).toContain('reclaim_offload_lag_seconds{hook="redis-offload",kind="completed"} 172800');
    expect(text).toContain('reclaim_offload_archive_rows{hook="redis-offload",kind="completed"} 1');
    expect(text).toContain('reclaim_offload_archive_write_failures_total{hook="redis-offload",kind="completed"} 0');
  });

  it("records metrics with the hook label and a span named 'offload redis'", async () => {
    await using stores = await openStores();
    const { redis, prefix } = stores;
    await redis.set(`${prefix}failure:x`, JSON.stringify({ failed_at: NOW - 20 * DAY, reason: "boom" }));
    await redis.hset(`${prefix}completion:old`, { completed_at: String(NOW - 8 * DAY) });
    const registry = new Registry();
    const spans = memorySpans();
    await pass(hook(stores, { registry, name: "jobs-offload" }), { registry, tracer: spans.tracer });
    const text = await registry.metrics();
    expect(text).toContain('reclaim_offload_archived_total{hook="jobs-offload",kind="failed"} 1');
    expect(text).toContain('reclaim_offload_deleted_total{hook="jobs-offload",kind="completed"} 1');
    expect(text).toMatch(/reclaim_offload_archive_rows\{hook="jobs-offload",kind="failed"\} 1/);
    expect(text).toMatch(/reclaim_offload_archive_bytes\{hook="jobs-offload",kind="failed"\} [1-9]\d*/);
    expect(text).toContain('reclaim_offload_lag_seconds{hook="jobs-offload",kind="completed"} 0');
    expect(text).toContain('reclaim_removed_total{hook="jobs-offload",kind="failed"} 1');
    const [span] = await spans.spans();
    expect(span?.name).toBe("offload redis");
    expect(span?.attributes["reclaim.offload.deleted"]).toBe(2);
  });
});
