import { once } from "node:events";
import { createRunner } from "@reclaim/core";
import { forkTs } from "@reclaim/core/testing";
import { describe, expect, it } from "vitest";
import { createRedisOffloadHook } from "./offload.ts";
import { archivedRows, DAY, openStores, type Stores } from "./_test_fixture.ts";

const CHILD = new URL("./_test_pass_child.ts", import.meta.url);
const ITERATIONS = Number(process.env.CRASH_ITERATIONS ?? 20);
const NOW = Date.now();
const AHEAD = 3;

/** A child process with the hook built and its clients connected, waiting for "go". */
interface Child {
  /** Starts the pass and SIGKILLs the child `killAfterMs` later (or lets it finish when null). */
  go(killAfterMs: number | null): Promise<{ killed: boolean; ms: number }>;
}

/** Forks a child for `options`; forking the next one while the current iteration is checked saves its start-up time. */
function spawnChild(options: object): Promise<Child> {
  const child = forkTs(CHILD, [JSON.stringify(options)], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const exited = once(child, "exit");
  return once(child, "message").then(() => ({
    async go(killAfterMs) {
      const started = performance.now();
      child.send("go");
      let timer: NodeJS.Timeout | undefined;
      if (killAfterMs !== null) timer = setTimeout(() => child.kill("SIGKILL"), killAfterMs);
      const [, signal] = (await exited) as [number | null, NodeJS.Signals | null];
      clearTimeout(timer);
      return { killed: signal === "SIGKILL", ms: performance.now() - started };
    },
  }));
}

interface Seeded {
  /** What Redis held for each record, as the archive should hold it (hash → object, JSON string → value). */
  payloads: Map<string, unknown>;
  /** Keys past hotFor (to be archived), inside it, and without a time. */
  old: string[];
  hot: string[];
  undatable: string[];
  index: string;
}

/** 150 records under `prefix`: 100 past hotFor (hashes and JSON strings, in a sorted-set index), 40 hot, 10 undatable. */
async function seed(stores: Stores, prefix: string): Promise<Seeded> {
  const seeded: Seeded = { payloads: new Map(), old: [], hot: [], undatable: [], index: `${prefix}index` };
  const batch = stores.redis.pipeline();
  for (let i = 0; i < 150; i++) {
    const key = `${prefix}rec:${i}`;
    const time = i < 100 ? NOW - 8 * DAY - i * 3_600_000 : NOW - 1_000 * i;
    const body = { id: i, completed_at: i >= 140 ? "not a time" : i % 3 === 0 ? new Date(time).toISOString() : String(time), data: "x".repeat(200) };
    if (i % 2 === 0) {
      const hash = { ...body, id: String(i) };
      batch.hset(key, hash);
      seeded.payloads.set(key, hash);
    } else {
      batch.set(key, JSON.stringify(body));
      seeded.payloads.set(key, body);
    }
    batch.zadd(seeded.index, i, String(i));
    (i >= 140 ? seeded.undatable : i < 100 ? seeded.old : seeded.hot).push(key);
  }
  await batch.exec();
  return seeded;
}

/** Every record is in Redis (unchanged, with its index member) or in the archive (equal payload, member gone), or both. */
async function checkNeverNeither(stores: Stores, seeded: Seeded, where: string): Promise<void> {
  const archived = await archivedRows(stores.pool, stores.schema);
  const keys = [...seeded.payloads.keys()];
  const types = ((await keys.reduce((p, key) => p.type(key), stores.redis.pipeline()).exec()) ?? []).map(([, type]) => type as string);
  const reads = stores.redis.pipeline();
  keys.forEach((key, i) => {
    if (types[i] === "hash") reads.hgetall(key);
    else reads.get(key);
    reads.zscore(seeded.index, key.slice(key.lastIndexOf(":") + 1));
  });
  const replies = (await reads.exec()) ?? [];
  keys.forEach((key, i) => {
    const payload = seeded.payloads.get(key);
    const value = replies[2 * i]?.[1];
    const score = replies[2 * i + 1]?.[1];
    if (types[i] === "hash" || types[i] === "string") {
      expect(types[i] === "hash" ? value : JSON.parse(value as string), `${where}: ${key} in Redis`).toEqual(payload);
      expect(score, `${where}: ${key}'s index member`).not.toBeNull();
    } else {
      expect(archived.get(key)?.[0]?.payload, `${where}: ${key} is in neither Redis nor the archive`).toEqual(payload);
      expect(score, `${where}: ${key}'s member left the index with it`).toBeNull();
    }
  });
}

describe("createRedisOffloadHook() killed at random instants", () => {
  it("never leaves a record in neither store, and a clean pass leaves each old record archived exactly once and gone from Redis", async () => {
    await using stores = await openStores();
    const options = (prefix: string) => ({
      sources: [{ match: `${prefix}rec:*`, kind: "completed", timeField: "completed_at", hotFor: "7d", archiveFor: "90d", index: `${prefix}index` }],
      schema: stores.schema,
      batchSize: 10,
      partition: "day",
    });
    // An uninterrupted pass calibrates how long a pass takes (and creates the table, as a first replica would).
    const calibration = await seed(stores, `${stores.prefix}cal:`);
    const { ms: fullPassMs } = await (await spawnChild(options(`${stores.prefix}cal:`))).go(null);
    await checkNeverNeither(stores, calibration, "calibration");

    let killed = 0;
    let window = fullPassMs;
    const prefixOf = (i: number) => `${stores.prefix}i${i}:`;
    // Children start a few iterations ahead: their start-up (loading the sources) overlaps the checks.
    const children = Array.from({ length: Math.min(AHEAD, ITERATIONS) }, (_, i) => spawnChild(options(prefixOf(i))));
    for (let i = 0; i < ITERATIONS; i++) {
      const prefix = prefixOf(i);
      const seeded = await seed(stores, prefix);
      const result = await (await children[i]!).go(Math.random() * window);
      if (i + AHEAD < ITERATIONS) children.push(spawnChild(options(prefixOf(i + AHEAD))));
      if (result.killed) killed++;
      else window = Math.min(window, result.ms) * 0.9;
      await checkNeverNeither(stores, seeded, `iteration ${i} after the kill`);

      const clean = await createRunner(createRedisOffloadHook({ ...options(prefix), partition: "day", batchSize: 100, redis: stores.redis, postgres: stores.pool }), { enabled: true, now: () => NOW }).runOnce();
      expect(clean.error).toBeUndefined();
      await checkNeverNeither(stores, seeded, `iteration ${i} after the clean pass`);
      const archived = await archivedRows(stores.pool, stores.schema);
      for (const key of seeded.old) expect(archived.get(key)?.length, `${key} archived exactly once`).toBe(1);
      expect(await stores.redis.exists(...seeded.old), "old records gone from Redis").toBe(0);
      for (const key of [...seeded.hot, ...seeded.undatable]) expect(archived.has(key), `${key} not archived`).toBe(false);
      expect(await stores.redis.exists(...seeded.hot, ...seeded.undatable), "hot and undatable records still in Redis").toBe(50);
    }
    expect(killed, "passes killed before they finished").toBeGreaterThan(ITERATIONS / 4);
  }, 180_000);
});
