import { spawn } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, redisUrl, tempDir } from "@reclaim/core/testing";
import { Redis } from "ioredis";
import { Ajv2020 } from "ajv/dist/2020.js";
import { describe, expect, it, vi } from "vitest";
import { reclaim } from "./_test_cli.ts";

describe("reclaim audit", () => {
  it("prints a table of what fills a folder, or JSON with --json", async () => {
    await using dir = await tempDir("cli-audit-");
    await mkdir(join(dir.path, "images"));
    await writeFile(join(dir.path, "images", "big.png"), Buffer.alloc(3 * 1024 * 1024));
    await writeFile(join(dir.path, "events.jsonl"), "x".repeat(1024));
    const table = await reclaim(["audit", dir.path, "--top", "1"], { cwd: dir.path });
    expect(table.code).toBe(0);
    expect(table.stdout).toContain("3.0 MiB");
    expect(table.stdout).toContain("images");
    const json = await reclaim(["audit", ".", "--json"], { cwd: dir.path });
    expect(json.code).toBe(0);
    const result = JSON.parse(json.stdout);
    expect(result).toMatchObject({ files: 2, totalBytes: 3 * 1024 * 1024 + 1024 });
    expect(result.largest[0]).toMatchObject({ path: "images/big.png", bytes: 3 * 1024 * 1024 });
  });

  it("refuses a folder that does not exist, or a bad --top, with exit code 2", async () => {
    await using dir = await tempDir("cli-audit-");
    const missing = await reclaim(["audit", "nope"], { cwd: dir.path });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe("reclaim: cannot audit nope: no such folder\n");
    expect((await reclaim(["audit", ".", "--top", "0"], { cwd: dir.path })).code).toBe(2);
  });
});

describe("reclaim docker check-labels", () => {
  it("exits 0 when every Dockerfile declares the label and 1 naming the ones that do not", async () => {
    await using dir = await tempDir("cli-labels-");
    await writeFile(join(dir.path, "good.Dockerfile"), 'FROM scratch\nLABEL reclaim.managed="true" other=x\n');
    await writeFile(join(dir.path, "bad.Dockerfile"), "FROM scratch\nLABEL other=x\n");
    const good = await reclaim(["docker", "check-labels", "good.Dockerfile"], { cwd: dir.path });
    expect(good.code).toBe(0);
    const bad = await reclaim(["docker", "check-labels", "good.Dockerfile", "bad.Dockerfile"], { cwd: dir.path });
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain("bad.Dockerfile");
    expect(bad.stdout).toMatch(/1 of 2 Dockerfile\(s\) do not declare reclaim\.managed=true/);
    const custom = await reclaim(["docker", "check-labels", "bad.Dockerfile"], { cwd: dir.path, env: { RECLAIM_DOCKER_LABEL: "other=x" } });
    expect(custom.code).toBe(0);
  });

  it("passes on the project's own Dockerfile", async () => {
    const root = new URL("../../", import.meta.url).pathname;
    const { code, stdout } = await reclaim(["docker", "check-labels", "docker/Dockerfile"], { cwd: root });
    expect(stdout).toContain("declares reclaim.managed=true");
    expect(code).toBe(0);
  });
});

const EXAMPLES = new URL("../../examples/", import.meta.url).pathname;

describe("reclaim hooks", () => {
  it("lists every hook type with its summary and the instances the config defines", async () => {
    const { code, stdout } = await reclaim(["hooks", "-c", join(EXAMPLES, "reclaim.config.json"), "--json"], { cwd: EXAMPLES });
    expect(code).toBe(0);
    const { hooks } = JSON.parse(stdout) as { hooks: Array<{ type: string; summary: string; instances: Array<{ name: string; lock: string }> }> };
    expect(hooks.map((hook) => hook.type)).toEqual(["event-log", "disk", "write-through", "docker-images", "sqlite-compactor", "redis-ttl", "redis-offload", "cdn-urls", "worktrees"]);
    expect(hooks.every((hook) => hook.summary.length > 10)).toBe(true);
    expect(hooks.find((hook) => hook.type === "sqlite-compactor")?.instances.map((i) => i.name)).toEqual(["jobs-db", "logs-db"]);
    expect(hooks.find((hook) => hook.type === "disk")?.instances).toEqual([{ name: "disk", enabled: true, lock: "redis" }]);
    const table = await reclaim(["hooks", "-c", join(EXAMPLES, "reclaim.config.json")], { cwd: EXAMPLES });
    expect(table.stdout).toMatch(/^sqlite-compactor\s+retention .*\n\s+instances: jobs-db, logs-db$/m);
    expect(table.stdout).toMatch(/^write-through\s+.*\n\s+instances: not configured$/m);
  });
});

