// Test helpers: real Redis connections (the shared one, the three-master cluster, or a private redis-server on a
// free port for tests that restart or reconfigure it), a unique key prefix per test, and a runner around a hook.
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { createLogger, createRunner, type Runner } from "@reclaim/core";
import { freePort, memorySpans, redisClusterNodes, redisUrl } from "@reclaim/core/testing";
import { Cluster, Redis } from "ioredis";
import { Registry } from "prom-client";
import { vi } from "vitest";
import type { RedisClient } from "./_redis.ts";
import { createRedisTtlHook, type RedisTtlHook, type RedisTtlReport } from "./redis_ttl_hook.ts";
import type { RedisTtlHookOptions } from "./options.ts";

/** A unique key prefix (and hook instance name) for one test, so tests sharing a Redis never see each other's keys. */
export function uniqueName(label = "t"): string {
  return `rt-${label}-${process.pid}-${randomBytes(4).toString("hex")}`;
}

export function connect(url: string = redisUrl): Redis {
  // Connection errors surface as failed commands; the "error" events they also emit are expected here.
  return new Redis(url, { maxRetriesPerRequest: 1, retryStrategy: () => 100 }).on("error", () => undefined);
}

export function connectCluster(): Cluster {
  return new Cluster(
    redisClusterNodes.map((node) => {
      const [host, port] = node.split(":");
      return { host: host!, port: Number(port) };
    }),
    { redisOptions: { maxRetriesPerRequest: 1 } },
  ).on("error", () => undefined);
}

/** Every key matching `glob` on every master (SCAN), for assertions and cleanup. */
export async function keysMatching(client: RedisClient, glob: string): Promise<string[]> {
  const nodes = client.isCluster ? (client as Cluster).nodes("master") : [client as Redis];
  const keys: string[] = [];
  for (const node of nodes) {
    let cursor = "0";
    do {
      const [next, batch] = await node.scan(cursor, "MATCH", glob, "COUNT", 1000);
      keys.push(...batch);
      cursor = next;
    } while (cursor !== "0");
  }
  return keys;
}

/** Removes a test's keys and the hook instance's own keys (never FLUSHDB: other tests share this Redis). */
export async function cleanup(client: RedisClient, name: string): Promise<void> {
  for (const glob of [`${name}:*`, `{${name}}*`, `reclaim:redis-ttl:${name}:*`]) {
    for (const key of await keysMatching(client, glob)) await client.unlink(key);
  }
}

export interface Setup {
  hook: RedisTtlHook;
  runner: Runner<RedisTtlReport>;
  registry: Registry;
  lines: Array<Record<string, unknown>>;
  spans: ReturnType<typeof memorySpans>;
  /** Moves the runner's clock (ms added to Date.now()). */
  clock: { ahead: number };
  pass(): Promise<RedisTtlReport>;
}

/** A runner around a fresh hook, with captured log lines, spans and an adjustable clock. */
export function setup(options: RedisTtlHookOptions, extra: { dryRun?: boolean; registry?: Registry } = {}): Setup {
  const registry = extra.registry ?? new Registry();
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger({
    level: "debug",
    destination: new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split("\n")) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    }),
  });
  const clock = { ahead: 0 };
  const spans = memorySpans();
  const hook = createRedisTtlHook({ pause: 0, registry, ...options });
  const runner = createRunner(hook, { registry, logger, tracer: spans.tracer, enabled: true, dryRun: extra.dryRun ?? false, now: () => Date.now() + clock.ahead });
  return {
    hook,
    runner,
    registry,
    lines,
    spans,
    clock,
    async pass() {
      const result = await runner.runOnce();
      if (result.outcome !== "success") throw new Error(`pass ended ${result.outcome}: ${result.error ?? result.reason}`);
      return result.report!;
    },
  };
}

/** A private redis-server on a free port (for tests that restart or reconfigure Redis), removed on dispose. */
export interface OwnRedis extends AsyncDisposable {
  readonly url: string;
  readonly port: number;
  start(): Promise<void>;
  kill(): Promise<void>;
}

export async function ownRedis(args: readonly string[] = []): Promise<OwnRedis> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), "reclaim-redis-"));
  let child: ChildProcess | undefined;
  const own: OwnRedis = {
    url: `redis://127.0.0.1:${port}`,
    port,
    async start() {
      child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--dir", dir, ...args], { stdio: "ignore" });
      const probe = new Redis(port, "127.0.0.1", { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null }).on("error", () => undefined);
      await vi.waitFor(async () => {
        await probe.connect().catch(() => undefined);
        if ((await probe.ping()) !== "PONG") throw new Error("not yet");
      }, { timeout: 10_000, interval: 50 });
      probe.disconnect();
    },
    async kill() {
      const proc = child;
      if (!proc || proc.exitCode !== null) return;
      await new Promise((resolve) => {
        proc.once("exit", resolve);
        proc.kill("SIGKILL");
      });
    },
    async [Symbol.asyncDispose]() {
      await own.kill();
      await rm(dir, { recursive: true, force: true });
    },
  };
  await own.start();
  return own;
}
