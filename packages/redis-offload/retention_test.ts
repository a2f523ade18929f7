import { createRunner } from "@reclaim/core";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { createRedisOffloadHook, type RedisOffloadHookOptions, type RedisOffloadReport } from "./offload.ts";
import { ensureArchiveTable, insertRows } from "./_archive.ts";
import { archiveStats } from "./_archive_totals.ts";
import { archivedRows, DAY, openStores, partitions, type Stores } from "./_test_fixture.ts";

const NOW = Date.UTC(2026, 11, 1, 12);

function hook(stores: Stores, extra: Partial<RedisOffloadHookOptions> = {}) {
  return createRedisOffloadHook({
    sources: [
      { match: `${stores.prefix}done:*`, kind: "completed", timeField: "at", hotFor: "7d", archiveFor: "90d" },
      { match: `${stores.prefix}fail:*`, kind: "failed", timeField: "at", hotFor: "14d", archiveFor: "180d" },
    ],
    schema: stores.schema,
    partition: "day",
    partitionsAhead: 0,
    lockTimeout: "200ms",
    retentionBatch: 2,
    redis: stores.redis,
    postgres: stores.pool,
    ...extra,
  });
}

async function pass(stores: Stores, extra: Partial<RedisOffloadHookOptions> = {}) {
  const result = await createRunner(hook(stores, extra), { enabled: true, now: () => NOW, ...(extra.registry ? { registry: extra.registry } : {}) }).runOnce();
  return result as typeof result & { report?: RedisOffloadReport };
}

const day = (daysAgo: number) => `reclaim_archive_d${new Date(NOW - daysAgo * DAY).toISOString().slice(0, 10).replace(/-/g, "")}`;

async function record(stores: Stores, key: string, daysAgo: number, hours = 0) {
  await stores.redis.set(`${stores.prefix}${key}`, JSON.stringify({ at: NOW - daysAgo * DAY + hours * 3_600_000 }));
}

/** Records of both kinds at three ages, one partition each. */
async function recordThreeAges(stores: Stores) {
  // 200 days ago: completed and failed, both past their windows -> the partition goes
  await record(stores, "done:old", 200);
  await record(stores, "fail:old", 200);
  // 100 days ago: completed past 90 d, failed inside 180 d -> the partition stays, the completed rows go
  for (let i = 0; i < 5; i++) await record(stores, `done:mixed${i}`, 100, i);
  await record(stores, "fail:mixed", 100);
  // 30 days ago: both inside their windows
  await record(stores, "done:recent", 30);
  await record(stores, "fail:recent", 30);
}

/** Rows and payload bytes by kind, counted the slow way. */
async function counted(stores: Stores): Promise<Map<string, { rows: number; bytes: number }>> {
  const result = await stores.pool.query(`SELECT kind, count(*)::int AS rows, sum(pg_column_size(payload))::int AS bytes FROM "${stores.schema}".reclaim_archive GROUP BY kind`);
  return new Map(result.rows.map((row) => [row.kind, { rows: row.rows, bytes: row.bytes }]));
}

const target = (stores: Stores) => ({ schema: stores.schema, table: "reclaim_archive", partition: "day" as const, lockTimeout: 200 });

