import { join } from "node:path";
import { PassThrough } from "node:stream";
import { createLogger, createRunner } from "@reclaim/core";
import { memorySpans, tempDir } from "@reclaim/core/testing";
import Database from "better-sqlite3";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { compactorStatus } from "./compactor_status.ts";
import { createSqliteCompactorHook, type SqliteCompactorHookOptions, type SqliteCompactorReport } from "./compactor.ts";
import { createJobsDatabase, DAY, query, readRows } from "./_test_fixture.ts";

const NOW = Date.parse("2026-11-21T12:00:00Z");
const SECONDS = (ms: number) => Math.floor(ms / 1000);

async function pass(options: SqliteCompactorHookOptions, runner: { dryRun?: boolean; registry?: Registry } = {}) {
  const registry = runner.registry ?? new Registry();
  const hook = createSqliteCompactorHook({ registry, ...options });
  const run = createRunner(hook, { registry, now: () => NOW, dryRun: runner.dryRun ?? false, enabled: true });
  const result = await run.runOnce();
  expect(result.error).toBeUndefined();
  expect(result.outcome).toBe("success");
  return { report: result.report as SqliteCompactorReport, runner: run, hook, registry };
}

describe("createSqliteCompactorHook() retention", () => {
  it("removes terminal rows older than maxAge and never a running or pending row, however old", async () => {
    await using dir = await tempDir("sqlite-");
    const path = join(dir.path, "app.db");
    createJobsDatabase(path, [
      { id: 1, status: "done", created_at: NOW - 40 * DAY },
      { id: 2, status: "failed", created_at: NOW - 31 * DAY },
      { id: 3, status: "done", created_at: NOW - 29 * DAY },
      { id: 4, status: "running", created_at: NOW - 900 * DAY },
      { id: 5, status: "pending", created_at: NOW - 400 * DAY },
      { id: 6, status: "cancelled", created_at: NOW - 400 * DAY },
      { id: 7, status: "done", created_at: NOW - 1 * DAY },
    ]);
    const { report } = await pass({ path, tables: [{ table: "jobs", terminal: ["done", "failed"], maxAge: "30d", timeFormat: "unix-ms" }] });
    expect([...readRows(path).keys()].sort()).toEqual([3, 4, 5, 6, 7]);
    expect(report.rowsDeleted).toBe(2);
    expect(report.removed).toBe(2);
  });

  it("keeps only the newest maxRows terminal rows, leaving non-terminal rows out of the count", async () => {
    await using dir = await tempDir("sqlite-");
    const path = join(dir.path, "app.db");
    const rows = Array.from({ length: 20 }, (_, i) => ({ id: i + 1, status: i % 4 === 0 ? "running" : "done", created_at: NOW - (20 - i) * 60_000 }));
    createJobsDatabase(path, rows);
    await pass({ path, tables: [{ table: "jobs", terminal: ["done"], maxAge: null, maxRows: 5, timeFormat: "unix-ms" }] });
    const left = readRows(path);
    const done = [...left.values()].filter((r) => r.status === "done").map((r) => r.id);
    expect(done).toEqual([16, 18, 19, 20, 15].sort((a, b) => a - b)); // the 5 newest done rows
    expect([...left.values()].filter((r) => r.status === "running")).toHaveLength(5);
  });

  it("breaks time ties in the row-count rule by rowid, never removing more than the rule says", async () => {
    await using dir = await tempDir("sqlite-");
    const path = join(dir.path, "app.db");
    createJobsDatabase(path, Array.from({ length: 10 }, (_, i) => ({ id: i + 1, status: "done", created_at: NOW - DAY })));
    await pass({ path, tables: [{ table: "jobs", terminal: ["done"], maxAge: null, maxRows: 3 }] });
    expect([...readRows(path).keys()].sort((a, b) => a - b)).toEqual([8, 9, 10]);
  });

  it.each([
    ["unix-s", (ms: number) => SECONDS(ms)],
    ["unix-ms", (ms: number) => ms],
    ["iso8601", (ms: number) => new Date(ms).toISOString()],
    ["auto", (ms: number) => new Date(ms).toISOString().replace("T", " ").slice(0, 19)],
    ["auto", (ms: number) => SECONDS(ms)],
    ["auto", (ms: number) => ms],
  ] as const)("reads %s times (%#)", async (timeFormat, format) => {
    await using dir = await tempDir("sqlite-");
    const path = join(dir.path, "app.db");
    createJobsDatabase(path, [
      { id: 1, status: "done", created_at: format(NOW - 8 * DAY) },
      { id: 2, status: "done", created_at: format(NOW - 6 * DAY) },
      { id: 3, status: "done", created_at: format(NOW + DAY) },
    ]);
    await pass({ path, tables: [{ table: "jobs", terminal: ["done"], maxAge: "7d", maxRows: null, timeFormat }] });
    expect([...readRows(path).keys()].sort()).toEqual([2, 3]);
  });

  it("never removes a row whose time is NULL, unparseable or of the wrong type for the format", async () => {
    await using dir = await tempDir("sqlite-");
    const path = join(dir.path, "app.db");
    createJobsDatabase(path, [
      { id: 1, status: "done", created_at: null },
      { id: 2, status: "done", created_at: "not a date" },
      { id: 3, status: "done", created_at: "2001-01-01T00:00:00Z" },
      { id: 4, status: "done", created_at: 978_307_200 },
    ]);
    await pass({ path, tables: [{ table: "jobs", terminal: ["done"], maxAge: "1d", maxRows: 1, timeFormat: "unix-s" }] });
    expect([...readRows(path).keys()].sort()).toEqual([1, 2, 3]); // only the numeric, old row 4 goes
  });

  it("reports what would go in a dry run and touches nothing", async () => {
    await using dir = await tempDir("sqlite-");
    const path = join(dir.path, "app.db");
    createJobsDatabase(path, [
      { id: 1, status: "done", created_at: NOW - 40 * DAY },
      { id: 2, status: "done", created_at: NOW - 1 * DAY },
    ]);
    const { report } = await pass({ path, archive: { path: join(dir.path, "archive.db") }, tables: [{ table: "jobs", terminal: ["done"] }] }, { dryRun: true });
    expect(report.rowsDeleted).toBe(1);
    expect(report.vacuum).toBe("dry_run");
    expect(readRows(path).size).toBe(2);
    expect(query(path, "PRAGMA auto_vacuum")).toEqual([{ auto_vacuum: 0 }]);
  });

  it("does not cascade a delete into other tables, whatever the schema's foreign keys say", async () => {
    await using dir = await tempDir("sqlite-");
    const path = join(dir.path, "app.db");
    createJobsDatabase(path, [{ id: 1, status: "done", created_at: NOW - 40 * DAY }]);
    const db = new Database(path);
    db.exec("CREATE TABLE steps (id INTEGER PRIMARY KEY, job_id INTEGER REFERENCES jobs(id) ON DELETE CASCADE, status TEXT)");
    db.exec("INSERT INTO steps VALUES (1, 1, 'running')");
    db.close();
    await pass({ path, tables: [{ table: "jobs", terminal: ["done"] }] });
    expect(readRows(path).size).toBe(0);
    expect(query(path, "SELECT id, status FROM steps")).toEqual([{ id: 1, status: "running" }]);
  });
});

