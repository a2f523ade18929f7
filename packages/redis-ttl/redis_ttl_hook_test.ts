import { OptionRangeError, OptionTypeError } from "@reclaim/core";
import { Registry } from "prom-client";
import { afterAll, describe, expect, test } from "vitest";
import { cleanup, connect, keysMatching, setup } from "./_test_redis.ts";
import { uniqueName } from "./_test_redis.ts";
import { createRedisTtlHook } from "./redis_ttl_hook.ts";

const redis = connect();
afterAll(() => redis.disconnect());

/** A test's own namespace: keys `<name>:...` and a hook instance called `<name>`; removed when disposed. */
async function namespace(label: string): Promise<{ name: string; k: (suffix: string) => string } & AsyncDisposable> {
  const name = uniqueName(label);
  return { name, k: (suffix) => `${name}:${suffix}`, [Symbol.asyncDispose]: () => cleanup(redis, name) };
}

describe("createRedisTtlHook() policies", () => {
  test("a missing policy gives a TTL only to matching keys without one, and leaves existing TTLs alone", async () => {
    await using ns = await namespace("missing");
    const { k } = ns;
    await redis.set(k("worker:heartbeat:a"), "1");
    await redis.hset(k("worker:heartbeat:b"), "at", "1");
    await redis.set(k("worker:heartbeat:short"), "1", "PX", 20_000);
    await redis.set(k("worker:heartbeat:long"), "1", "PX", 7_200_000);
    const { pass, registry } = setup({ name: ns.name, redis, policies: [{ match: k("worker:heartbeat:*"), ttl: "5m" }] });

    const report = await pass();

    expect(await redis.pttl(k("worker:heartbeat:a"))).toBeGreaterThan(290_000);
    expect(await redis.pttl(k("worker:heartbeat:a"))).toBeLessThanOrEqual(300_000);
    expect(await redis.pttl(k("worker:heartbeat:b"))).toBeGreaterThan(290_000);
    // Never lengthened; and `missing` does not shorten either.
    expect(await redis.pttl(k("worker:heartbeat:short"))).toBeLessThanOrEqual(20_000);
    expect(await redis.pttl(k("worker:heartbeat:long"))).toBeGreaterThan(3_600_000);
    expect(report.policies[0]).toMatchObject({ matched: 4, withoutTtl: 2, changed: 2 });
    expect(await registry.getSingleMetricAsString("reclaim_redis_ttls_set_total")).toContain(
      `reclaim_redis_ttls_set_total{hook="${ns.name}",policy="${k("worker:heartbeat:*")}"} 2`,
    );
  });

  test("a cap policy sets missing TTLs and shortens longer ones, and never lengthens a shorter TTL", async () => {
    await using ns = await namespace("cap");
    const { k } = ns;
    await redis.set(k("machine:none"), "1");
    await redis.set(k("machine:long"), "1", "PX", 86_400_000);
    await redis.set(k("machine:short"), "1", "PX", 30_000);
    const { pass } = setup({ name: ns.name, redis, policies: [{ match: k("machine:*"), ttl: "1h", mode: "cap" }] });

    const report = await pass();

    expect(await redis.pttl(k("machine:none"))).toBeGreaterThan(3_590_000);
    expect(await redis.pttl(k("machine:long"))).toBeLessThanOrEqual(3_600_000);
    expect(await redis.pttl(k("machine:long"))).toBeGreaterThan(3_590_000);
    expect(await redis.pttl(k("machine:short"))).toBeLessThanOrEqual(30_000);
    expect(report.policies[0]).toMatchObject({ matched: 3, withoutTtl: 1, changed: 2 });
  });

  test("keys that match no policy are never touched: no TTL is added and their values stay", async () => {
    await using ns = await namespace("untouched");
    const { k } = ns;
    await redis.set(k("worker:heartbeat:a"), "1");
    await redis.set(k("worker:config"), "keep");
    await redis.sadd(k("workers"), "a", "b");
    await redis.set(k("worker:heartbeatx"), "near miss");
    const { pass } = setup({ name: ns.name, redis, policies: [{ match: k("worker:heartbeat:*"), ttl: "5m", mode: "cap" }] });

    await pass();

    expect(await redis.pttl(k("worker:heartbeat:a"))).toBeGreaterThan(0);
    expect(await redis.pttl(k("worker:config"))).toBe(-1);
    expect(await redis.pttl(k("workers"))).toBe(-1);
    expect(await redis.pttl(k("worker:heartbeatx"))).toBe(-1);
    expect(await redis.get(k("worker:config"))).toBe("keep");
    expect(await redis.smembers(k("workers"))).toHaveLength(2);
  });

  test("a policy with a type touches only keys of that type, and a key takes the first policy that fits", async () => {
    await using ns = await namespace("typed");
    const { k } = ns;
    await redis.hset(k("job:1"), "status", "done");
    await redis.set(k("job:2"), "a string");
    await redis.rpush(k("job:3"), "x");
    const { pass } = setup({
      name: ns.name,
      redis,
      policies: [
        { match: k("job:*"), ttl: "1h", type: "hash" },
        { match: k("job:*"), ttl: "10m", type: "string" },
      ],
    });

    const report = await pass();

    expect(await redis.pttl(k("job:1"))).toBeGreaterThan(3_000_000);
    expect(await redis.pttl(k("job:2"))).toBeLessThanOrEqual(600_000);
    expect(await redis.pttl(k("job:2"))).toBeGreaterThan(0);
    expect(await redis.pttl(k("job:3"))).toBe(-1);
    expect(report.policies.map((p) => p.changed)).toEqual([1, 1]);
  });

  test("a dry run reports, per policy, the keys it would change and touches nothing", async () => {
    await using ns = await namespace("dry");
    const { k } = ns;
    await redis.set(k("hb:a"), "1");
    await redis.set(k("hb:b"), "1", "PX", 10_000);
    await redis.set(k("m:long"), "1", "PX", 86_400_000);
    await redis.set(k("m:short"), "1", "PX", 10_000);
    const { pass, registry } = setup(
      { name: ns.name, redis, policies: [{ match: k("hb:*"), ttl: "5m" }, { match: k("m:*"), ttl: "1h", mode: "cap" }] },
      { dryRun: true },
    );

    const report = await pass();

    expect(report.dryRun).toBe(true);
    expect(report.policies[0]).toMatchObject({ changed: 1, withoutTtl: 1, keys: [k("hb:a")] });
    expect(report.policies[1]).toMatchObject({ changed: 1, withoutTtl: 0, keys: [k("m:long")] });
    expect(await redis.pttl(k("hb:a"))).toBe(-1);
    expect(await redis.pttl(k("m:long"))).toBeGreaterThan(3_600_000);
    expect(await keysMatching(redis, `reclaim:redis-ttl:${ns.name}:*`)).toEqual([]);
    expect(await registry.getSingleMetricAsString("reclaim_redis_ttls_set_total")).toContain(
      `reclaim_redis_ttls_set_total{hook="${ns.name}",policy="${k("hb:*")}"} 0`,
    );
  });
});

