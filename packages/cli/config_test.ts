import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { tempDir } from "@reclaim/core/testing";
import { describe, expect, it } from "vitest";
import { reclaim } from "./_test_cli.ts";

async function check(config: unknown, env: Record<string, string> = {}) {
  await using dir = await tempDir("cli-");
  const file = join(dir.path, "reclaim.config.json");
  await writeFile(file, typeof config === "string" ? config : JSON.stringify(config));
  return reclaim(["config", "check", "-c", file], { cwd: dir.path, env });
}

describe("reclaim config check", () => {
  it("prints the effective config with defaults filled in, durations in ms and sizes in bytes", async () => {
    const { code, stdout, stderr } = await check({ hooks: { "event-log": { path: "events.jsonl", maxBytes: "1MiB" }, disk: { root: "." } } });
    expect(stderr).toBe("");
    expect(code).toBe(0);
    const { config } = JSON.parse(stdout);
    expect(config.exporter).toEqual({ enabled: true, host: "127.0.0.1", port: 9464 });
    expect(config.hooks["event-log"]).toMatchObject({ enabled: true, maxBytes: 1_048_576, keepLines: 10_000, interval: 3_600_000, initialDelay: 60_000 });
    expect(config.hooks.disk).toMatchObject({ maxAge: 604_800_000, pressure: { high: 0.7, low: 0.6, minAge: 86_400_000 } });
    expect(config.hooks["docker-images"]).toBeUndefined();
  });

  it("applies environment overrides for the common switches and redacts the token", async () => {
    const { code, stdout } = await check(
      { hooks: { "event-log": { path: "e.jsonl" } } },
      { RECLAIM_INTERVAL: "5s", RECLAIM_INITIAL_DELAY: "1s", RECLAIM_PORT: "9999", RECLAIM_HOST: "0.0.0.0", RECLAIM_TOKEN: "0123456789abcdef0123", RECLAIM_DRY_RUN: "true" },
    );
    expect(code).toBe(0);
    const { config } = JSON.parse(stdout);
    expect(config.hooks["event-log"]).toMatchObject({ interval: 5_000, initialDelay: 1_000 });
    expect(config.exporter).toEqual({ enabled: true, host: "0.0.0.0", port: 9999, token: "<redacted>" });
    expect(config.dryRun).toBe(true);
  });

  // Each bad config: exit 2, one line on stderr naming the field and the reason, nothing on stdout, no stack trace.
  it.each([
    ["an unknown top-level key", { hookz: {} }, "'hookz' is not a known option"],
    ["an unknown hook", { hooks: { "disk-sweep": {} } }, `'hooks.disk-sweep' needs a "type": 'disk-sweep' is not a hook type (known types: event-log, disk,`],
    ["an instance of an unknown type", { hooks: { "logs-db": { type: "sqlite" } } }, `'hooks.logs-db.type' is not a known hook type: current value is "sqlite" (known types: event-log,`],
    ["a bad instance name", { hooks: { Logs_DB: { type: "sqlite-compactor", path: "a.db" } } }, "'hooks.Logs_DB' is not a valid instance name: use a lower-case letter, then lower-case letters, digits or dashes"],
    ["a type key with another type", { hooks: { disk: { type: "event-log", path: "e" } } }, `'hooks.disk.type' must be one of "disk": current value is "event-log"`],
    ["an unknown option inside a hook", { hooks: { disk: { root: ".", maxAgee: "7d" } } }, "'hooks.disk.maxAgee' is not a known option"],
    ["a wrong type", { exporter: { port: "http" } }, `'exporter.port' must be a number: current value is "http"`],
    ["a port out of range", { exporter: { port: 70000 } }, "'exporter.port' must be at most 65535: current value is 70000"],
    ["a bad duration", { hooks: { disk: { root: ".", maxAge: "a week" } } }, `'hooks.disk.maxAge' must be a duration such as "90s", "30m", "7d" or milliseconds: current value is "a week"`],
    ["a bad size", { hooks: { "event-log": { path: "e", maxBytes: "big" } } }, `'hooks.event-log.maxBytes' must be a size such as "50MiB"`],
    ["a watermark above 1", { hooks: { disk: { root: ".", pressure: { high: 1.7 } } } }, "'hooks.disk.pressure.high' must be at most 1: current value is 1.7"],
    ["a missing required field", { hooks: { "docker-images": {} } }, "'hooks.docker-images.label' is required"],
    ["a log level that does not exist", { log: { level: "loud" } }, `'log.level' must be one of "trace", "debug", "info", "warn", "error", "fatal", "silent": current value is "loud"`],
    ["a short token", { exporter: { token: "abc" } }, "'exporter.token' must be at least 16 characters long"],
    ["a negative keepLines", { hooks: { "event-log": { path: "e", keepLines: -5 } } }, "'hooks.event-log.keepLines'"],
    ["enabled that is not a boolean", { hooks: { disk: { root: ".", enabled: "yes" } } }, `'hooks.disk.enabled' must be a boolean: current value is "yes"`],
    ["an SQL injection as a table name", { hooks: { "sqlite-compactor": { path: "db.sqlite", tables: [{ table: "jobs; DROP TABLE jobs", timeColumn: "t", statusColumn: "s", terminal: ["done"] }] } } }, "'hooks.sqlite-compactor.tables[0].table'"],
    ["not JSON at all", "{ hooks: ", "is not valid JSON"],
    ["a JSON array", "[]", "must contain a JSON object: found an array"],
  ])("refuses %s with exit code 2 and a one-line message naming the field", async (_kind, config, message) => {
    const { code, stdout, stderr } = await check(config);
    expect(code).toBe(2);
    expect(stdout).toBe("");
    expect(stderr).toContain(message);
    expect(stderr.trim().split("\n")).toHaveLength(1);
    expect(stderr).not.toMatch(/\n\s+at /);
  });

  it("never prints the token, even when it refuses it", async () => {
    const { code, stderr } = await check({}, { RECLAIM_TOKEN: "hunter2-secret" });
    expect(code).toBe(2);
    expect(stderr).toContain("'exporter.token' (from RECLAIM_TOKEN) must be at least 16 characters long");
    expect(stderr).not.toContain("hunter2");
  });

  it("says which environment variable set a bad value", async () => {
    const { code, stderr } = await check({}, { RECLAIM_PORT: "ninety" });
    expect(code).toBe(2);
    expect(stderr).toContain(`'exporter.port' (from RECLAIM_PORT) must be a number: current value is "ninety"`);
  });

  it("refuses a config file that does not exist", async () => {
    await using dir = await tempDir("cli-");
    const { code, stderr } = await reclaim(["config", "check", "-c", "missing.json"], { cwd: dir.path });
    expect(code).toBe(2);
    expect(stderr).toMatch(/^reclaim: cannot read config file .*missing\.json: no such file\n$/);
  });

  it("uses the embedded default without a file: event log and disk sweeps on ./.data", async () => {
    await using dir = await tempDir("cli-");
    const { code, stdout } = await reclaim(["config", "check"], { cwd: dir.path });
    expect(code).toBe(0);
    const { source, config } = JSON.parse(stdout);
    expect(source).toBe("embedded default");
    expect(config.hooks["event-log"].path).toBe(join(dir.path, ".data", "events.jsonl"));
    expect(config.hooks.disk.root).toBe(join(dir.path, ".data"));
    expect(config.exporter).toMatchObject({ host: "127.0.0.1", port: 9464 });
  });
});