describe("createSqliteCompactorHook() archive", () => {
  it("copies every removed row, with identical values, to the archive file before deleting it", async () => {
    await using dir = await tempDir("sqlite-");
    const path = join(dir.path, "app.db");
    const archive = join(dir.path, "archive.db");
    const rows = Array.from({ length: 500 }, (_, i) => ({ id: i + 1, status: ["done", "failed", "running"][i % 3]!, created_at: NOW - (i % 60) * DAY }));
    createJobsDatabase(path, rows);
    const before = readRows(path);
    const { report } = await pass({ path, archive: { path: archive }, batchTarget: 1, tables: [{ table: "jobs", terminal: ["done", "failed"], maxAge: "30d" }] });
    const after = readRows(path);
    const archived = readRows(archive);
    expect(report.rowsArchived).toBe(report.rowsDeleted);
    expect(report.rowsDeleted).toBeGreaterThan(100);
    for (const [id, row] of before) {
      if (after.has(id)) continue;
      expect(archived.get(id)).toEqual(row);
    }
    expect(archived.size).toBe(before.size - after.size);
    expect([...after.values()].filter((r) => r.status === "running")).toHaveLength(rows.filter((r) => r.status === "running").length);
  });

  it("does not copy a row twice when a pass retries rows it archived but did not delete", async () => {
    await using dir = await tempDir("sqlite-");
    const path = join(dir.path, "app.db");
    const archive = join(dir.path, "archive.db");
    createJobsDatabase(path, Array.from({ length: 50 }, (_, i) => ({ id: i + 1, status: "done", created_at: NOW - 40 * DAY })));
    // First pass with a dry run archive table layout, then simulate a crash after the copy: copy rows 1-20 by hand.
    const options = { path, archive: { path: archive }, tables: [{ table: "jobs", terminal: ["done"] }] } satisfies SqliteCompactorHookOptions;
    const db = new Database(archive);
    db.exec("CREATE TABLE jobs (id, status, created_at, payload, _reclaim_rowid INTEGER NOT NULL, _reclaim_archived_at INTEGER NOT NULL)");
    db.exec(`ATTACH '${path}' AS src`);
    db.exec("INSERT INTO jobs SELECT id, status, created_at, payload, rowid, 0 FROM src.jobs WHERE id <= 20");
    db.close();
    const { report } = await pass(options);
    expect(report.rowsDeleted).toBe(50);
    expect(report.rowsArchived).toBe(30);
    expect(query(archive, "SELECT count(*) AS n, count(DISTINCT id) AS d FROM jobs")).toEqual([{ n: 50, d: 50 }]);
  });

  it("archives a changed row again rather than deleting it against a stale copy", async () => {
    await using dir = await tempDir("sqlite-");
    const path = join(dir.path, "app.db");
    const archive = join(dir.path, "archive.db");
    createJobsDatabase(path, [{ id: 1, status: "done", created_at: NOW - 40 * DAY }]);
    const db = new Database(archive);
    db.exec("CREATE TABLE jobs (id, status, created_at, payload, _reclaim_rowid INTEGER NOT NULL, _reclaim_archived_at INTEGER NOT NULL)");
    db.exec("INSERT INTO jobs VALUES (1, 'done', 0, 'an older version of the row', 1, 0)");
    db.close();
    const before = readRows(path).get(1);
    await pass({ path, archive: { path: archive }, tables: [{ table: "jobs", terminal: ["done"] }] });
    expect(readRows(path).size).toBe(0);
    const copies = query<{ payload: string }>(archive, "SELECT payload FROM jobs ORDER BY _reclaim_archived_at");
    expect(copies.map((c) => c.payload)).toEqual(["an older version of the row", before!.payload]);
  });
});