describe("createRedisTtlHook() dry run of the other rules", () => {
  test("a dry run lists the streams, index members and orphans it would touch, and changes nothing in Redis", async () => {
    await using ns = await namespace("dry-rules");
    const { k } = ns;
    const pipeline = redis.pipeline();
    for (let i = 0; i < 1_000; i++) pipeline.xadd(k("events:a"), "*", "n", String(i));
    for (let i = 0; i < 10; i++) pipeline.sadd(k("jobs"), String(i));
    pipeline.set(k("rec:3"), "1");
    pipeline.set(k("job:7:meta"), "orphan");
    await pipeline.exec();
    const options = {
      name: ns.name,
      redis,
      streams: [{ match: k("events:*"), maxLen: 100 }],
      indexes: [{ key: k("jobs"), record: k("rec:{member}") }],
      orphans: [{ match: k("job:*:meta"), parent: k("job:{1}"), minAge: "1h" }],
    };
    await setup(options).pass(); // a real pass notes the orphan's first sighting (and does the rest)
    await redis.sadd(k("jobs"), "8", "9");
    for (let i = 0; i < 1_000; i++) await redis.xadd(k("events:a"), "*", "n", String(i));
    const before = await redis.xlen(k("events:a"));
    const { pass, clock } = setup(options, { dryRun: true });
    clock.ahead = 2 * 3_600_000;

    const report = await pass();

    expect(report.streams).toMatchObject({ streams: 1, keys: [k("events:a")] });
    expect(report.streams.entries).toBeGreaterThan(0);
    expect(report.indexes[0]).toMatchObject({ removed: 2, members: expect.arrayContaining(["8", "9"]) as unknown });
    expect(report.orphans[0]).toMatchObject({ deleted: 1, keys: [k("job:7:meta")] });
    expect(await redis.xlen(k("events:a"))).toBe(before);
    expect(await redis.scard(k("jobs"))).toBe(3);
    expect(await redis.exists(k("job:7:meta"))).toBe(1);
  });
});

