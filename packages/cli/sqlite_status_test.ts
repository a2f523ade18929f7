import { execFileSync, spawnSync } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { freePort, tempDir } from "@reclaim/core/testing";
import { describe, expect, it, vi } from "vitest";
import { reclaim } from "./_test_cli.ts";

const hasSqlite3 = spawnSync("sqlite3", ["-version"], { stdio: "ignore" }).status === 0;

describe("reclaim start with the sqlite-compactor hook", () => {
  it.skipIf(!hasSqlite3)("serves the compactor's status on /status and as system.compactor_status on POST /rpc", async () => {
    await using dir = await tempDir("cli-sqlite-");
    const db = join(dir.path, "supervisor.db");
    // 150 finished jobs and 50 running ones, all ten days old.
    execFileSync("sqlite3", [
      db,
      `PRAGMA journal_mode=WAL;
       CREATE TABLE jobs (id INTEGER PRIMARY KEY, status TEXT NOT NULL, created_at INTEGER, spec_json TEXT);
       WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200)
       INSERT INTO jobs SELECT i, CASE WHEN i <= 150 THEN 'done' ELSE 'running' END, strftime('%s','now') - 864000, printf('%.*c', 500, 'x') FROM n;`,
    ]);
    const port = await freePort();
    await writeFile(
      join(dir.path, "reclaim.config.json"),
      JSON.stringify({
        exporter: { port },
        hooks: { "sqlite-compactor": { path: "supervisor.db", initialDelay: 0, tables: [{ table: "jobs", terminal: ["done"], maxAge: "1d", maxRows: null }] } },
      }),
    );
    const controller = new AbortController();
    const running = reclaim(["start"], { cwd: dir.path, signal: controller.signal });
    const base = `http://127.0.0.1:${port}`;
    try {
      type Answer = { result?: { lastOutcome: string | null; totals: { rowsDeleted: number }; databaseBytes: number; nextRun: string | null } };
      const answer = await vi.waitFor(
        async () => {
          const response = await fetch(`${base}/rpc`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "system.compactor_status" }),
          });
          const body = (await response.json()) as Answer;
          if (!body.result?.lastOutcome) throw new Error("no pass has ended yet");
          return body;
        },
        { timeout: 30_000, interval: 100 },
      );
      expect(answer.result).toMatchObject({ lastOutcome: "success", totals: { rowsDeleted: 150 } });
      expect(answer.result?.databaseBytes).toBeGreaterThan(0);
      expect(answer.result?.nextRun).not.toBeNull();
      const status = (await (await fetch(`${base}/status`)).json()) as { hooks: Array<{ hook: string; details: { totals: { rowsDeleted: number } } }> };
      expect(status.hooks.find((hook) => hook.hook === "sqlite-compactor")?.details.totals.rowsDeleted).toBe(150);
      const stillRunning = execFileSync("sqlite3", [db, "SELECT count(*) FROM jobs WHERE status = 'running'"], { encoding: "utf8" });
      expect(stillRunning.trim()).toBe("50");
    } finally {
      controller.abort();
    }
    expect((await running).code).toBe(0);
  });
});