describe("createSqliteCompactorHook() observability", () => {
  it("exports file size, free pages and rows removed by table, names its span and answers system.compactor_status", async () => {
    await using dir = await tempDir("sqlite-");
    const path = join(dir.path, "app.db");
    createJobsDatabase(path, Array.from({ length: 30 }, (_, i) => ({ id: i + 1, status: "done", created_at: NOW - (i < 10 ? 40 : 1) * DAY })));
    const registry = new Registry();
    const { tracer, spans } = memorySpans();
    const hook = createSqliteCompactorHook({ path, registry, tables: [{ table: "jobs", terminal: ["done"] }] });
    const runner = createRunner(hook, { registry, tracer, now: () => NOW, enabled: true });
    await runner.runOnce();

    expect((await registry.getSingleMetricAsString("reclaim_sqlite_rows_removed_total"))).toContain('reclaim_sqlite_rows_removed_total{hook="sqlite-compactor",table="jobs"} 10');
    const fileBytes = await registry.getSingleMetric("reclaim_sqlite_file_bytes")!.get();
    const pageBytes = query<{ b: number }>(path, "SELECT page_count * page_size AS b FROM pragma_page_count, pragma_page_size")[0]!.b;
    expect(fileBytes.values[0]?.value).toBe(pageBytes);
    expect(await registry.getSingleMetricAsString("reclaim_sqlite_freelist_pages")).toMatch(/reclaim_sqlite_freelist_pages\{hook="sqlite-compactor"\} \d+/);

    const [span] = await spans();
    expect(span?.name).toBe("compact sqlite");
    expect(span?.attributes["db.system.name"]).toBe("sqlite");
    expect(span?.attributes["reclaim.sqlite.rows_deleted"]).toBe(10);

    const status = compactorStatus(runner);
    expect(status).toMatchObject({
      hook: "sqlite-compactor",
      lastRun: new Date(NOW).toISOString(),
      lastOutcome: "success",
      lastPass: { rowsDeleted: 10, rowsArchived: 0, vacuum: "converted" },
      totals: { rowsDeleted: 10, passes: 1 },
      databaseBytes: pageBytes,
      autoVacuum: "incremental",
      journalMode: "wal",
    });
    expect(runner.status().details).toMatchObject({ path, lastPass: { rowsDeleted: 10 } });
  });

  it("fails the pass with RECLAIM_ERR_SQLITE_NOT_FOUND when the database does not exist", async () => {
    await using dir = await tempDir("sqlite-");
    const hook = createSqliteCompactorHook({ path: join(dir.path, "missing.db") });
    const result = await createRunner(hook, { enabled: true }).runOnce();
    expect(result.outcome).toBe("failure");
    expect(result.error).toMatch(/missing\.db does not exist/);
  });

  it("is created while another connection holds an exclusive lock, fails the passes during the lock as passes and works after", async () => {
    await using dir = await tempDir("sqlite-");
    const path = join(dir.path, "app.db");
    // Rollback journal: an EXCLUSIVE lock keeps readers out too, so not even the schema can be read.
    createJobsDatabase(path, [{ id: 1, status: "done", created_at: NOW - 40 * DAY }, { id: 2, status: "running", created_at: NOW - 40 * DAY }], { journal: "delete" });
    const locker = new Database(path);
    locker.exec("BEGIN EXCLUSIVE");
    const lines: string[] = [];
    const destination = new PassThrough().on("data", (chunk: Buffer) => lines.push(chunk.toString()));
    const tables = [{ table: "jobs", terminal: ["done"], timeFormat: "unix-ms" as const }];
    const hook = createSqliteCompactorHook({ path, tables, busyTimeout: "10ms", logger: createLogger({ destination }) });
    expect(hook.status().database).toBeNull();
    expect(lines.join("")).toMatch(/"code":"SQLITE_BUSY".*schema check is left to the first pass/);
    const runner = createRunner(hook, { now: () => NOW, enabled: true });
    const locked = await runner.runOnce();
    expect(locked.outcome).toBe("failure");
    expect(locked.error).toMatch(/database is locked/);
    expect(readRowsWhileLocked(locker)).toEqual([1, 2]);
    locker.exec("COMMIT");
    locker.close();
    const after = await runner.runOnce();
    expect(after.error).toBeUndefined();
    expect(after.outcome).toBe("success");
    expect([...readRows(path).keys()]).toEqual([2]);
    expect(hook.status().database).not.toBeNull();
  });

  it("still refuses, while the database is locked or missing, the mistakes that need no database: a table listed twice", async () => {
    await using dir = await tempDir("sqlite-");
    const path = join(dir.path, "app.db");
    createJobsDatabase(path, [], { journal: "delete" });
    const locker = new Database(path);
    locker.exec("BEGIN EXCLUSIVE");
    try {
      const tables = [{ table: "jobs", terminal: ["done"] }, { table: "Jobs", terminal: ["done"] }];
      expect(() => createSqliteCompactorHook({ path, tables })).toThrow(/'tables\[1\]\.table' is listed twice/);
      expect(() => createSqliteCompactorHook({ path: join(dir.path, "missing.db"), tables })).toThrow(/is listed twice/);
      // A table the database does not have is only known once the schema can be read: the first pass says so.
      const hook = createSqliteCompactorHook({ path, tables: [{ table: "nope", terminal: ["done"] }], busyTimeout: "10ms" });
      locker.exec("COMMIT");
      const result = await createRunner(hook, { enabled: true }).runOnce();
      expect(result.outcome).toBe("failure");
      expect(result.error).toMatch(/'tables\[0\]\.table' must name an existing table/);
    } finally {
      locker.close();
    }
  });
});

/** The ids of the jobs table, read through the connection holding the lock (no one else can). */
function readRowsWhileLocked(db: Database.Database): number[] {
  return (db.prepare("SELECT id FROM jobs ORDER BY id").all() as { id: number }[]).map((r) => r.id);
}