describe("createRedisTtlHook() streams", () => {
  test("trims a stream by length with XTRIM MAXLEN ~, keeping at least maxLen entries", async () => {
    await using ns = await namespace("maxlen");
    const { k } = ns;
    const pipeline = redis.pipeline();
    for (let i = 0; i < 2_000; i++) pipeline.xadd(k("events:a"), "*", "n", String(i));
    for (let i = 0; i < 50; i++) pipeline.xadd(k("events:small"), "*", "n", String(i));
    await pipeline.exec();
    const { pass, registry } = setup({ name: ns.name, redis, streams: [{ match: k("events:*"), maxLen: 500, limit: 300 }] });

    const report = await pass();

    const length = await redis.xlen(k("events:a"));
    expect(length).toBeGreaterThanOrEqual(500);
    expect(length).toBeLessThan(700); // `~`: whole macro nodes (100 entries by default) go
    expect(await redis.xlen(k("events:small"))).toBe(50);
    expect(report.streams.entries).toBe(2_000 - length);
    expect(report.removedByKind).toMatchObject({ stream_entry: 2_000 - length });
    expect(await registry.getSingleMetricAsString("reclaim_redis_stream_entries_trimmed_total")).toContain(
      `reclaim_redis_stream_entries_trimmed_total{hook="${ns.name}"} ${2_000 - length}`,
    );
  });

  test("trims a stream by age from the time in its entry ids, named by its literal key", async () => {
    await using ns = await namespace("maxage");
    const { k } = ns;
    const now = Date.now();
    const pipeline = redis.pipeline();
    for (let i = 0; i < 1_000; i++) pipeline.xadd(k("log"), `${now - 3 * 86_400_000 + i}-0`, "old", String(i));
    for (let i = 0; i < 300; i++) pipeline.xadd(k("log"), `${now - 60_000 + i}-0`, "new", String(i));
    await pipeline.exec();
    const { pass } = setup({ name: ns.name, redis, streams: [{ match: k("log"), maxAge: "1d" }] });

    const report = await pass();

    const left = await redis.xrange(k("log"), "-", "+");
    const old = left.filter(([, fields]) => fields[0] === "old").length;
    expect(left.filter(([, fields]) => fields[0] === "new")).toHaveLength(300);
    expect(old).toBeLessThan(100); // at most the part of one macro node that also holds newer entries
    expect(report.streams).toMatchObject({ entries: 1_000 - old, streams: 1 });
  });
});