describe("reclaim config schema", () => {
  async function schema() {
    const { code, stdout } = await reclaim(["config", "schema"], { cwd: EXAMPLES });
    expect(code).toBe(0);
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    return { text: stdout, validate: ajv.compile(JSON.parse(stdout) as object) };
  }

  it("accepts the example config (type keys, named instances, stores, locks) and refuses what the command refuses", async () => {
    const { validate } = await schema();
    const example = JSON.parse(await readFile(join(EXAMPLES, "reclaim.config.json"), "utf8")) as object;
    expect(validate(example), JSON.stringify(validate.errors)).toBe(true);
    for (const bad of [
      { hooks: { Logs_DB: { type: "sqlite-compactor", path: "a.db" } } },
      { hooks: { "logs-db": { type: "sqlite", path: "a.db" } } },
      { hooks: { "logs-db": { path: "a.db" } } },
      { hooks: { disk: { root: ".", lock: "etcd" } } },
      { hooks: { disk: { root: ".", maxAgee: "7d" } } },
    ]) {
      expect(validate(bad), JSON.stringify(bad)).toBe(false);
    }
  });

  it("is what examples/reclaim.schema.json holds (regenerate: reclaim config schema > examples/reclaim.schema.json)", async () => {
    const { text } = await schema();
    expect(await readFile(join(EXAMPLES, "reclaim.schema.json"), "utf8")).toBe(text);
  });
});

describe("reclaim status", () => {
  it("prints a running daemon's hooks as a table, or its /status with --json; exit 1 when it cannot be reached", async () => {
    await using dir = await tempDir("cli-status-");
    await writeFile(join(dir.path, "audit.jsonl"), '{"n":1}\n');
    const port = await freePort();
    await writeFile(
      join(dir.path, "reclaim.config.json"),
      JSON.stringify({ exporter: { port }, hooks: { "audit-log": { type: "event-log", path: "audit.jsonl", initialDelay: 0 } } }),
    );
    const controller = new AbortController();
    const daemon = reclaim(["start", "--dry-run", "--log-level", "debug"], { cwd: dir.path, signal: controller.signal });
    const url = `http://127.0.0.1:${port}`;
    try {
      const table = await vi.waitFor(
        async () => {
          const result = await reclaim(["status", "--url", url], { cwd: dir.path });
          expect(result.code).toBe(0);
          expect(result.stdout).toMatch(/^audit-log\s+event-log\s+scheduled \(dry run\)\s+success\s+\d+s ago/m);
          return result.stdout;
        },
        { timeout: 30_000, interval: 100 },
      );
      expect(table.split("\n")[0]).toMatch(/^HOOK\s+TYPE\s+STATE\s+LAST\s+WHEN\s+TOOK\s+NEXT\s+REMOVED\s+RECLAIMED/);
      const json = await reclaim(["status", "--url", url, "--json"], { cwd: dir.path });
      expect(JSON.parse(json.stdout).hooks[0]).toMatchObject({ hook: "audit-log", type: "event-log", dryRun: true });
    } finally {
      controller.abort();
    }
    const { code, logs } = await daemon;
    expect(code).toBe(0);
    expect(logs).toContain('"level":20'); // --log-level debug
    const down = await reclaim(["status", "--url", url], { cwd: dir.path });
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(new RegExp(`^reclaim: cannot read ${url}/status: \\S`));
  });
});

