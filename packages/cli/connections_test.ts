import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import { freePort, tempDir } from "@reclaim/core/testing";
import { Redis } from "ioredis";
import { describe, expect, it, vi } from "vitest";
import { reclaim } from "./_test_cli.ts";
import { definitions } from "./hooks.ts";
import { probeDefinitions } from "./_test_probe_hook.ts";

const SECRET = "s3cret-pa55word";

/** A real redis-server on `port`, optionally with a password; stopped on dispose. */
async function redisServer(port: number, password?: string): Promise<AsyncDisposable & { process: ChildProcess }> {
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", ...(password ? ["--requirepass", password] : [])];
  const child = spawn("redis-server", args, { stdio: "ignore" });
  const client = new Redis({ port, password: password ?? "", lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on("error", () => undefined); // refused until the server listens
  await vi.waitFor(async () => {
    await client.connect().catch(() => undefined);
    expect(await client.ping()).toBe("PONG");
  }, { timeout: 10_000, interval: 50 });
  client.disconnect();
  return {
    process: child,
    async [Symbol.asyncDispose]() {
      child.kill("SIGKILL");
      await once(child, "exit");
    },
  };
}

const withProbes = [...definitions, ...probeDefinitions];

describe("connections to Redis and Postgres", () => {
  it("a Redis that is down fails the pass with one line that hides the password; the daemon keeps serving and the next pass succeeds once Redis is up", async () => {
    await using dir = await tempDir("cli-conn-");
    const redisPort = await freePort();
    const port = await freePort();
    const url = `redis://:${SECRET}@127.0.0.1:${redisPort}/0`;
    await writeFile(
      join(dir.path, "reclaim.config.json"),
      JSON.stringify({ exporter: { port }, redis: { url }, hooks: { jobs: { type: "probe-redis", target: "reclaim-test:probe:down", holdMs: 0, interval: "200ms", initialDelay: 0 } } }),
    );
    const controller = new AbortController();
    const daemon = reclaim(["start"], { cwd: dir.path, signal: controller.signal, definitions: withProbes });
    const base = `http://127.0.0.1:${port}`;
    type Status = { hooks: Array<{ lastRun: { outcome: string; error?: string } | null; totals: { failures: number } }> };
    const status = async () => (await (await fetch(`${base}/status`)).json()) as Status;
    try {
      const failed = await vi.waitFor(async () => {
        const body = await status();
        if (body.hooks[0]?.lastRun?.outcome !== "failure") throw new Error("no failed pass yet");
        return body.hooks[0].lastRun;
      }, { timeout: 30_000, interval: 50 });
      expect(failed.error).toBe(`Redis at redis://:***@127.0.0.1:${redisPort}/0 is unavailable: connect ECONNREFUSED 127.0.0.1:${redisPort}`);
      const metrics = await (await fetch(`${base}/metrics`)).text();
      expect(metrics).toMatch(/reclaim_hook_runs_total\{hook="jobs",outcome="failure"\} [1-9]/);

      // The store comes up without a password change: the daemon was never restarted, the next pass succeeds.
      await using _server = await redisServer(redisPort, SECRET);
      await vi.waitFor(async () => expect((await status()).hooks[0]?.lastRun?.outcome).toBe("success"), { timeout: 30_000, interval: 50 });
      expect(JSON.stringify(await status())).not.toContain(SECRET);
    } finally {
      controller.abort();
    }
    const { code, logs, stderr } = await daemon;
    expect(code).toBe(0);
    expect(logs).toContain('"msg":"pass failed"');
    expect(logs + stderr).not.toContain(SECRET);
  });

  it("a Redis that refuses the credentials fails the pass with its one-line answer, never the password", async () => {
    await using dir = await tempDir("cli-conn-");
    const redisPort = await freePort();
    await using _server = await redisServer(redisPort, "the-right-one");
    const url = `redis://default:${SECRET}@127.0.0.1:${redisPort}`;
    await writeFile(join(dir.path, "reclaim.config.json"), JSON.stringify({ hooks: { jobs: { type: "probe-redis", target: "reclaim-test:probe:auth" } } }));
    const { code, stdout, logs } = await reclaim(["run", "jobs", "-c", "reclaim.config.json"], { cwd: dir.path, env: { REDIS_URL: url }, definitions: withProbes });
    expect(code).toBe(1);
    const report = JSON.parse(stdout) as { outcome: string; error: string };
    expect(report.outcome).toBe("failure");
    expect(report.error).toMatch(new RegExp(`^Redis at redis://default:\\*\\*\\*@127\\.0\\.0\\.1:${redisPort} is unavailable: WRONGPASS`));
    expect(report.error).not.toContain("\n");
    expect(stdout + logs).not.toContain(SECRET);
  });

  it("reclaim config check never connects and prints no password", async () => {
    await using dir = await tempDir("cli-conn-");
    let connections = 0;
    const listener = createServer((socket) => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
    const { port } = listener.address() as { port: number };
    try {
      await writeFile(
        join(dir.path, "reclaim.config.json"),
        JSON.stringify({
          redis: { url: `redis://app:${SECRET}@127.0.0.1:${port}` },
          postgres: { url: `postgres://app:${SECRET}@127.0.0.1:${port}/db` },
          hooks: { "event-log": { path: "e.jsonl", lock: "postgres" }, disk: { root: ".", lock: "redis" } },
        }),
      );
      const { code, stdout } = await reclaim(["config", "check"], { cwd: dir.path });
      expect(code).toBe(0);
      expect(stdout).not.toContain(SECRET);
      const { config, instances } = JSON.parse(stdout);
      expect(config.redis.url).toBe(`redis://app:***@127.0.0.1:${port}`);
      expect(instances).toEqual([
        { name: "event-log", type: "event-log", enabled: true, lock: "postgres", postgres: { url: `postgres://app:***@127.0.0.1:${port}/db` } },
        { name: "disk", type: "disk", enabled: true, lock: "redis", redis: { url: `redis://app:***@127.0.0.1:${port}`, cluster: false } },
      ]);
      expect(connections).toBe(0);
    } finally {
      listener.close();
    }
  });

  it.each([
    ["a lock in a store with no URL", { hooks: { disk: { root: ".", lock: "redis" } } }, {}, `'hooks.disk' locks in Redis but has no URL for it: set "redis": { "url": ... } in the block or at the top level, or REDIS_URL`],
    ["a REDIS_URL that is not a Redis URL", { hooks: { disk: { root: ".", lock: "redis" } } }, { REDIS_URL: `http://app:${SECRET}@cache` }, `'REDIS_URL' must be a redis:// or rediss:// URL: current value is "http://app:***@cache/"`],
    ["a bad store URL in the file", { postgres: { url: `mysql://app:${SECRET}@db/x` } }, {}, `'postgres.url' must be a URL such as postgres://user:password@host:5432/db: current value is "mysql://app:***@db/x"`],
    ["an unknown lock kind", { hooks: { disk: { root: ".", lock: "etcd" } } }, {}, `'hooks.disk.lock' must be one of "none", "redis", "postgres": current value is "etcd"`],
  ])("refuses %s with exit code 2, naming the field and hiding the password", async (_name, config, env, message) => {
    await using dir = await tempDir("cli-conn-");
    await writeFile(join(dir.path, "reclaim.config.json"), JSON.stringify(config));
    const { code, stderr } = await reclaim(["start"], { cwd: dir.path, env: env as Record<string, string> });
    expect(code).toBe(2);
    expect(stderr).toContain(message);
    expect(stderr).not.toContain(SECRET);
    expect(stderr.trim().split("\n")).toHaveLength(1);
  });
});
