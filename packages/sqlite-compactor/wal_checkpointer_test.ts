import { statSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "@reclaim/core/testing";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { WalCheckpointer } from "./_wal_checkpointer.ts";

const FRAME_HEADER = 24;
const WAL_HEADER = 32;

describe("WalCheckpointer", () => {
  it("checkpoints every few batches, as many as keep the log under the frames given", async () => {
    await using dir = await tempDir("sqlite-ckpt-");
    const path = join(dir.path, "app.db");
    const db = new Database(path);
    try {
      db.pragma("journal_mode = WAL");
      db.pragma("wal_autocheckpoint = 0");
      db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
      const insert = db.prepare("INSERT INTO t (v) VALUES (?)");
      const checkpointer = new WalCheckpointer(db, 64);
      const pageSize = db.pragma("page_size", { simple: true }) as number;
      let largest = 0;
      for (let batch = 0; batch < 200; batch++) {
        // One batch: a transaction that writes about 4 pages (3 rows of a page each, and the b-tree above them).
        db.transaction(() => {
          for (let i = 0; i < 3; i++) insert.run("x".repeat(pageSize - 100));
        })();
        const frames = (statSync(`${path}-wal`).size - WAL_HEADER) / (pageSize + FRAME_HEADER);
        largest = Math.max(largest, frames);
        checkpointer.afterBatch();
      }
      expect(checkpointer.every).toBeGreaterThan(1);
      // The log restarts after each checkpoint: it never holds much more than the 64 frames asked for.
      expect(largest).toBeLessThanOrEqual(64 + 2 * 8);
    } finally {
      db.close();
    }
  });

  it("checkpoints after every batch when asked for 0 frames", async () => {
    await using dir = await tempDir("sqlite-ckpt-");
    const db = new Database(join(dir.path, "app.db"));
    try {
      db.pragma("journal_mode = WAL");
      db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
      const checkpointer = new WalCheckpointer(db, 0);
      for (let batch = 0; batch < 20; batch++) {
        db.prepare("INSERT INTO t (v) VALUES ('x')").run();
        checkpointer.afterBatch();
        expect(checkpointer.every).toBe(1);
      }
    } finally {
      db.close();
    }
  });
});
