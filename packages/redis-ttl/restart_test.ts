import { Redis } from "ioredis";
import { describe, expect, test, vi } from "vitest";
import { connect, keysMatching, ownRedis, setup } from "./_test_redis.ts";

// These tests run their own redis-server on a free port: they restart it or change its configuration, which the
// shared test Redis must never see.
describe("createRedisTtlHook() against a Redis that goes away or is locked down", () => {
  test("a Redis restart in the middle of a pass fails that pass cleanly and the next pass finishes the work", async () => {
    await using server = await ownRedis(["--appendonly", "yes", "--appendfsync", "always"]);
    const redis = connect(server.url);
    const probe = connect(server.url);
    try {
      const pipeline = redis.pipeline();
      for (let i = 0; i < 3_000; i++) pipeline.set(`hb:${i}`, "1");
      await pipeline.exec();
      const { runner, lines, pass } = setup({ name: "restart", redis, scanCount: 50, pause: "20ms", policies: [{ match: "hb:*", ttl: "5m" }] });

      const interrupted = runner.runOnce();
      // Once the pass has saved its position after a batch, it is mid-pass: kill Redis under it.
      await vi.waitFor(async () => expect(await probe.exists("reclaim:redis-ttl:restart:scan")).toBe(1), { timeout: 20_000, interval: 10 });
      await server.kill();
      const failed = await interrupted;
      expect(failed.outcome).toBe("failure");
      expect(failed.error).toBeTruthy();
      expect(lines.some((l) => l.level === 50)).toBe(true);

      await server.start();
      await vi.waitFor(async () => expect(await redis.ping()).toBe("PONG"), { timeout: 10_000, interval: 100 });
      let report = await pass();
      while (!report.cycleComplete) report = await pass();

      const keys = await keysMatching(redis, "hb:*");
      expect(keys).toHaveLength(3_000);
      const ttls = await Promise.all(keys.map((key) => redis.pttl(key)));
      expect(ttls.filter((t) => t === -1)).toEqual([]);
    } finally {
      redis.disconnect();
      probe.disconnect();
    }
  });

  test("a pass stops on its time budget and says so; the following passes finish the cycle", async () => {
    await using server = await ownRedis(); // alone on its Redis: every batch is this test's keys
    const redis = connect(server.url);
    try {
      const pipeline = redis.pipeline();
      for (let i = 0; i < 1_000; i++) pipeline.set(`hb:${i}`, "1");
      await pipeline.exec();
      // About 100 batches with a 50 ms pause after each cannot fit in a 100 ms budget.
      const { pass } = setup({ name: "time", redis, scanCount: 10, pause: "50ms", budget: { time: 100 }, policies: [{ match: "hb:*", ttl: "5m" }] });

      const reports = [await pass()];
      while (!reports.at(-1)!.cycleComplete) reports.push(await pass());

      expect(reports[0]).toMatchObject({ budgetExhausted: true, cycleComplete: false });
      expect(reports[0]!.policies[0]!.changed).toBeGreaterThan(0);
      expect(reports.length).toBeGreaterThan(2);
      expect(reports.reduce((n, r) => n + r.policies[0]!.changed, 0)).toBe(1_000);
    } finally {
      redis.disconnect();
    }
  });

  test("a pass stopped by the runner keeps the position it reached, and the next pass goes on from there", async () => {
    await using server = await ownRedis();
    const redis = connect(server.url);
    try {
      const pipeline = redis.pipeline();
      for (let i = 0; i < 1_000; i++) pipeline.set(`hb:${i}`, "1");
      await pipeline.exec();
      const options = { name: "stop", redis, scanCount: 10, pause: "50ms", policies: [{ match: "hb:*", ttl: "5m" }] };
      const { runner } = setup(options);
      const pass = runner.runOnce();
      await vi.waitFor(async () => expect(await redis.exists("reclaim:redis-ttl:stop:scan")).toBe(1), { timeout: 20_000, interval: 10 });
      await runner.stop();
      const stopped = await pass;
      expect(stopped.outcome).toBe("aborted");
      const given = (await Promise.all((await keysMatching(redis, "hb:*")).map((key) => redis.pttl(key)))).filter((t) => t > 0).length;
      const saved = JSON.parse((await redis.get("reclaim:redis-ttl:stop:scan"))!) as { nodes: Record<string, string> };
      expect(Object.values(saved.nodes)[0]).not.toBe("0");

      const next = await setup({ ...options, pause: 0 }).pass();

      expect(next.policies[0]!.changed).toBeLessThanOrEqual(1_000 - given);
      expect(next.policies[0]!.changed + given).toBeGreaterThanOrEqual(1_000);
    } finally {
      redis.disconnect();
    }
  });

  test("under a volatile-* maxmemory-policy it warns once and sets the metric, even where CONFIG is renamed away; memory is shown against maxmemory", async () => {
    await using server = await ownRedis(["--maxmemory", "64mb", "--maxmemory-policy", "volatile-lru", "--rename-command", "CONFIG", ""]);
    const redis = connect(server.url);
    try {
      await redis.set("hb:1", "1");
      const { pass, lines, registry, hook } = setup({ name: "volatile", redis, policies: [{ match: "hb:*", ttl: "5m" }] });

      const first = await pass();
      const second = await pass();

      expect(first.maxmemoryPolicy).toBe("volatile-lru");
      expect(lines.filter((l) => l.level === 40 && String(l.msg).includes("volatile"))).toHaveLength(1);
      expect(await registry.getSingleMetricAsString("reclaim_redis_volatile_eviction")).toContain('reclaim_redis_volatile_eviction{hook="volatile"} 1');
      expect(await registry.getSingleMetricAsString("reclaim_redis_maxmemory_bytes")).toContain(`reclaim_redis_maxmemory_bytes{hook="volatile"} ${64 * 2 ** 20}`);
      expect(await redis.pttl("hb:1")).toBeGreaterThan(0);
      // The console's figures: memory as a bar against maxmemory, and the keys the last complete scan found without a TTL.
      expect(hook.status?.()).toMatchObject({
        maxmemoryBytes: 64 * 2 ** 20,
        resources: [
          { label: "Redis memory", unit: "bytes", value: second.usedMemoryBytes, max: 64 * 2 ** 20 },
          { label: "keys without TTL (last scan)", unit: "count", value: 0 },
        ],
      });
    } finally {
      redis.disconnect();
    }
  });

  test("a Redis that forbids CONFIG and INFO (managed Redis) still gets its pass, and the metric says the policy is unknown", async () => {
    await using server = await ownRedis();
    const admin = connect(server.url);
    await admin.call("ACL", ["SETUSER", "limited", "on", ">secret", "~*", "&*", "+@all", "-config", "-info"]);
    const redis = new Redis(server.port, "127.0.0.1", { username: "limited", password: "secret", maxRetriesPerRequest: 1 });
    try {
      await redis.set("hb:1", "1");
      await expect(redis.call("CONFIG", ["GET", "maxmemory-policy"])).rejects.toThrow(/NOPERM/);
      const { pass, registry } = setup({ name: "locked", redis, policies: [{ match: "hb:*", ttl: "5m" }] });

      const report = await pass();

      expect(report).toMatchObject({ maxmemoryPolicy: null, usedMemoryBytes: null });
      expect(await registry.getSingleMetricAsString("reclaim_redis_volatile_eviction")).toContain('reclaim_redis_volatile_eviction{hook="locked"} -1');
      expect(await redis.pttl("hb:1")).toBeGreaterThan(0);
    } finally {
      redis.disconnect();
      admin.disconnect();
    }
  });
});
