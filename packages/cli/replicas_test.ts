import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { databaseUrl, forkTs, freePort, redisUrl, tempDir } from "@reclaim/core/testing";
import { Redis } from "ioredis";
import pg from "pg";
import { afterAll, describe, expect, it, vi } from "vitest";
import { overlaps, type ProbeEvent } from "./_test_probe_hook.ts";

const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
afterAll(async () => {
  redis.disconnect();
  await pool.end();
});

const LOCK_TTL_MS = 2_000;

interface Replica {
  child: ChildProcess;
  port: number;
  output: () => string;
  exited: Promise<number | null>;
}

async function startReplica(configPath: string, env: Record<string, string>): Promise<Replica> {
  const port = await freePort();
  const child = forkTs(new URL("./_test_replica.ts", import.meta.url), ["start", "-c", configPath], {
    env: { ...process.env, ...env, RECLAIM_PORT: String(port) },
    stdio: ["ignore", "pipe", "pipe", "ipc"],
  });
  let output = "";
  child.stdout!.on("data", (chunk) => (output += chunk));
  child.stderr!.on("data", (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, port, output: () => output, exited };
}

async function skippedPasses(replica: Replica, hook: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${replica.port}/metrics`)).text();
  const match = new RegExp(`^reclaim_hook_runs_total\\{hook="${hook}",outcome="skipped"\\} (\\d+)$`, "m").exec(text);
  return match ? Number(match[1]) : 0;
}

const stores = [
  {
    lock: "redis",
    type: "probe-redis",
    async prepare(target: string) {
      return { read: async () => (await redis.lrange(target, 0, -1)).map((line) => JSON.parse(line) as ProbeEvent), drop: () => redis.del(target) };
    },
  },
  {
    lock: "postgres",
    type: "probe-postgres",
    async prepare(target: string) {
      await pool.query(`CREATE TABLE ${target} (id bigserial PRIMARY KEY, pid integer NOT NULL, event text NOT NULL)`);
      return {
        read: async () => (await pool.query<ProbeEvent>(`SELECT pid, event FROM ${target} ORDER BY id`)).rows,
        drop: () => pool.query(`DROP TABLE ${target}`),
      };
    },
  },
] as const;

describe("two `reclaim start` replicas with one config", () => {
  it.each(stores)(
    "never overlap passes of a hook locked in $lock; the waiter counts skipped passes and takes over within lockTtl after the leader is SIGKILLed",
    async ({ lock, type, prepare }) => {
      await using dir = await tempDir("cli-replicas-");
      const target = `reclaim_probe_${randomBytes(5).toString("hex")}`;
      const store = await prepare(target);
      const configPath = join(dir.path, "reclaim.config.json");
      // The probe's lock is not set: a hook on a shared store locks in that store by default.
      await writeFile(configPath, JSON.stringify({ hooks: { probe: { type, target, holdMs: 150, interval: "50ms", initialDelay: 0, lockTtl: LOCK_TTL_MS } } }));
      const env = { REDIS_URL: redisUrl, DATABASE_URL: databaseUrl, RECLAIM_LOG_LEVEL: "warn" };
      const replicas = [await startReplica(configPath, env), await startReplica(configPath, env)];
      try {
        const poll = { timeout: 60_000, interval: 50 };
        // Both replicas have done passes, and at least one found the lock taken.
        await vi.waitFor(async () => {
          const events = await store.read();
          const pids = new Set(events.filter((e) => e.event === "end").map((e) => e.pid));
          expect(pids.size).toBe(2);
          expect(events.filter((e) => e.event === "end").length).toBeGreaterThanOrEqual(8);
        }, poll);
        const skipped = (await skippedPasses(replicas[0]!, "probe")) + (await skippedPasses(replicas[1]!, "probe"));
        expect(skipped).toBeGreaterThan(0);

        // Kill the replica whose pass is running right now (its last event is a start).
        const running = await vi.waitFor(async () => {
          const last = (await store.read()).at(-1);
          if (last?.event !== "start") throw new Error("no pass in flight");
          return last;
        }, poll);
        const leader = replicas.find((replica) => replica.child.pid === running.pid)!;
        const survivor = replicas.find((replica) => replica !== leader)!;
        leader.child.kill("SIGKILL");
        await leader.exited;
        const killedAt = (await store.read()).length;

        // The survivor takes over: its passes start again within the lock's TTL (plus its own interval).
        await vi.waitFor(async () => {
          const after = (await store.read()).slice(killedAt);
          expect(after.some((e) => e.pid === survivor.child.pid && e.event === "end")).toBe(true);
        }, { timeout: LOCK_TTL_MS + 3_000, interval: 50 });

        const events = await store.read();
        expect(overlaps(events, new Set([running.pid]))).toEqual([]);
        survivor.child.kill("SIGTERM");
        expect(await survivor.exited).toBe(0);
      } finally {
        for (const replica of replicas) replica.child.kill("SIGKILL");
        await store.drop();
      }
    },
  );
});
