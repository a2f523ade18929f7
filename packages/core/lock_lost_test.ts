import { Redis } from "ioredis";
import pg from "pg";
import { afterAll, describe, expect, it, vi } from "vitest";
import { throwIfAborted } from "./errors.ts";
import { postgresLock, redisLock } from "./leader_lock.ts";
import { createRunner } from "./runner.ts";
import { databaseUrl, redisUrl } from "./testing.ts";

const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
const pool = new pg.Pool({ connectionString: databaseUrl, max: 4 });
afterAll(async () => {
  redis.disconnect();
  await pool.end();
});

/** A hook whose pass works until aborted, checking its signal between steps. */
function busyHook(name: string, started: () => void) {
  return {
    name,
    async run(ctx: { signal: AbortSignal }) {
      started();
      for (;;) {
        throwIfAborted(ctx.signal);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
  };
}

describe("a pass that loses its leader lock", () => {
  it("is aborted when another holder's token replaces its Redis lock", async () => {
    const name = `lost-${process.pid}-${Date.now()}`;
    let begun!: () => void;
    const started = new Promise<void>((resolve) => (begun = resolve));
    const runner = createRunner(busyHook(name, begun) as never, { lock: redisLock(redis), lockTtl: 1_500, enabled: true });
    const pass = runner.runOnce();
    await started;
    await redis.set(`reclaim:lock:${name}`, "another-replica", "PX", 10_000); // as if it had expired and been taken
    const result = await pass;
    expect(result.outcome).toBe("aborted");
    expect(result.error).toBe("The leader lock was lost: another replica may hold it now");
    expect(await redis.get(`reclaim:lock:${name}`)).toBe("another-replica"); // the new holder's lock is left alone
  });

  it("is aborted while its Redis lock is still its own when renewals go unanswered (a stalled connection)", async () => {
    const name = `stalled-${process.pid}-${Date.now()}`;
    const own = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
    try {
      await own.ping();
      let begun!: () => void;
      const started = new Promise<void>((resolve) => (begun = resolve));
      let heldAtAbort: string | null | undefined;
      const hook = {
        name,
        async run(ctx: { signal: AbortSignal }) {
          begun();
          while (!ctx.signal.aborted) await new Promise((resolve) => setTimeout(resolve, 20));
          heldAtAbort = await redis.get(`reclaim:lock:${name}`); // through another connection
          throwIfAborted(ctx.signal);
          return { removed: 0, reclaimedBytes: 0 };
        },
      };
      const runner = createRunner(hook as never, { lock: redisLock(own), lockTtl: 6_000, enabled: true });
      const pass = runner.runOnce();
      await started;
      // Replies stop being read: renewals are sent but never confirmed, as behind a busy connection.
      const socket = (own as unknown as { stream: { pause(): void; resume(): void } }).stream;
      socket.pause();
      await vi.waitFor(() => expect(heldAtAbort).not.toBeUndefined(), { timeout: 30_000, interval: 50 });
      expect(heldAtAbort).not.toBeNull(); // told before the lock could expire
      socket.resume(); // lets the release through
      const result = await pass;
      expect(result.outcome).toBe("aborted");
      expect(await redis.get(`reclaim:lock:${name}`)).toBeNull();
    } finally {
      own.disconnect();
    }
  });

  it("is aborted when the connection holding its Postgres advisory lock dies", async () => {
    const name = `lost-pg-${process.pid}-${Date.now()}`;
    let begun!: () => void;
    const started = new Promise<void>((resolve) => (begun = resolve));
    const runner = createRunner(busyHook(name, begun) as never, { lock: postgresLock(pool), enabled: true });
    const pass = runner.runOnce();
    await started;
    const { rows } = await pool.query<{ pid: number }>(
      "SELECT pid FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE l.locktype = 'advisory' AND a.pid <> pg_backend_pid() AND l.objid = (hashtext($1)::bigint & 4294967295)::oid",
      [`reclaim:lock:${name}`],
    );
    expect(rows).toHaveLength(1);
    await pool.query("SELECT pg_terminate_backend($1)", [rows[0]!.pid]);
    const result = await vi.waitFor(() => pass, { timeout: 10_000 });
    expect(result.outcome).toBe("aborted");
  });
});
