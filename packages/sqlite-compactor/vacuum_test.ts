import { statSync } from "node:fs";
import { join } from "node:path";
import { createRunner } from "@reclaim/core";
import { mountTmpfs, tempDir } from "@reclaim/core/testing";
import Database from "better-sqlite3";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { createSqliteCompactorHook, type SqliteCompactorHookOptions, type SqliteCompactorReport } from "./compactor.ts";
import { enableIncrementalVacuum } from "./incremental_vacuum.ts";
import { createJobsDatabase, DAY, integrityCheck, query } from "./_test_fixture.ts";

const NOW = Date.parse("2026-11-21T12:00:00Z");
const burst = (n: number) => Array.from({ length: n }, (_, i) => ({ id: i + 1, status: i % 10 === 0 ? "running" : "done", created_at: NOW - 60 * DAY }));

async function pass(options: SqliteCompactorHookOptions, registry = new Registry()) {
  const result = await createRunner(createSqliteCompactorHook({ registry, ...options }), { registry, now: () => NOW, enabled: true }).runOnce();
  expect(result.error).toBeUndefined();
  return result.report as SqliteCompactorReport;
}

const fileSize = (path: string) => statSync(path).size + (() => { try { return statSync(`${path}-wal`).size; } catch { return 0; } })();