describe("createRedisTtlHook() indexes", () => {
  test("removes set and sorted-set members whose record is gone and keeps members whose record exists", async () => {
    await using ns = await namespace("index");
    const { k } = ns;
    for (let i = 0; i < 300; i++) {
      if (i % 3 === 0) await redis.set(k(`completion:${i}`), "1");
      await redis.zadd(k("jobs:completed"), i, String(i));
      await redis.sadd(k("jobs:failed"), String(i));
    }
    await redis.hset(k("completion:failed-live"), "x", "1");
    await redis.sadd(k("jobs:failed"), "failed-live");
    const { pass, registry } = setup({
      name: ns.name,
      redis,
      scanCount: 50,
      indexes: [
        { key: k("jobs:completed"), record: k("completion:{member}") },
        { key: k("jobs:failed"), record: k("completion:{member}") },
        { key: k("jobs:missing"), record: k("completion:{member}") },
      ],
    });

    const report = await pass();

    const live = Array.from({ length: 100 }, (_, i) => String(i * 3));
    expect((await redis.zrange(k("jobs:completed"), "0", "-1")).sort()).toEqual([...live].sort());
    expect((await redis.smembers(k("jobs:failed"))).sort()).toEqual([...live, "failed-live"].sort());
    expect(report.indexes.map((i) => [i.type, i.removed])).toEqual([["zset", 200], ["set", 200], ["none", 0]]);
    expect(await registry.getSingleMetricAsString("reclaim_redis_index_members_removed_total")).toContain(
      `reclaim_redis_index_members_removed_total{hook="${ns.name}"} 400`,
    );
  });
});

describe("createRedisTtlHook() orphans", () => {
  test("deletes an orphan only after seeing it orphaned on two passes at least minAge apart", async () => {
    await using ns = await namespace("orphan");
    const { k } = ns;
    await redis.set(k("job:1"), "parent");
    await redis.set(k("job:1:meta"), "has parent");
    await redis.set(k("job:2:meta"), "orphan");
    await redis.set(k("other:2:meta"), "no rule");
    const { pass, clock, registry } = setup({ name: ns.name, redis, orphans: [{ match: k("job:*:meta"), parent: k("job:{1}"), minAge: "1h" }] });

    const first = await pass();
    expect(first.orphans[0]).toMatchObject({ orphaned: 1, pending: 1, deleted: 0 });
    expect(await redis.exists(k("job:2:meta"))).toBe(1);
    // The first sighting is kept in Redis, with a TTL.
    expect(await redis.pttl(`reclaim:redis-ttl:${ns.name}:orphan:${k("job:2:meta")}`)).toBeGreaterThan(0);

    clock.ahead = 30 * 60_000;
    const early = await pass();
    expect(early.orphans[0]).toMatchObject({ orphaned: 1, pending: 1, deleted: 0 });
    expect(await redis.exists(k("job:2:meta"))).toBe(1);

    clock.ahead = 61 * 60_000;
    const late = await pass();
    expect(late.orphans[0]).toMatchObject({ orphaned: 1, pending: 0, deleted: 1 });
    expect(await redis.exists(k("job:2:meta"))).toBe(0);
    expect(await redis.exists(k("job:1:meta"))).toBe(1);
    expect(await redis.exists(k("other:2:meta"))).toBe(1);
    expect(await keysMatching(redis, `reclaim:redis-ttl:${ns.name}:orphan:*`)).toEqual([]);
    expect(await registry.getSingleMetricAsString("reclaim_redis_orphans_deleted_total")).toContain(`reclaim_redis_orphans_deleted_total{hook="${ns.name}"} 1`);
  });

  test("a replica's hook finishes an orphan deletion another replica started, from the first sighting kept in Redis", async () => {
    await using ns = await namespace("replica");
    const { k } = ns;
    await redis.set(k("job:9:meta"), "orphan");
    const options = { name: ns.name, redis, orphans: [{ match: k("job:*:meta"), parent: k("job:{1}"), minAge: "1h" }] };
    const a = setup(options);
    await a.pass();
    const b = setup(options);
    b.clock.ahead = 2 * 3_600_000;

    const report = await b.pass();

    expect(report.orphans[0]).toMatchObject({ deleted: 1 });
    expect(await redis.exists(k("job:9:meta"))).toBe(0);
  });

  test("a key whose parent came back and went again starts over instead of being deleted on sight", async () => {
    await using ns = await namespace("comeback");
    const { k } = ns;
    await redis.set(k("job:5:meta"), "m");
    const { pass, clock } = setup({ name: ns.name, redis, orphans: [{ match: k("job:*:meta"), parent: k("job:{1}"), minAge: "1h" }] });
    await pass(); // orphaned, first sighting
    await redis.set(k("job:5"), "parent is back");
    clock.ahead = 3_600_000;
    await pass(); // not orphaned
    clock.ahead = 2 * 3_600_000;
    await pass(); // not orphaned
    await redis.del(k("job:5"));
    clock.ahead = 3 * 3_600_000;

    const report = await pass();

    expect(report.orphans[0]).toMatchObject({ orphaned: 1, pending: 1, deleted: 0 });
    expect(await redis.exists(k("job:5:meta"))).toBe(1);
  });
});

