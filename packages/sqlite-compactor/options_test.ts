import { join } from "node:path";
import { tempDir } from "@reclaim/core/testing";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { createSqliteCompactorHook } from "./compactor.ts";
import { createJobsDatabase, readRows } from "./_test_fixture.ts";

describe("createSqliteCompactorHook() options", () => {
  it.each([
    ["table", 'jobs"; DROP TABLE jobs; --'],
    ["table", "jobs WHERE 1"],
    ["timeColumn", "created_at) OR (1=1"],
    ["statusColumn", "1status"],
    ["table", "sqlite_master"],
  ] as const)("refuses an unsafe %s name %j before touching the database", async (field, value) => {
    await using dir = await tempDir("sqlite-");
    const path = join(dir.path, "app.db");
    createJobsDatabase(path, [{ id: 1, status: "done", created_at: 0 }]);
    const rule = { table: "jobs", terminal: ["done"], [field]: value };
    expect(() => createSqliteCompactorHook({ path, tables: [rule] })).toThrow(
      expect.objectContaining({ code: "RECLAIM_ERR_INVALID_OPTION", message: expect.stringContaining(`'tables[0].${field}'`) }),
    );
    expect(readRows(path).size).toBe(1);
  });

  it("refuses a table or column the database does not have, naming the field and the value", async () => {
    await using dir = await tempDir("sqlite-");
    const path = join(dir.path, "app.db");
    createJobsDatabase(path, []);
    expect(() => createSqliteCompactorHook({ path, tables: [{ table: "runs", terminal: ["done"] }] })).toThrow(
      "Cannot create sqlite-compactor hook as 'tables[0].table' must name an existing table of the database: current value is \"runs\"",
    );
    expect(() => createSqliteCompactorHook({ path, tables: [{ table: "jobs", timeColumn: "finished_at", terminal: ["done"] }] })).toThrow(
      /'tables\[0\]\.timeColumn' must name a column of table jobs \(columns: id, status, created_at, payload\): current value is "finished_at"/,
    );
  });

  it("refuses WITHOUT ROWID tables, views and a table listed twice", async () => {
    await using dir = await tempDir("sqlite-");
    const path = join(dir.path, "app.db");
    createJobsDatabase(path, []);
    const db = new Database(path);
    db.exec("CREATE TABLE runs (id TEXT PRIMARY KEY, status TEXT, created_at INTEGER) WITHOUT ROWID; CREATE VIEW done_jobs AS SELECT * FROM jobs");
    db.close();
    expect(() => createSqliteCompactorHook({ path, tables: [{ table: "runs", terminal: ["done"] }] })).toThrow(/must be a rowid table/);
    expect(() => createSqliteCompactorHook({ path, tables: [{ table: "done_jobs", terminal: ["done"] }] })).toThrow(/must name an existing table/);
    expect(() => createSqliteCompactorHook({ path, tables: [{ table: "jobs", terminal: ["done"] }, { table: "JOBS", terminal: ["x"] }] })).toThrow(/'tables\[1\]\.table' is listed twice/);
  });

  it("refuses bad values: empty terminal list, maxRows 0, a batch target over 10s, a file that is not SQLite, the archive on the database", async () => {
    await using dir = await tempDir("sqlite-");
    const path = join(dir.path, "app.db");
    createJobsDatabase(path, []);
    expect(() => createSqliteCompactorHook({ path, tables: [{ table: "jobs", terminal: [] }] })).toThrow(/'tables\[0\]\.terminal' must be at least 1 items/);
    expect(() => createSqliteCompactorHook({ path, tables: [{ table: "jobs", terminal: ["done"], maxRows: 0 }] })).toThrow(/'tables\[0\]\.maxRows' must be at least 1/);
    expect(() => createSqliteCompactorHook({ path, batchTarget: "1m" })).toThrow(/'batchTarget' must be between 1ms and 10s/);
    expect(() => createSqliteCompactorHook({ path, archive: { path } })).toThrow(/'archive.path' must be a different file from path/);
    expect(() => createSqliteCompactorHook({ path, archive: { path: join(dir.path, "nope", "a.db") } })).toThrow(/'archive.path' must be in an existing folder/);
    const text = join(dir.path, "notes.db");
    await import("node:fs/promises").then((fs) => fs.writeFile(text, "hello, this is not a database at all, just some text"));
    expect(() => createSqliteCompactorHook({ path: text })).toThrow(/'path' must be a SQLite database file/);
  });

  it("fills in defaults and freezes the resolved options", () => {
    const hook = createSqliteCompactorHook({ path: "/nonexistent/app.db", tables: [{ table: "jobs", terminal: ["done"] }] });
    expect(hook.options).toEqual({
      path: "/nonexistent/app.db",
      tables: [{ table: "jobs", timeColumn: "created_at", statusColumn: "status", terminal: ["done"], maxAge: 2_592_000_000, maxRows: 100_000, timeFormat: "auto" }],
      batchTarget: 50,
      busyTimeout: 5_000,
      vacuum: { convert: true, freeRatio: 0.1, analyzeAfterRows: 10_000 },
    });
    expect(Object.isFrozen(hook.options)).toBe(true);
  });
});
