import { redisClusterNodes } from "@reclaim/core/testing";
import type { Cluster } from "ioredis";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { keySlot } from "./_slot.ts";
import { cleanup, connectCluster, keysMatching, setup, uniqueName } from "./_test_redis.ts";

// A real three-master Redis Cluster on loopback (scripts/services.sh: 127.0.0.1:7001-7003, REDIS_CLUSTER_NODES).
describe.skipIf(redisClusterNodes.length === 0)("createRedisTtlHook() on a three-master Redis Cluster", () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = connectCluster();
    await cluster.ping();
  });
  afterAll(() => cluster.disconnect());

  /** The master that owns a key. */
  function ownerOf(key: string): string {
    const slot = keySlot(key);
    const ranges = (cluster as unknown as { slots: string[][] }).slots;
    return ranges[slot]![0]!;
  }

  test("scans every master and applies policies, streams, indexes and orphan rules to keys on all of them", async () => {
    const name = uniqueName("cluster");
    const k = (suffix: string): string => `${name}:${suffix}`;
    try {
      for (let i = 0; i < 300; i++) {
        await cluster.set(k(`hb:${i}`), "1");
        await cluster.set(k(`keep:${i}`), "1");
      }
      for (let i = 0; i < 30; i++) await cluster.set(k(`m:${i}`), "1", "PX", 86_400_000);
      for (let i = 0; i < 30; i++) await cluster.set(k(`hb:short:${i}`), "1", "PX", 30_000);
      for (let s = 0; s < 6; s++) for (let i = 0; i < 300; i++) await cluster.xadd(k(`events:${s}`), "*", "n", String(i));
      // An index whose records are spread over every master, and one whose records share its slot (hash tag).
      for (let i = 0; i < 60; i++) {
        if (i % 2 === 0) {
          await cluster.set(k(`done:${i}`), "1");
          await cluster.set(`{${name}}:rec:${i}`, "1");
        }
        await cluster.sadd(k("jobs:done"), String(i));
        await cluster.zadd(`{${name}}:jobs`, String(i), String(i));
      }
      for (let i = 0; i < 30; i++) await cluster.set(k(`job:${i}:meta`), "1");
      for (let i = 0; i < 30; i += 3) await cluster.set(k(`job:${i}`), "parent");
      const owners = new Set([...Array.from({ length: 300 }, (_, i) => ownerOf(k(`hb:${i}`)))]);
      expect(owners.size).toBe(3);

      const { pass, clock } = setup({
        name,
        redis: cluster,
        scanCount: 100,
        policies: [{ match: k("hb:*"), ttl: "5m" }, { match: k("m:*"), ttl: "1h", mode: "cap" }],
        streams: [{ match: k("events:*"), maxLen: 100 }],
        indexes: [
          { key: k("jobs:done"), record: k("done:{member}") },
          { key: `{${name}}:jobs`, record: `{${name}}:rec:{member}` },
        ],
        orphans: [{ match: k("job:*:meta"), parent: k("job:{1}"), minAge: "1h" }],
      });

      const first = await pass();
      clock.ahead = 2 * 3_600_000;
      const second = await pass();

      expect(first.cycleComplete).toBe(true);
      expect(first.policies.map((p) => p.changed)).toEqual([300, 30]);
      for (let i = 0; i < 30; i++) expect(await cluster.pttl(k(`hb:short:${i}`))).toBeLessThanOrEqual(30_000); // never lengthened
      for (let i = 0; i < 300; i++) {
        expect(await cluster.pttl(k(`hb:${i}`))).toBeGreaterThan(0);
        expect(await cluster.pttl(k(`keep:${i}`))).toBe(-1);
      }
      for (let i = 0; i < 30; i++) expect(await cluster.pttl(k(`m:${i}`))).toBeLessThanOrEqual(3_600_000);
      for (let s = 0; s < 6; s++) expect(await cluster.xlen(k(`events:${s}`))).toBeLessThan(300);
      expect(first.streams.streams).toBe(6);
      expect((await cluster.smembers(k("jobs:done"))).map(Number).sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, i) => 2 * i));
      expect((await cluster.zrange(`{${name}}:jobs`, "0", "-1")).map(Number)).toEqual(Array.from({ length: 30 }, (_, i) => 2 * i));
      expect(first.orphans[0]).toMatchObject({ orphaned: 20, pending: 20, deleted: 0 });
      expect(second.orphans[0]).toMatchObject({ orphaned: 20, deleted: 20 });
      for (let i = 0; i < 30; i++) expect(await cluster.exists(k(`job:${i}:meta`))).toBe(i % 3 === 0 ? 1 : 0);
    } finally {
      await cleanup(cluster, name);
    }
  });

  test("finishes a keyspace larger than one pass's budget over several passes, master after master", async () => {
    const name = uniqueName("cluster-budget");
    const k = (suffix: string): string => `${name}:${suffix}`;
    try {
      for (let i = 0; i < 1_500; i++) await cluster.set(k(`hb:${i}`), "1");
      const { pass } = setup({ name, redis: cluster, scanCount: 100, budget: { keys: 300 }, policies: [{ match: k("hb:*"), ttl: "5m" }] });

      const reports = [];
      for (let i = 0; i < 100; i++) {
        const report = await pass();
        reports.push(report);
        if (report.cycleComplete) break;
      }

      expect(reports.length).toBeGreaterThan(3);
      expect(reports.at(-1)?.cycleComplete).toBe(true);
      const keys = await keysMatching(cluster, k("hb:*"));
      expect(keys).toHaveLength(1_500);
      const ttls = await Promise.all(keys.map((key) => cluster.pttl(key)));
      expect(ttls.filter((t) => t === -1)).toEqual([]);
    } finally {
      await cleanup(cluster, name);
    }
  });
});