describe("createSqliteCompactorHook() gives space back", () => {
  it.each(["wal", "delete"] as const)("converts an auto_vacuum=NONE database and shrinks the file within one pass (%s journal)", async (journal) => {
    await using dir = await tempDir("sqlite-");
    const path = join(dir.path, "app.db");
    createJobsDatabase(path, burst(4000), { journal, payloadBytes: 1000 });
    const before = fileSize(path);
    const report = await pass({ path, tables: [{ table: "jobs", terminal: ["done"] }] });
    expect(report.vacuum).toBe("converted");
    expect(report.rowsDeleted).toBe(3600);
    expect(fileSize(path)).toBeLessThan(before / 5);
    expect(report.reclaimedBytes).toBe(before - fileSize(path));
    expect(query(path, "PRAGMA auto_vacuum")).toEqual([{ auto_vacuum: 2 }]);
    expect(integrityCheck(path)).toBe("ok");
  });

  it.each(["wal", "delete"] as const)("runs incremental_vacuum on an INCREMENTAL database and truncates the WAL (%s journal)", async (journal) => {
    await using dir = await tempDir("sqlite-");
    const path = join(dir.path, "app.db");
    createJobsDatabase(path, burst(4000), { journal, autoVacuum: "incremental", payloadBytes: 1000 });
    const before = fileSize(path);
    const report = await pass({ path, batchTarget: 5, tables: [{ table: "jobs", terminal: ["done"] }] });
    expect(report.vacuum).toBe("incremental");
    expect(report.freePages).toBe(0);
    expect(fileSize(path)).toBeLessThan(before / 5);
    expect(fileSize(path) - statSync(path).size).toBe(0); // the WAL is truncated (or removed on close)
    expect(integrityCheck(path)).toBe("ok");
  });

  it("gives free pages back while it deletes, so the free-page list never holds the whole burst, and ends with none", async () => {
    await using dir = await tempDir("sqlite-");
    const path = join(dir.path, "app.db");
    createJobsDatabase(path, burst(20_000), { autoVacuum: "incremental", payloadBytes: 1000 });
    const pagesBefore = query<{ page_count: number }>(path, "PRAGMA page_count")[0]!.page_count;
    // A second connection samples the free-page list at every turn of the event loop (the pass yields between
    // batches): incremental_vacuum costs more per page the longer that list is, so it must stay short.
    const observer = new Database(path, { readonly: true });
    const freelist = observer.prepare("PRAGMA freelist_count").pluck();
    const samples: number[] = [];
    let sampling = true;
    const sample = () => {
      if (!sampling) return;
      samples.push(freelist.get() as number);
      setImmediate(sample);
    };
    sample();
    const report = await pass({ path, batchTarget: 5, tables: [{ table: "jobs", terminal: ["done"] }] });
    sampling = false;
    observer.close();
    const pagesAfter = query<{ page_count: number }>(path, "PRAGMA page_count")[0]!.page_count;
    const released = pagesBefore - pagesAfter;

    expect(report.rowsDeleted).toBe(18_000);
    expect(report.vacuum).toBe("incremental");
    expect(report.freePages).toBe(0);
    expect(released).toBeGreaterThan(pagesBefore * 0.8);
    expect(samples.length).toBeGreaterThan(10);
    expect(samples.reduce((a, b) => Math.max(a, b), 0)).toBeLessThan(released * 0.3);
    expect(integrityCheck(path)).toBe("ok");
  });

  it("leaves free pages alone while they are under the freeRatio threshold", async () => {
    await using dir = await tempDir("sqlite-");
    const path = join(dir.path, "app.db");
    createJobsDatabase(path, Array.from({ length: 1000 }, (_, i) => ({ id: i + 1, status: "done", created_at: NOW - (i < 20 ? 60 : 1) * DAY })), { autoVacuum: "incremental", payloadBytes: 1000 });
    const report = await pass({ path, vacuum: { freeRatio: 0.5 }, tables: [{ table: "jobs", terminal: ["done"] }] });
    expect(report.vacuum).toBe("none");
    expect(report.freePages).toBeGreaterThan(0);
  });

  it("skips the one-time VACUUM with a warning metric when the free disk is under twice the database size", async (ctx) => {
    const fs = await mountTmpfs(12 * 1024 * 1024);
    if (typeof fs === "string") return ctx.skip(fs);
    await using mount = fs;
    const path = join(mount.path, "app.db");
    createJobsDatabase(path, burst(5000), { journal: "delete", payloadBytes: 1000 });
    const registry = new Registry();
    const report = await pass({ path, tables: [{ table: "jobs", terminal: ["done"] }] }, registry);
    expect(report.vacuum).toBe("skipped_low_disk");
    expect(report.rowsDeleted).toBe(4500);
    expect(query(path, "PRAGMA auto_vacuum")).toEqual([{ auto_vacuum: 0 }]);
    expect(await registry.getSingleMetricAsString("reclaim_sqlite_vacuum_conversions_total")).toContain('reclaim_sqlite_vacuum_conversions_total{hook="sqlite-compactor",outcome="skipped_low_disk"} 1');
    expect(integrityCheck(path)).toBe("ok");
  });

  it("does not convert when vacuum.convert is false", async () => {
    await using dir = await tempDir("sqlite-");
    const path = join(dir.path, "app.db");
    createJobsDatabase(path, burst(100));
    const report = await pass({ path, vacuum: { convert: false }, tables: [{ table: "jobs", terminal: ["done"] }] });
    expect(report.vacuum).toBe("conversion_off");
    expect(query(path, "PRAGMA auto_vacuum")).toEqual([{ auto_vacuum: 0 }]);
  });

  it("sets a new database without tables to auto_vacuum=INCREMENTAL, even with conversion off", async () => {
    await using dir = await tempDir("sqlite-");
    const path = join(dir.path, "new.db");
    const db = new Database(path);
    db.pragma("journal_mode = WAL");
    db.close();
    const report = await pass({ path, vacuum: { convert: false } });
    expect(report.vacuum).toBe("converted");
    expect(query(path, "PRAGMA auto_vacuum")).toEqual([{ auto_vacuum: 2 }]);
  });

  it("refreshes planner statistics after a large delete", async () => {
    await using dir = await tempDir("sqlite-");
    const path = join(dir.path, "app.db");
    createJobsDatabase(path, burst(3000));
    const db = new Database(path);
    db.exec("CREATE INDEX jobs_by_status ON jobs (status)");
    db.close();
    const report = await pass({ path, vacuum: { analyzeAfterRows: 1000 }, tables: [{ table: "jobs", terminal: ["done"] }] });
    expect(report.analyzed).toEqual(["jobs"]);
    expect(query(path, "SELECT tbl FROM sqlite_stat1 WHERE tbl = 'jobs' LIMIT 1")).toEqual([{ tbl: "jobs" }]);
  });
});

describe("enableIncrementalVacuum()", () => {
  it("sets INCREMENTAL on a database without tables and refuses one that has tables", async () => {
    await using dir = await tempDir("sqlite-");
    const fresh = new Database(join(dir.path, "fresh.db"));
    expect(enableIncrementalVacuum(fresh)).toBe(true);
    expect(fresh.pragma("auto_vacuum", { simple: true })).toBe(2);
    fresh.close();
    const used = new Database(join(dir.path, "used.db"));
    used.exec("CREATE TABLE t (a)");
    expect(enableIncrementalVacuum(used)).toBe(false);
    expect(used.pragma("auto_vacuum", { simple: true })).toBe(0);
    used.close();
  });
});