describe("createRedisTtlHook() bounded work", () => {
  test("a keyspace larger than one pass's budget is finished over several passes, the cursor carried in Redis", async () => {
    await using ns = await namespace("budget");
    const { k } = ns;
    const pipeline = redis.pipeline();
    for (let i = 0; i < 3_000; i++) pipeline.set(k(`hb:${i}`), "1");
    await pipeline.exec();
    const options = { name: ns.name, redis, scanCount: 100, budget: { keys: 1_000 }, policies: [{ match: k("hb:*"), ttl: "5m" }] };
    const { pass, registry } = setup(options);

    const reports = [];
    for (let i = 0; i < 10; i++) {
      const report = await pass();
      reports.push(report);
      if (report.cycleComplete) break;
    }

    expect(reports.length).toBeGreaterThan(2);
    expect(reports.slice(0, -1).every((r) => r.budgetExhausted && !r.cycleComplete)).toBe(true);
    const persistent = (await Promise.all((await keysMatching(redis, k("hb:*"))).map((key) => redis.pttl(key)))).filter((t) => t === -1);
    expect(persistent).toEqual([]);
    expect(reports.reduce((n, r) => n + r.policies[0]!.changed, 0)).toBe(3_000);
    // Published at the end of the cycle: the keys found without a TTL over the whole scan.
    expect(await registry.getSingleMetricAsString("reclaim_redis_keys_without_ttl")).toContain(
      `reclaim_redis_keys_without_ttl{hook="${ns.name}",policy="${k("hb:*")}"} 3000`,
    );
    expect(await registry.getSingleMetricAsString("reclaim_redis_scan_cycles_total")).toContain(`reclaim_redis_scan_cycles_total{hook="${ns.name}"} 1`);
  });

  test("a new hook instance on the same name goes on from the scan position a previous pass left in Redis", async () => {
    await using ns = await namespace("resume");
    const { k } = ns;
    const pipeline = redis.pipeline();
    for (let i = 0; i < 2_000; i++) pipeline.set(k(`hb:${i}`), "1");
    await pipeline.exec();
    const options = { name: ns.name, redis, scanCount: 100, budget: { keys: 500 }, policies: [{ match: k("hb:*"), ttl: "5m" }] };
    const first = await setup(options).pass();
    expect(first.cycleComplete).toBe(false);

    const second = await setup(options).pass();

    expect(second.cycle).toBe(first.cycle);
    expect(second.policies[0]!.changed).toBeGreaterThan(0);
    expect(first.policies[0]!.changed + second.policies[0]!.changed).toBeLessThanOrEqual(2_000);
  });
});

