import { Redis } from "ioredis";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { postgresLock, redisLock } from "./leader_lock.ts";
import { Writable } from "node:stream";
import { createLogger } from "./logger.ts";
import { createRunner } from "./runner.ts";
import { databaseUrl, redisUrl } from "./testing.ts";
import { deferred } from "./_test_support.ts";

const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
const pool = new pg.Pool({ connectionString: databaseUrl, max: 4 });
afterAll(async () => {
  redis.disconnect();
  await pool.end();
});

describe("redisLock()", () => {
  const key = `reclaim-test:lock:${process.pid}:${Date.now()}`;

  it("lets one holder in at a time and releases only its own token", async () => {
    const lock = redisLock(redis);
    const release = await lock.acquire(key, 10_000);
    expect(release).not.toBeNull();
    expect(await lock.acquire(key, 10_000)).toBeNull();
    await release!();
    const again = await lock.acquire(key, 10_000);
    expect(again).not.toBeNull();
    await again!();
  });

  it("does not delete a lock that expired and was taken by another holder", async () => {
    const lock = redisLock(redis);
    const first = await lock.acquire(`${key}:expiry`, 1_000);
    await redis.del(`${key}:expiry`); // what expiry does, at a known instant
    const second = await lock.acquire(`${key}:expiry`, 10_000);
    expect(second).not.toBeNull();
    await first!(); // must not release the second holder's lock
    expect(await redis.get(`${key}:expiry`)).not.toBeNull();
    await second!();
    expect(await redis.get(`${key}:expiry`)).toBeNull();
  });

  it("makes two replicas' runners take turns: the second pass is skipped while the first holds the lock", async () => {
    const gate = deferred();
    const inside = deferred();
    let passes = 0;
    const hook = {
      name: `locked-${process.pid}`,
      run: async () => {
        passes++;
        inside.resolve(); // the runner takes the lock before it calls run()
        await gate.promise;
        return { removed: 0, reclaimedBytes: 0 };
      },
    };
    const a = createRunner(hook, { lock: redisLock(redis), enabled: true });
    const b = createRunner(hook, { lock: redisLock(redis), enabled: true });
    const first = a.runOnce();
    await inside.promise;
    const second = await b.runOnce();
    expect(second).toMatchObject({ outcome: "skipped", reason: "leader lock held elsewhere" });
    gate.resolve();
    expect((await first).outcome).toBe("success");
    expect(passes).toBe(1);
    expect((await b.runOnce()).outcome).toBe("success");
  });
});

describe("the runner's lock lines", () => {
  it("brackets each pass that held the lock with 'leader lock taken' and 'releasing the leader lock' (debug), and a skipped pass with neither", async () => {
    const lines: Array<{ msg: string; hook: string }> = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split("\n")) if (line) lines.push(JSON.parse(line) as { msg: string; hook: string });
        done();
      },
    });
    const logger = createLogger({ level: "debug", destination });
    const gate = deferred();
    const inside = deferred();
    const name = `lines-${process.pid}-${Date.now()}`;
    const hook = {
      name,
      run: async () => {
        lines.push({ msg: "run", hook: name });
        inside.resolve();
        await gate.promise;
        return { removed: 0, reclaimedBytes: 0 };
      },
    };
    const a = createRunner(hook, { lock: redisLock(redis), enabled: true, logger });
    const b = createRunner(hook, { lock: redisLock(redis), enabled: true, logger });
    const first = a.runOnce();
    await inside.promise;
    expect((await b.runOnce()).outcome).toBe("skipped");
    gate.resolve();
    await first;
    expect(lines.filter((l) => l.hook === name).map((l) => l.msg)).toEqual([
      "leader lock taken",
      "run",
      "another replica holds the leader lock; pass skipped",
      "releasing the leader lock",
      "pass finished; nothing to do",
    ]);
  });
});

describe("postgresLock()", () => {
  it("holds a session advisory lock for the pass and frees it on release", async () => {
    const lock = postgresLock(pool);
    const key = `reclaim-test:${process.pid}`;
    const release = await lock.acquire(key, 10_000);
    expect(release).not.toBeNull();
    expect(await lock.acquire(key, 10_000)).toBeNull();
    await release!();
    const again = await lock.acquire(key, 10_000);
    expect(again).not.toBeNull();
    await again!();
  });
});
