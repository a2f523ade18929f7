import { redisClusterNodes } from "@reclaim/core/testing";
import { afterAll, describe, expect, test } from "vitest";
import { auditRedis, formatRedisAudit, inferPattern } from "./audit.ts";
import { cleanup, connect, connectCluster, uniqueName } from "./_test_redis.ts";

const redis = connect();
afterAll(() => redis.disconnect());

describe("inferPattern()", () => {
  test("replaces id-like parts of a key with * and keeps words", () => {
    expect(inferPattern("worker:completion:8f3a9c01-77aa-4b7e-9d2f-0c1b2a3d4e5f")).toBe("worker:completion:*");
    expect(inferPattern("job:42:meta")).toBe("job:*:meta");
    expect(inferPattern("worker:heartbeat:machine-7")).toBe("worker:heartbeat:*");
    expect(inferPattern("session:deadbeefcafe")).toBe("session:*");
    expect(inferPattern("{tenant9}:jobs")).toBe("{*}:jobs");
    expect(inferPattern("config")).toBe("config");
    expect(inferPattern("queue:emails:waiting")).toBe("queue:emails:waiting");
  });
});

describe("auditRedis()", () => {
  test("groups keys, memory and keys without a TTL by inferred pattern, with the largest keys and the TTL distribution", async () => {
    const name = uniqueName("audit");
    try {
      const pipeline = redis.pipeline();
      for (let i = 0; i < 200; i++) pipeline.set(`${name}:worker:completion:${i.toString(16).padStart(12, "0")}`, "x".repeat(100));
      for (let i = 0; i < 50; i++) pipeline.set(`${name}:worker:heartbeat:${i}`, "1", "PX", 300_000);
      pipeline.rpush(`${name}:big:list`, ...Array.from({ length: 5_000 }, (_, i) => `item-${i}`));
      await pipeline.exec();

      const audit = await auditRedis(redis, { match: `${name}:*`, sampleRate: 1, top: 3 });

      expect(audit).toMatchObject({ keys: 251, sampled: 251, sampleRate: 1 });
      const byPattern = Object.fromEntries(audit.patterns.map((p) => [p.pattern, p]));
      const ns = inferPattern(name); // the test prefix has digits: "*"
      expect(byPattern[`${ns}:worker:completion:*`]).toMatchObject({ keys: 200, withoutTtl: 200, types: { string: 200 } });
      expect(byPattern[`${ns}:worker:heartbeat:*`]).toMatchObject({ keys: 50, withoutTtl: 0 });
      expect(audit.patterns.map((p) => p.pattern)).toEqual([`${ns}:big:list`, `${ns}:worker:completion:*`, `${ns}:worker:heartbeat:*`]); // by memory
      expect(audit.largest[0]).toMatchObject({ key: `${name}:big:list`, type: "list", ttlMs: -1 });
      expect(audit.ttl.find((t) => t.bucket === "none")!.keys).toBe(201);
      expect(audit.ttl.find((t) => t.bucket === "<1h")!.keys).toBe(50);
      expect(audit.withoutTtl).toBe(201);

      const text = formatRedisAudit(audit);
      expect(text).toContain("Sampled 251 keys at a rate of 1 (every key)");
      expect(text).toMatch(new RegExp(`\\*:worker:completion:\\*\\s+200\\s+[\\d.]+ (KiB|B)\\s+200\\s+string`));
      expect(text).toContain("TTL distribution:");
    } finally {
      await cleanup(redis, name);
    }
  });

  test("looks closely at a sample only, and says the rate in its output", async () => {
    const name = uniqueName("audit-sample");
    try {
      const pipeline = redis.pipeline();
      for (let i = 0; i < 2_000; i++) pipeline.set(`${name}:k:${i}`, "v");
      await pipeline.exec();

      const audit = await auditRedis(redis, { match: `${name}:*`, sampleRate: 0.1 });

      expect(audit.keys).toBe(2_000);
      expect(audit.sampled).toBeGreaterThan(50);
      expect(audit.sampled).toBeLessThan(400);
      expect(audit.patterns[0]).toMatchObject({ pattern: "*:k:*", keys: 2_000, withoutTtl: 2_000 });
      expect(formatRedisAudit(audit)).toMatch(/at a rate of 0\.100 \(10%\).*estimates from the sample/);
    } finally {
      await cleanup(redis, name);
    }
  });

  test.skipIf(redisClusterNodes.length === 0)("audits every master of a cluster", async () => {
    const cluster = connectCluster();
    const name = uniqueName("audit-cluster");
    try {
      for (let i = 0; i < 300; i++) await cluster.set(`${name}:k:${i}`, "v");

      const audit = await auditRedis(cluster, { match: `${name}:*`, sampleRate: 1 });

      expect(audit.keys).toBe(300);
      expect(audit.patterns[0]).toMatchObject({ pattern: "*:k:*", keys: 300 });
    } finally {
      await cleanup(cluster, name);
      cluster.disconnect();
    }
  });
});