describe("archive retention", () => {
  it("drops a partition only when every row in it is past its kind's window, and deletes the other past-window rows in batches", async () => {
    await using stores = await openStores();
    await recordThreeAges(stores);
    const registry = new Registry();
    const { report, error } = await pass(stores, { registry });
    expect(error).toBeUndefined();
    expect(report?.retention).toEqual({ partitionsDropped: [day(200)], rowsDeleted: { completed: 5 }, failedSteps: [] });
    expect(await partitions(stores.pool, stores.schema)).toEqual([day(100), day(30), day(0)]);
    const left = [...(await archivedRows(stores.pool, stores.schema)).keys()].map((key) => key.slice(stores.prefix.length)).sort();
    expect(left).toEqual(["done:recent", "fail:mixed", "fail:recent"]);
    expect(await registry.getSingleMetricAsString("reclaim_offload_retention_rows_total")).toContain('kind="completed"} 5');
    expect(await registry.getSingleMetricAsString("reclaim_offload_partitions_dropped_total")).toContain("} 1");
  });

  it("never removes rows of a kind no source names, nor drops their partition", async () => {
    await using stores = await openStores();
    await record(stores, "done:old", 300);
    await pass(stores, { sources: [{ match: `${stores.prefix}done:*`, kind: "completed", timeField: "at", hotFor: "7d", archiveFor: "365d" }] });
    await stores.pool.query(`INSERT INTO "${stores.schema}".reclaim_archive (key, kind, redis_type, payload, record_time, digest) VALUES ('x', 'audit', 'string', '{}', $1, '\\x00')`, [new Date(NOW - 300 * DAY + 1000)]);
    const { report } = await pass(stores);
    expect(report?.retention).toMatchObject({ partitionsDropped: [], rowsDeleted: { completed: 1 } });
    expect(await partitions(stores.pool, stores.schema)).toContain(day(300));
    expect([...(await archivedRows(stores.pool, stores.schema)).keys()]).toEqual(["x"]);
  });

  it("a lock conflict fails the partition drop, not the pass, and keeps the partition until a later pass can drop it", async () => {
    await using stores = await openStores();
    await pass(stores);
    await record(stores, "done:a", 95);
    await record(stores, "fail:a", 10);
    // archive the 95-day-old record with a window long enough to keep it...
    await pass(stores, { sources: [{ match: `${stores.prefix}done:*`, kind: "completed", timeField: "at", hotFor: "7d", archiveFor: "365d" }] });
    expect(await partitions(stores.pool, stores.schema)).toContain(day(95));
    // ...then a reader holds the archive while the real windows apply.
    const reader = await stores.pool.connect();
    try {
      await reader.query("BEGIN");
      await reader.query(`SELECT count(*) FROM "${stores.schema}".reclaim_archive`);
      const registry = new Registry();
      const blocked = await pass(stores, { registry });
      expect(blocked.outcome).toBe("success");
      expect(blocked.report?.failedSteps).toEqual([expect.stringMatching(new RegExp(`^drop ${day(95)}: canceling statement due to lock timeout`))]);
      expect(blocked.report?.retention?.rowsDeleted).toEqual({ completed: 1 }); // the batched delete still ran
      expect(await partitions(stores.pool, stores.schema)).toContain(day(95));
      expect(await registry.getSingleMetricAsString("reclaim_offload_ddl_failures_total")).toContain("} 1");
    } finally {
      await reader.query("ROLLBACK");
      reader.release();
    }
    const after = await pass(stores);
    expect(after.report?.failedSteps).toEqual([]);
    expect(after.report?.retention?.partitionsDropped).toEqual([day(95)]);
  });

  it("a lock held on the archive fails the batched deletes under lock_timeout, not the pass, and a later pass deletes the rows", async () => {
    await using stores = await openStores();
    await recordThreeAges(stores);
    await pass(stores, {
      sources: [
        { match: `${stores.prefix}done:*`, kind: "completed", timeField: "at", hotFor: "7d", archiveFor: "365d" },
        { match: `${stores.prefix}fail:*`, kind: "failed", timeField: "at", hotFor: "14d", archiveFor: "365d" },
      ],
    });
    const before = [...(await archivedRows(stores.pool, stores.schema)).keys()].sort();
    const holder = await stores.pool.connect();
    try {
      await holder.query("BEGIN");
      await holder.query(`LOCK TABLE "${stores.schema}".reclaim_archive IN EXCLUSIVE MODE`); // readers only
      const blocked = await pass(stores);
      expect(blocked.outcome).toBe("success");
      expect(blocked.report?.failedSteps).toEqual(expect.arrayContaining([expect.stringMatching(/^delete completed: canceling statement due to lock timeout/)]));
      expect(blocked.report?.retention?.rowsDeleted).toEqual({});
    } finally {
      await holder.query("ROLLBACK");
      holder.release();
    }
    expect([...(await archivedRows(stores.pool, stores.schema)).keys()].sort()).toEqual(before);
    const after = await pass(stores);
    expect(after.report?.failedSteps).toEqual([]);
    expect(after.report?.retention).toEqual({ partitionsDropped: [day(200)], rowsDeleted: { completed: 5 }, failedSteps: [] });
  });

  it("a partition that cannot be created under lock_timeout defers its records (left in Redis) and the rest of the pass goes on", async () => {
    await using stores = await openStores();
    await pass(stores);
    await record(stores, "done:today-ish", 8);
    await pass(stores); // the partition of 8 days ago exists now
    await record(stores, "done:same-day", 8, 1);
    await record(stores, "done:new-day", 9);
    const holder = await stores.pool.connect();
    try {
      await holder.query("BEGIN");
      await holder.query(`LOCK TABLE "${stores.schema}".reclaim_archive IN SHARE UPDATE EXCLUSIVE MODE`); // as VACUUM or ANALYZE would
      const { outcome, report } = await pass(stores);
      expect(outcome).toBe("success");
      expect(report?.failedSteps).toEqual([expect.stringMatching(new RegExp(`^create ${day(9)}: canceling statement due to lock timeout`))]);
      expect(report?.sources[0]).toMatchObject({ archived: 1, deleted: 1, deferred: 1 });
      expect(report?.sources[0]?.lagSeconds).toBeCloseTo(2 * 86_400, 0);
    } finally {
      await holder.query("ROLLBACK");
      holder.release();
    }
    expect(await stores.redis.exists(`${stores.prefix}done:new-day`)).toBe(1);
    expect(await stores.redis.exists(`${stores.prefix}done:same-day`)).toBe(0);
    const { report } = await pass(stores);
    expect(report?.sources[0]).toMatchObject({ archived: 1, deleted: 1, deferred: 0 });
  });

  it("keeps the archive's rows and payload bytes by kind equal to a count, through COPY, re-archives, deletes, drops and a DELETE by hand", async () => {
    await using stores = await openStores();
    await recordThreeAges(stores);
    const first = await pass(stores);
    expect(first.report?.retention).toMatchObject({ partitionsDropped: [day(200)], rowsDeleted: { completed: 5 } });
    expect(await archiveStats(stores.pool, target(stores))).toEqual(await counted(stores));
    expect((await archiveStats(stores.pool, target(stores))).get("failed")?.rows).toBe(2);

    // The same record again (COPY refused, INSERT ... ON CONFLICT inserts nothing) and a new version of another.
    await record(stores, "done:recent", 30);
    await stores.redis.set(`${stores.prefix}fail:recent`, JSON.stringify({ at: NOW - 30 * DAY, version: 2 }));
    await pass(stores);
    expect(await archiveStats(stores.pool, target(stores))).toEqual(await counted(stores));
    expect((await archiveStats(stores.pool, target(stores))).get("failed")?.rows).toBe(3);

    await stores.pool.query(`DELETE FROM "${stores.schema}".reclaim_archive WHERE key = $1`, [`${stores.prefix}done:recent`]);
    expect(await archiveStats(stores.pool, target(stores))).toEqual(await counted(stores));
    expect((await archiveStats(stores.pool, target(stores))).has("completed")).toBe(false);
  });

  it("gives an archive made before the running totals its totals, counted once, and keeps them from then on", async () => {
    await using stores = await openStores();
    await ensureArchiveTable(stores.pool, target(stores));
    // what an earlier version left: the archive without its totals table, trigger function and triggers
    await stores.pool.query(`DROP TABLE "${stores.schema}".reclaim_archive_totals; DROP FUNCTION "${stores.schema}".reclaim_archive_tally() CASCADE`);
    await record(stores, "fail:before", 20);
    await pass(stores, { sources: [{ match: `${stores.prefix}fail:*`, kind: "failed", timeField: "at", hotFor: "14d", archiveFor: "180d" }] });
    await stores.pool.query(`DROP TABLE "${stores.schema}".reclaim_archive_totals; DROP FUNCTION "${stores.schema}".reclaim_archive_tally() CASCADE`);
    await record(stores, "fail:after", 20);
    const { report } = await pass(stores);
    expect(report?.sources[1]).toMatchObject({ archived: 1 });
    expect(await archiveStats(stores.pool, target(stores))).toEqual(new Map([["failed", (await counted(stores)).get("failed")]]));
    expect((await archiveStats(stores.pool, target(stores))).get("failed")?.rows).toBe(2);
    await insertRows(stores.pool, target(stores), [{ key: `${stores.prefix}by-hand`, kind: "failed", redisType: "string", payload: "{}", time: NOW - 20 * DAY, digest: "00".repeat(20) }]);
    expect((await archiveStats(stores.pool, target(stores))).get("failed")?.rows).toBe(3);
  });
});
