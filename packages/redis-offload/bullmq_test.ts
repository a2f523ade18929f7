import { randomBytes } from "node:crypto";
import { createRunner } from "@reclaim/core";
import { redisUrl } from "@reclaim/core/testing";
import { Queue, Worker } from "bullmq";
import { describe, expect, it, vi } from "vitest";
import { createRedisOffloadHook, type RedisOffloadReport } from "./offload.ts";
import { archivedRows, DAY, deleteByPrefix, openStores } from "./_test_fixture.ts";

const url = new URL(redisUrl);
const connection = { host: url.hostname, port: Number(url.port || 6379), maxRetriesPerRequest: null };

describe("createRedisOffloadHook() on a BullMQ queue", () => {
  it("archives old finished jobs with their completed/failed set entries while the queue keeps working", async () => {
    await using stores = await openStores();
    const bullPrefix = `bullq-${randomBytes(4).toString("hex")}`;
    const name = "renders";
    const queue = new Queue(name, { connection, prefix: bullPrefix });
    const worker = new Worker(
      name,
      async (job) => {
        if (job.data.fail) throw new Error(`job ${job.data.n} failed`);
        return { rendered: job.data.n };
      },
      { connection, prefix: bullPrefix, concurrency: 4 },
    );
    try {
      const first = await queue.addBulk(Array.from({ length: 20 }, (_, n) => ({ name: "render", data: { n, fail: n % 4 === 0 }, opts: { attempts: 1 } })));
      await vi.waitFor(async () => expect(await queue.getJobCounts("completed", "failed")).toEqual({ completed: 15, failed: 5 }), { timeout: 30_000, interval: 50 });
      const oldCompleted = first.filter((job) => !job.data.fail).map((job) => job.id!);
      const oldFailed = first.filter((job) => job.data.fail).map((job) => job.id!);

      const base = `${bullPrefix}:${name}`;
      const hook = createRedisOffloadHook({
        sources: [
          { match: `${base}:*`, kind: "completed", timeField: "finishedOn", hotFor: "7d", archiveFor: "90d", index: `${base}:completed`, onlyIndexed: true },
          { match: `${base}:*`, kind: "failed", timeField: "finishedOn", hotFor: "14d", archiveFor: "180d", index: `${base}:failed`, onlyIndexed: true },
        ],
        schema: stores.schema,
        batchSize: 5,
        redis: stores.redis,
        postgres: stores.pool,
      });
      // The pass runs 15 days from now (every job so far is past hotFor) while new jobs are added and processed.
      const later = Date.now() + 15 * DAY;
      const during = queue.addBulk(Array.from({ length: 10 }, (_, n) => ({ name: "render", data: { n: 100 + n, fail: false } })));
      const result = await createRunner(hook, { enabled: true, now: () => later }).runOnce();
      const report = (result as { report?: RedisOffloadReport }).report;
      expect(result.error).toBeUndefined();
      await during;
      await vi.waitFor(async () => expect(await queue.getJobCounts("wait", "active")).toEqual({ wait: 0, active: 0 }), { timeout: 30_000, interval: 50 });

      // The old jobs are in the archive, with their payload, and gone from the queue and its sets.
      const archived = await archivedRows(stores.pool, stores.schema);
      for (const id of oldCompleted) {
        const [row] = archived.get(`${base}:${id}`) ?? [];
        expect(row, `completed job ${id}`).toMatchObject({ kind: "completed", redis_type: "hash" });
        const payload = row!.payload as { returnvalue: string; data: string };
        expect(JSON.parse(payload.returnvalue)).toEqual({ rendered: JSON.parse(payload.data).n });
        expect(await queue.getJob(id)).toBeUndefined();
      }
      for (const id of oldFailed) {
        expect(archived.get(`${base}:${id}`)?.[0]).toMatchObject({ kind: "failed", payload: { failedReason: expect.stringMatching(/failed$/) } });
        expect(await queue.getJob(id)).toBeUndefined();
      }
      expect(report?.sources.map((s) => [s.kind, s.deleted >= (s.kind === "completed" ? 15 : 5)])).toEqual([["completed", true], ["failed", true]]);

      // The queue's counts match its sets, every set entry still has its job, and new jobs process.
      const consistent = async () => {
        const counts = await queue.getJobCounts("completed", "failed");
        const completedIds = await stores.redis.zrange(`${base}:completed`, "0", "-1");
        const failedIds = await stores.redis.zrange(`${base}:failed`, "0", "-1");
        expect(counts).toEqual({ completed: completedIds.length, failed: failedIds.length });
        for (const id of [...completedIds, ...failedIds]) expect(await stores.redis.exists(`${base}:${id}`), `job ${id} in a set has its hash`).toBe(1);
        return counts;
      };
      const before = await consistent();
      expect(before.failed).toBe(0);
      await queue.addBulk(Array.from({ length: 5 }, (_, n) => ({ name: "render", data: { n: 200 + n, fail: n === 0 } })));
      await vi.waitFor(async () => expect(await queue.getJobCounts("completed", "failed")).toEqual({ completed: (before.completed ?? 0) + 4, failed: 1 }), { timeout: 30_000, interval: 50 });
      await consistent();
      // Every job of the run is in the queue or in the archive.
      const all = await stores.redis.get(`${base}:id`);
      for (let id = 1; id <= Number(all); id++) {
        const inQueue = (await queue.getJob(String(id))) !== undefined;
        expect(inQueue || (await archivedRows(stores.pool, stores.schema)).has(`${base}:${id}`), `job ${id}`).toBe(true);
      }
    } finally {
      await worker.close();
      await queue.close();
      await deleteByPrefix(stores.redis, `${bullPrefix}:`);
    }
  });
});
