import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { tempDir } from "@reclaim/core/testing";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { createJobsDatabase, query } from "./_test_fixture.ts";
import { WritePacer } from "./_write_pacer.ts";

const NEVER = new AbortController().signal;

describe.each(["wal", "delete"] as const)("WritePacer (%s journal)", (journal) => {
  async function open() {
    const dir = await tempDir("sqlite-pacer-");
    const path = join(dir.path, "app.db");
    createJobsDatabase(path, [{ id: 1, status: "done", created_at: 0 }], { journal });
    const ours = new Database(path);
    const service = new Database(path);
    return {
      path,
      ours,
      service,
      async [Symbol.asyncDispose]() {
        ours.close();
        service.close();
        await dir[Symbol.asyncDispose]();
      },
    };
  }

  it("waits for a lock another connection holds without blocking the event loop, then runs and commits", async () => {
    await using db = await open();
    db.service.exec("BEGIN IMMEDIATE");
    const pacer = new WritePacer(db.ours, { targetMs: 20, busyTimeoutMs: 60_000 });
    let ran = false;
    const done = pacer.transaction(() => {
      ran = true;
      return db.ours.prepare("DELETE FROM jobs WHERE id = 1").run().changes;
    }, NEVER);
    await sleep(50); // this timer fires: the pacer waits asleep, not in SQLite's busy handler
    expect(ran).toBe(false);
    db.service.exec("COMMIT");
    const { value } = await done;
    expect(value).toBe(1);
    expect(db.ours.inTransaction).toBe(false);
    expect(query(db.path, "SELECT id FROM jobs")).toEqual([]);
  });

  it("fails with SQLITE_BUSY once the lock stayed taken for busyTimeout, leaving no transaction open", async () => {
    await using db = await open();
    db.service.exec("BEGIN IMMEDIATE");
    const pacer = new WritePacer(db.ours, { targetMs: 20, busyTimeoutMs: 30 });
    await expect(pacer.transaction(() => db.ours.prepare("DELETE FROM jobs").run(), NEVER)).rejects.toMatchObject({ code: "SQLITE_BUSY" });
    expect(db.ours.inTransaction).toBe(false);
    expect(db.ours.pragma("busy_timeout", { simple: true })).toBe(30);
    db.service.exec("ROLLBACK");
  });

  it("rolls back the statements of a transaction that throws, and runs the next one", async () => {
    await using db = await open();
    const pacer = new WritePacer(db.ours, { targetMs: 20, busyTimeoutMs: 1_000 });
    const failing = pacer.transaction(() => {
      db.ours.prepare("DELETE FROM jobs").run();
      throw new Error("boom");
    }, NEVER);
    await expect(failing).rejects.toThrow("boom");
    expect(db.ours.inTransaction).toBe(false);
    expect(query(db.path, "SELECT id FROM jobs")).toEqual([{ id: 1 }]);
    await pacer.transaction(() => db.ours.prepare("DELETE FROM jobs").run(), NEVER);
    expect(query(db.path, "SELECT id FROM jobs")).toEqual([]);
  });

  it("stops waiting for the lock when the pass is aborted", async () => {
    await using db = await open();
    db.service.exec("BEGIN IMMEDIATE");
    const pacer = new WritePacer(db.ours, { targetMs: 20, busyTimeoutMs: 60_000 });
    const abort = new AbortController();
    const waiting = pacer.transaction(() => db.ours.prepare("DELETE FROM jobs").run(), abort.signal);
    abort.abort(new Error("stopping"));
    await expect(waiting).rejects.toThrow();
    expect(db.ours.inTransaction).toBe(false);
    db.service.exec("ROLLBACK");
    expect(query(db.path, "SELECT id FROM jobs")).toEqual([{ id: 1 }]);
  });
});
