import { createRunner, parseOptions } from "@reclaim/core";
import { testHookEnvironment } from "@reclaim/core/testing";
import { afterAll, describe, expect, test } from "vitest";
import { cleanup, connect, uniqueName } from "./_test_redis.ts";
import { redisTtlDefinition } from "./definition.ts";
import { redisTtlOptions } from "./options.ts";

const redis = connect();
afterAll(() => redis.disconnect());

describe("redisTtlDefinition", () => {
  test("works on Redis every 5 minutes after 60 s, fills in defaults, and has no embedded default", () => {
    expect(redisTtlDefinition).toMatchObject({ name: "redis-ttl", stores: ["redis"], schedule: { interval: 300_000, initialDelay: 60_000 } });
    expect(redisTtlDefinition.embeddedDefault).toBeUndefined();
    expect(parseOptions("redis-ttl", redisTtlOptions, { policies: [{ match: "worker:heartbeat:*", ttl: "5m" }] })).toEqual({
      policies: [{ match: "worker:heartbeat:*", ttl: 300_000, mode: "missing" }],
      streams: [],
      indexes: [],
      orphans: [],
      scanCount: 1_000,
      pause: 2,
      budget: { keys: 500_000, time: 30_000 },
      dryRunKeys: 100,
    });
    expect(() => parseOptions("redis-ttl", redisTtlOptions, { policies: [{ match: "a:*", ttl: "5m" }], redis: { url: "redis://x" } })).toThrow(
      /'redis' is not a known option/,
    );
  });

  test("builds an instance named by the config on the environment's Redis, opened in the pass, labelled with the instance", async () => {
    const name = uniqueName("def");
    try {
      await redis.set(`${name}:hb:1`, "1");
      let opened = 0;
      const env = testHookEnvironment({ instance: name, redis: async () => (opened++, redis) });
      const options = parseOptions("redis-ttl", redisTtlOptions, { policies: [{ match: `${name}:hb:*`, ttl: "5m" }] });
      const hook = await redisTtlDefinition.create(options, env);
      expect(opened).toBe(0);

      const runner = createRunner(hook, { registry: env.registry, enabled: true });
      const result = await runner.runOnce();

      expect(result.outcome).toBe("success");
      expect(opened).toBe(1);
      expect(hook).toMatchObject({ name, type: "redis-ttl" });
      expect(await redis.pttl(`${name}:hb:1`)).toBeGreaterThan(0);
      expect(await env.registry.getSingleMetricAsString("reclaim_redis_ttls_set_total")).toContain(`{hook="${name}",policy="${name}:hb:*"} 1`);
      expect(redisTtlDefinition.rpc?.["redis.ttl_status"]?.(runner)).toMatchObject({
        hook: name,
        lastRun: { outcome: "success" },
        details: { maxmemoryPolicy: "noeviction", lastCompleteCycle: { cycle: 0, withoutTtl: { [`${name}:hb:*`]: 1 } } },
      });
    } finally {
      await cleanup(redis, name);
    }
  });
});
