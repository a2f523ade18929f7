import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { databaseUrl, freePort, tempDir } from "@reclaim/core/testing";
import { Redis } from "ioredis";
import pg from "pg";
import { describe, expect, it, vi } from "vitest";
import { parse } from "yaml";
import { reclaim } from "./_test_cli.ts";

const DOCKER_DIR = fileURLToPath(new URL("../../docker/", import.meta.url));

interface Service {
  image: string;
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
}
const compose = parse(readFileSync(join(DOCKER_DIR, "compose.yml"), "utf8")) as { services: Record<string, Service>; volumes: Record<string, unknown> };
const { reclaim: daemon, redis, postgres } = compose.services as Record<"reclaim" | "redis" | "postgres", Service>;
/** The config file the reclaim service mounts at the path its command names (`start -c PATH`). */
const configMount = daemon.volumes!.map((volume) => volume.split(":")).find(([, target]) => target === daemon.command![daemon.command!.indexOf("-c") + 1])!;
const configFile = join(DOCKER_DIR, configMount[0]!);

describe("docker/compose.yml", () => {
  it("runs Redis 7 and Postgres 15 with healthchecks, and starts reclaim once both are healthy, pointed at them", () => {
    expect(redis.image).toBe("redis:7");
    expect(postgres.image).toBe("postgres:15");
    expect(redis.healthcheck?.test).toEqual(["CMD", "redis-cli", "ping"]);
    expect(postgres.healthcheck?.test.join(" ")).toContain("pg_isready");
    expect(daemon.depends_on).toEqual({ redis: { condition: "service_healthy" }, postgres: { condition: "service_healthy" } });

    const redisUrl = new URL(daemon.environment!.REDIS_URL!);
    expect([redisUrl.protocol, redisUrl.hostname, redisUrl.port]).toEqual(["redis:", "redis", "6379"]);
    const pgUrl = new URL(daemon.environment!.DATABASE_URL!);
    expect([pgUrl.protocol, pgUrl.hostname, pgUrl.port]).toEqual(["postgres:", "postgres", "5432"]);
    expect([pgUrl.username, pgUrl.password, pgUrl.pathname]).toEqual([postgres.environment!.POSTGRES_USER, postgres.environment!.POSTGRES_PASSWORD, `/${postgres.environment!.POSTGRES_DB}`]);
  });

  it("mounts only files that exist in docker/, and declares every named volume it uses", () => {
    for (const [name, service] of Object.entries(compose.services)) {
      for (const [source] of (service.volumes ?? []).map((volume) => volume.split(":"))) {
        if (source!.startsWith("./")) expect(existsSync(join(DOCKER_DIR, source!)), `${name}: ${source}`).toBe(true);
        else if (!source!.startsWith("/")) expect(Object.keys(compose.volumes), `${name}: ${source}`).toContain(source);
      }
    }
  });

  it("gives reclaim a config that `reclaim config check` accepts with the service's environment, with the Redis and Postgres hooks in it", async () => {
    await using dir = await tempDir("compose-");
    const { code, stdout, stderr } = await reclaim(["config", "check", "-c", configFile], { cwd: dir.path, env: daemon.environment! });
    expect(stderr).toBe("");
    expect(code).toBe(0);
    const { config, instances } = JSON.parse(stdout) as { config: { exporter: { host: string } }; instances: Array<{ name: string; redis?: { url: string }; postgres?: { url: string } }> };
    expect(config.exporter.host).toBe("0.0.0.0");
    const byName = Object.fromEntries(instances.map((instance) => [instance.name, instance]));
    expect(byName["redis-ttl"]?.redis?.url).toBe("redis://redis:6379/0");
    expect(byName["redis-offload"]?.postgres?.url).toBe("postgres://reclaim:***@postgres:5432/reclaim");
    expect(byName["cdn-urls"]?.postgres?.url).toBe("postgres://reclaim:***@postgres:5432/reclaim");
  });

  it("its Redis command, Postgres init script and reclaim config work on a real Redis 7 and Postgres 15: each store hook's pass succeeds", async () => {
    await using dir = await tempDir("compose-");
    // Redis as the redis service runs it (its command), on a private port.
    const port = await freePort();
    const server = spawn(redis.command![0]!, [...redis.command!.slice(1), "--port", String(port), "--bind", "127.0.0.1", "--dir", dir.path], { stdio: "ignore" });
    const client = new Redis({ port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on("error", () => undefined);
    // A database of its own, set up by the postgres service's init script.
    const name = `reclaim_compose_${process.pid}_${Date.now()}`;
    const admin = new pg.Client({ connectionString: databaseUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    const url = new URL(databaseUrl);
    url.pathname = `/${name}`;
    const db = new pg.Client({ connectionString: url.href });
    try {
      await vi.waitFor(async () => {
        await client.connect().catch(() => undefined);
        expect(await client.ping()).toBe("PONG");
      }, { timeout: 10_000, interval: 50 });
      expect(await client.config("GET", "maxmemory")).toEqual(["maxmemory", String(256 * 1024 * 1024)]);
      await db.connect();
      await db.query(readFileSync(join(DOCKER_DIR, "postgres/init.sql"), "utf8"));

      const old = new Date(Date.now() - 30 * 86_400_000).toISOString();
      await client.set("worker:heartbeat:w1", "alive");
      await client.hset("worker:completion:j1", { completed_at: old, status: "done" });
      await db.query("INSERT INTO flat_file (url) VALUES ($1)", ["https://cdn.example.ai/images/a.png"]);

      const env = { ...daemon.environment!, REDIS_URL: `redis://127.0.0.1:${port}/0`, DATABASE_URL: url.href, RECLAIM_DATA_DIR: dir.path };
      for (const hook of ["redis-ttl", "redis-offload", "cdn-urls"]) {
        const run = await reclaim(["run", hook, "-c", configFile], { cwd: dir.path, env });
        expect(JSON.parse(run.stdout), `${hook}: ${run.stderr}`).toMatchObject({ hook, outcome: "success" });
        expect(run.code).toBe(0);
      }
      expect(await client.pttl("worker:heartbeat:w1")).toBeGreaterThan(0);
      expect(await client.exists("worker:completion:j1")).toBe(0);
      expect((await db.query("SELECT key FROM reclaim_archive")).rows).toEqual([{ key: "worker:completion:j1" }]);
      expect((await db.query("SELECT url FROM flat_file")).rows[0].url).not.toContain("cdn.example.ai");
    } finally {
      client.disconnect();
      await db.end().catch(() => undefined);
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
      server.kill("SIGKILL");
      await once(server, "exit");
    }
  });
});
