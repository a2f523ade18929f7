import { execFileSync, spawnSync } from "node:child_process";
import { statSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { freePort, tempDir } from "@reclaim/core/testing";
import { describe, expect, it, vi } from "vitest";
import { reclaim } from "./_test_cli.ts";

const hasSqlite3 = spawnSync("sqlite3", ["-version"], { stdio: "ignore" }).status === 0;

/** A database with `done` finished jobs and `running` running ones, all ten days old. */
function jobsDatabase(path: string, done: number, running: number): void {
  execFileSync("sqlite3", [
    path,
    `PRAGMA journal_mode=WAL;
     CREATE TABLE jobs (id INTEGER PRIMARY KEY, status TEXT NOT NULL, created_at INTEGER, spec_json TEXT);
     WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${done + running})
     INSERT INTO jobs SELECT i, CASE WHEN i <= ${done} THEN 'done' ELSE 'running' END, strftime('%s','now') - 864000, printf('%.*c', 500, 'x') FROM n;`,
  ]);
}

/** `name{labels} value` lines of the Prometheus text format, parsed. */
function series(text: string): Array<{ name: string; labels: Record<string, string>; value: number }> {
  return text
    .split("\n")
    .filter((line) => line && !line.startsWith("#"))
    .map((line) => {
      const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)!;
      const labels = Object.fromEntries([...(match[2] ?? "").matchAll(/([a-z_]+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1]!, m[2]!]));
      return { name: match[1]!, labels, value: Number(match[3]) };
    });
}

describe("reclaim start with named instances", () => {
  it.skipIf(!hasSqlite3)("runs two sqlite-compactor and two event-log instances side by side and reports each one on /metrics, /status and /rpc", async () => {
    await using dir = await tempDir("cli-instances-");
    jobsDatabase(join(dir.path, "jobs.db"), 150, 50);
    jobsDatabase(join(dir.path, "logs.db"), 30, 10);
    await writeFile(join(dir.path, "app.jsonl"), Array.from({ length: 500 }, (_, i) => `{"n":${i},"pad":"${"x".repeat(40)}"}\n`).join(""));
    await writeFile(join(dir.path, "audit.jsonl"), '{"n":1}\n{"n":2}\n');
    const port = await freePort();
    const table = (maxAge: string) => [{ table: "jobs", terminal: ["done"], maxAge, maxRows: null }];
    await writeFile(
      join(dir.path, "reclaim.config.json"),
      JSON.stringify({
        exporter: { port },
        hooks: {
          "jobs-db": { type: "sqlite-compactor", path: "jobs.db", initialDelay: 0, tables: table("1d") },
          "logs-db": { type: "sqlite-compactor", path: "logs.db", initialDelay: 0, tables: table("1d") },
          "app-log": { type: "event-log", path: "app.jsonl", maxBytes: 1_000, keepLines: 10, initialDelay: 0 },
          "audit-log": { type: "event-log", path: "audit.jsonl", initialDelay: 0 },
        },
      }),
    );
    const controller = new AbortController();
    const running = reclaim(["start"], { cwd: dir.path, signal: controller.signal });
    const base = `http://127.0.0.1:${port}`;
    try {
      type Status = { hooks: Array<{ hook: string; type: string; lastRun: { outcome: string } | null; details: Record<string, unknown> }> };
      const status = await vi.waitFor(
        async () => {
          const body = (await (await fetch(`${base}/status`)).json()) as Status;
          if (!body.hooks.every((hook) => hook.lastRun)) throw new Error("not every instance has run yet");
          return body;
        },
        { timeout: 30_000, interval: 100 },
      );
      expect(status.hooks.map((hook) => [hook.hook, hook.type, hook.lastRun?.outcome])).toEqual([
        ["jobs-db", "sqlite-compactor", "success"],
        ["logs-db", "sqlite-compactor", "success"],
        ["app-log", "event-log", "success"],
        ["audit-log", "event-log", "success"],
      ]);
      const byName = Object.fromEntries(status.hooks.map((hook) => [hook.hook, hook.details]));
      expect(byName["jobs-db"]).toMatchObject({ totals: { rowsDeleted: 150 } });
      expect(byName["logs-db"]).toMatchObject({ totals: { rowsDeleted: 30 } });
      expect(byName["app-log"]).toMatchObject({ keepLines: 10 });

      const metrics = series(await (await fetch(`${base}/metrics`)).text());
      const value = (name: string, labels: Record<string, string>) =>
        metrics.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
      expect(value("reclaim_sqlite_rows_removed_total", { hook: "jobs-db", table: "jobs" })).toBe(150);
      expect(value("reclaim_sqlite_rows_removed_total", { hook: "logs-db", table: "jobs" })).toBe(30);
      expect(value("reclaim_sqlite_file_bytes", { hook: "jobs-db" })).toBeGreaterThan(value("reclaim_sqlite_file_bytes", { hook: "logs-db" })!);
      expect(value("reclaim_event_log_bytes", { hook: "app-log" })).toBe(statSync(join(dir.path, "app.jsonl")).size);
      expect(value("reclaim_event_log_bytes", { hook: "audit-log" })).toBe(16);
      expect(value("reclaim_event_log_rotations_total", { hook: "app-log" })).toBe(1);
      expect(value("reclaim_hook_runs_total", { hook: "audit-log", outcome: "success" })).toBe(1);
      // Every reclaim series names its instance, and no label collides with what Prometheus attaches.
      for (const s of metrics.filter((m) => m.name.startsWith("reclaim_"))) {
        expect(s.labels, `${s.name}`).toHaveProperty("hook");
        expect(Object.keys(s.labels)).not.toContain("instance");
        expect(Object.keys(s.labels)).not.toContain("job");
      }

      // The compactor's RPC method answers for the instance named in params.hook; with two, it asks which.
      const rpc = async (params?: unknown) =>
        (await (
          await fetch(`${base}/rpc`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "system.compactor_status", ...(params ? { params } : {}) }),
          })
        ).json()) as { result?: { hook: string; totals: { rowsDeleted: number } }; error?: { code: number; data: { instances: string[] } } };
      expect((await rpc({ hook: "logs-db" })).result).toMatchObject({ hook: "logs-db", totals: { rowsDeleted: 30 } });
      expect((await rpc()).error).toMatchObject({ code: -32602, data: { instances: ["jobs-db", "logs-db"] } });
    } finally {
      controller.abort();
    }
    expect((await running).code).toBe(0);
  });
});
