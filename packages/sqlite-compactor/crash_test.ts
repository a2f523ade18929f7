import { once } from "node:events";
import { copyFileSync } from "node:fs";
import { join } from "node:path";
import { createRunner } from "@reclaim/core";
import { forkTs, mountTmpfs, tempDir } from "@reclaim/core/testing";
import { describe, expect, it } from "vitest";
import { createSqliteCompactorHook } from "./compactor.ts";
import { createJobsDatabase, DAY, integrityCheck, query, readRows, type JobRow } from "./_test_fixture.ts";

const CHILD = new URL("./_test_pass_child.ts", import.meta.url);
const NOW = Date.now();
const ITERATIONS = Number(process.env.CRASH_ITERATIONS ?? 16);

/** Runs one pass in a child process and SIGKILLs it after `killAfterMs` (or lets it finish when null). */
async function passInChild(options: object, killAfterMs: number | null): Promise<{ killed: boolean; ms: number }> {
  const child = forkTs(CHILD, [JSON.stringify(options)], { stdio: "inherit" });
  const exited = once(child, "exit");
  await once(child, "message"); // ready: modules loaded, hook created
  const started = performance.now();
  child.send("go");
  let timer: NodeJS.Timeout | undefined;
  if (killAfterMs !== null) timer = setTimeout(() => child.kill("SIGKILL"), killAfterMs);
  const [, signal] = (await exited) as [number | null, NodeJS.Signals | null];
  clearTimeout(timer);
  return { killed: signal === "SIGKILL", ms: performance.now() - started };
}

describe("createSqliteCompactorHook() killed at random points", () => {
  it("leaves a sound database, every non-terminal row, and every removed row in the archive exactly once", async () => {
    // A tmpfs keeps the many fsyncs cheap; a SIGKILL loses nothing the page cache holds, as on any filesystem.
    const tmpfs = await mountTmpfs(256 * 1024 * 1024);
    await using dir = typeof tmpfs === "string" ? await tempDir("sqlite-") : tmpfs;
    const template = join(dir.path, "template.db");
    const statuses = ["done", "failed", "running", "pending"];
    createJobsDatabase(
      template,
      Array.from({ length: 4_000 }, (_, i) => ({ id: i + 1, status: statuses[i % 4]!, created_at: NOW - (i % 90) * DAY })),
      { journal: "wal", payloadBytes: 600 },
    );
    const original = readRows(template);
    const nonTerminal = [...original.values()].filter((r) => r.status === "running" || r.status === "pending");
    const options = (path: string, archive: string) => ({
      path,
      archive: { path: archive },
      batchTarget: 2,
      tables: [{ table: "jobs", terminal: ["done", "failed"], maxAge: "30d", maxRows: 1000 }],
    });

    // A first, uninterrupted pass calibrates how long a pass takes.
    const calibrate = join(dir.path, "calibrate.db");
    copyFileSync(template, calibrate);
    const { ms: fullPassMs } = await passInChild(options(calibrate, join(dir.path, "calibrate-archive.db")), null);

    let killed = 0;
    let window = fullPassMs; // shrinks when a pass outruns its kill (timings vary on a shared machine)
    for (let i = 0; i < ITERATIONS; i++) {
      const path = join(dir.path, `db-${i}.db`);
      const archive = join(dir.path, `archive-${i}.db`);
      copyFileSync(template, path);
      const result = await passInChild(options(path, archive), Math.random() * window);
      if (result.killed) killed++;
      else window = Math.min(window, result.ms) * 0.9;
      checkInvariants(path, archive, original, nonTerminal, `iteration ${i}`);

      // A pass after the crash finishes the job without copying any row twice.
      const rerun = await createRunner(createSqliteCompactorHook(options(path, archive)), { enabled: true }).runOnce();
      expect(rerun.error).toBeUndefined();
      checkInvariants(path, archive, original, nonTerminal, `iteration ${i} rerun`);
      const [dupes] = query<{ n: number }>(archive, "SELECT count(*) AS n FROM (SELECT id FROM jobs GROUP BY id HAVING count(*) > 1)");
      expect(dupes!.n).toBe(0);
      expect(readRows(path).size + readRows(archive).size).toBe(original.size);
    }
    expect(killed, "passes killed before they finished").toBeGreaterThan(ITERATIONS / 4);
  }, 600_000);
});

function checkInvariants(path: string, archive: string, original: Map<number, JobRow>, nonTerminal: JobRow[], where: string): void {
  expect(integrityCheck(path), where).toBe("ok");
  const left = readRows(path);
  for (const row of nonTerminal) expect(left.get(row.id), `${where}: non-terminal row ${row.id}`).toEqual(row);
  let archived = new Map<number, JobRow>();
  try {
    expect(integrityCheck(archive), where).toBe("ok");
    archived = readRows(archive);
  } catch (err) {
    if (!/no such table/.test((err as Error).message)) throw err; // killed before the archive table existed
  }
  for (const [id, row] of original) {
    if (!left.has(id)) expect(archived.get(id), `${where}: removed row ${id} is in the archive`).toEqual(row);
  }
}