describe("createRedisTtlHook() visibility", () => {
  test("each pass is one span named 'expire redis' and one info log line with the counts", async () => {
    await using ns = await namespace("span");
    const { k } = ns;
    await redis.set(k("hb:1"), "1");
    const { pass, spans, lines } = setup({ name: ns.name, redis, policies: [{ match: k("hb:*"), ttl: "5m" }] });

    await pass();

    const [span] = await spans.spans();
    expect(span?.name).toBe("expire redis");
    expect(span?.attributes).toMatchObject({ "db.system.name": "redis", "reclaim.redis.ttls_set": 1, "reclaim.redis.cycle_complete": true });
    const passLines = lines.filter((l) => l.msg === "redis pass");
    expect(passLines).toHaveLength(1);
    expect(passLines[0]).toMatchObject({ hook: ns.name, ttlsSet: 1, withoutTtl: 1, streamEntriesTrimmed: 0, indexMembersRemoved: 0, orphansDeleted: 0 });
  });

  test("every metric carries the hook label, and two instances on one registry report separately", async () => {
    await using a = await namespace("inst-a");
    await using b = await namespace("inst-b");
    await redis.set(a.k("hb:1"), "1");
    await redis.set(b.k("hb:1"), "1");
    await redis.set(b.k("hb:2"), "1");
    const registry = new Registry();
    await setup({ name: a.name, redis, policies: [{ match: a.k("hb:*"), ttl: "5m" }] }, { registry }).pass();
    await setup({ name: b.name, redis, policies: [{ match: b.k("hb:*"), ttl: "5m" }] }, { registry }).pass();

    const text = await registry.metrics();
    const families = text.split("\n").filter((line) => line.startsWith("reclaim_redis_"));
    expect(families.length).toBeGreaterThan(0);
    expect(families.every((line) => line.includes(`hook="${a.name}"`) || line.includes(`hook="${b.name}"`))).toBe(true);
    expect(text).toContain(`reclaim_redis_ttls_set_total{hook="${a.name}",policy="${a.k("hb:*")}"} 1`);
    expect(text).toContain(`reclaim_redis_ttls_set_total{hook="${b.name}",policy="${b.k("hb:*")}"} 2`);
    expect(text).toMatch(new RegExp(`reclaim_redis_used_memory_bytes\\{hook="${a.name}"\\} [1-9]`));
    expect(text).toContain(`reclaim_redis_volatile_eviction{hook="${a.name}"} 0`);
  });

  test("accepts a lazy getter for the client, called at the start of a pass", async () => {
    await using ns = await namespace("getter");
    await redis.set(ns.k("hb:1"), "1");
    let calls = 0;
    const { pass } = setup({ name: ns.name, redis: async () => (calls++, redis), policies: [{ match: ns.k("hb:*"), ttl: "5m" }] });
    expect(calls).toBe(0);

    await pass();

    expect(calls).toBe(1);
    expect(await redis.pttl(ns.k("hb:1"))).toBeGreaterThan(0);
  });
});

describe("createRedisTtlHook() options", () => {
  test("refuses bad options at creation, naming the field and the value", () => {
    expect(() => createRedisTtlHook({ redis })).toThrow(/needs at least one of policies, streams, indexes, orphans/);
    expect(() => createRedisTtlHook({ redis, policies: [{ match: "a:*", ttl: "500ms" }] })).toThrow(OptionRangeError);
    expect(() => createRedisTtlHook({ redis, policies: [{ match: "a:*", ttl: "5m", mode: "always" as "cap" }] })).toThrow(
      /'policies\[0\]\.mode' must be one of "missing", "cap": current value is "always"/,
    );
    expect(() => createRedisTtlHook({ redis, streams: [{ match: "events" }] })).toThrow(/'streams\[0\]\.maxLen' needs maxLen or maxAge/);
    expect(() => createRedisTtlHook({ redis, indexes: [{ key: "jobs", record: "job:" }] })).toThrow(/must contain \{member\}/);
    expect(() => createRedisTtlHook({ redis, orphans: [{ match: "job:*:meta", parent: "job:{2}" }] })).toThrow(/beyond the number of \*/);
    expect(() => createRedisTtlHook({ redis, policies: [{ match: "a:*", ttl: "5m" }], scanCount: "many" as unknown as number })).toThrow(OptionTypeError);
  });
});