describe("logs", () => {
  const BIN = fileURLToPath(new URL("./dist/main.js", import.meta.url));

  it("are JSON lines when they do not go to a terminal, and pino-pretty's readable lines when they do", async () => {
    await using dir = await tempDir("cli-logs-");
    await writeFile(join(dir.path, "reclaim.config.json"), JSON.stringify({ hooks: { "event-log": { path: "events.jsonl" } } }));
    const env = { ...process.env, NO_COLOR: "1", RECLAIM_PORT: "0" };
    // Starts the daemon, waits for its first log line, stops it, and returns what it printed.
    const firstLines = async (argv: string[]) => {
      const child = spawn(argv[0]!, argv.slice(1), { cwd: dir.path, env, stdio: ["ignore", "pipe", "pipe"] });
      let output = "";
      child.stdout.on("data", (chunk) => (output += chunk));
      const exited = new Promise((resolve) => child.on("exit", resolve));
      await vi.waitFor(() => expect(output).toContain("reclaim started"), { timeout: 30_000, interval: 50 });
      child.kill("SIGTERM");
      await exited;
      return output;
    };
    expect(await firstLines([process.execPath, BIN, "start"])).toContain('"msg":"reclaim started"');
    // `script` runs the same command on a pseudo-terminal (and ends it when it gets SIGTERM).
    const onTerminal = await firstLines(["script", "-qec", `exec ${process.execPath} ${BIN} start`, "/dev/null"]);
    expect(onTerminal).toMatch(/\d\d:\d\d:\d\d\.\d{3}\] INFO.*reclaim started/);
    expect(onTerminal).not.toContain('"msg":"reclaim started"');
  });
});

describe("reclaim redis audit", () => {
  it("prints what fills the Redis by key pattern, from --url or from the config's redis-ttl instance, or JSON with --json", async () => {
    await using dir = await tempDir("cli-redis-audit-");
    const redis = new Redis(redisUrl);
    const prefix = `cli-audit-${process.pid}-${Date.now()}`;
    try {
      for (let i = 0; i < 20; i++) await redis.set(`${prefix}:session:${i}`, "x".repeat(50));
      const table = await reclaim(["redis", "audit", "--url", redisUrl, "--match", `${prefix}:*`, "--sample-rate", "1"], { cwd: dir.path });
      expect(table.stderr).toBe("");
      expect(table.code).toBe(0);
      expect(table.stdout).toContain("at a rate of 1 (every key)");
      expect(table.stdout).toMatch(/\*:session:\*\s+20\s/);

      await writeFile(join(dir.path, "reclaim.config.json"), JSON.stringify({ redis: { url: redisUrl }, hooks: { "jobs-redis": { type: "redis-ttl", policies: [{ match: "none:*", ttl: "5m" }] } } }));
      const json = await reclaim(["redis", "audit", "--match", `${prefix}:*`, "--json", "--instance", "jobs-redis"], { cwd: dir.path });
      expect(json.code).toBe(0);
      expect(JSON.parse(json.stdout)).toMatchObject({ keys: 20, patterns: [{ pattern: "*:session:*", keys: 20 }] });
    } finally {
      for (let i = 0; i < 20; i++) await redis.unlink(`${prefix}:session:${i}`);
      redis.disconnect();
    }
  });

  it("refuses a bad --sample-rate, an unknown instance, or no Redis at all, with exit code 2", async () => {
    await using dir = await tempDir("cli-redis-audit-");
    const rate = await reclaim(["redis", "audit", "--url", redisUrl, "--sample-rate", "2"], { cwd: dir.path });
    expect(rate.code).toBe(2);
    expect(rate.stderr).toContain("--sample-rate must be a number in (0, 1]");
    const none = await reclaim(["redis", "audit"], { cwd: dir.path });
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("no Redis to audit");
    const unknown = await reclaim(["redis", "audit", "--instance", "nope"], { cwd: dir.path });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("no redis-ttl instance 'nope'");
  });
});
