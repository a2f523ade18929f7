import { fork } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { createRunner } from "@reclaim/core";
import { tempDir } from "@reclaim/core/testing";
import { describe, expect, it } from "vitest";
import { createSqliteCompactorHook, type SqliteCompactorReport } from "./compactor.ts";
import { createJobsDatabase, DAY, integrityCheck, query } from "./_test_fixture.ts";

const WRITER = new URL("./_test_writer.mjs", import.meta.url);
const NOW = Date.now();

interface WriterResult {
  latencies: number[];
  errors: string[];
  inserted: number;
}

describe("createSqliteCompactorHook() next to a writer in another process", () => {
  it.each([
    ["wal", "none"],
    ["wal", "incremental"],
    ["delete", "none"],
    ["delete", "incremental"],
  ] as const)("never makes an insert of the writer fail, and keeps every row it wrote (%s journal, auto_vacuum %s)", async (journal, autoVacuum) => {
    await using dir = await tempDir("sqlite-");
    const path = join(dir.path, "app.db");
    const rows = Array.from({ length: 5_000 }, (_, i) => ({ id: i + 1, status: i % 5 === 0 ? "running" : "done", created_at: NOW - 60 * DAY }));
    createJobsDatabase(path, rows, { journal, autoVacuum, payloadBytes: 1000 });

    // The writer waits for the lock as long as it takes (busy_timeout 10 min): only an insert that fails outright
    // (SQLITE_BUSY returned without waiting, a lock-order deadlock, a corrupt page) fails this test. How long the
    // writer waits is latency: bench/compact.mjs measures it, a test does not.
    const writer = fork(WRITER, [path, "600000", "1", "200"], { stdio: "inherit" });
    await using _ = { [Symbol.asyncDispose]: async () => void writer.kill("SIGKILL") };
    await once(writer, "message");
    const hook = createSqliteCompactorHook({ path, archive: { path: join(dir.path, "archive.db") }, batchTarget: 20, tables: [{ table: "jobs", terminal: ["done"] }] });
    const result = await createRunner(hook, { enabled: true }).runOnce();
    writer.send("stop");
    const [written] = (await once(writer, "message")) as [WriterResult];

    expect(result.error).toBeUndefined();
    const report = result.report as SqliteCompactorReport;
    expect(report.rowsDeleted).toBe(4_000);
    expect(written.errors).toEqual([]);
    expect(written.inserted).toBeGreaterThan(0);
    const [left] = query<{ n: number }>(path, "SELECT count(*) AS n FROM jobs WHERE status IN ('running', 'pending')");
    expect(left!.n).toBe(1_000 + written.inserted);
    expect(integrityCheck(path)).toBe("ok");
  }, 300_000);
});
