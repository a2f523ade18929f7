import type { ChildProcess } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { createRunner } from "@reclaim/core";
import { tempDir } from "@reclaim/core/testing";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { archivePattern } from "./_archive.ts";
import { exited, forkTs } from "./_test_fork.ts";
import { openEventLog } from "./appender.ts";
import { createEventLogHook, type EventLogReport } from "./event_log_hook.ts";

const WRITERS = 3;
const ROUNDS = 8;
const PER_ROUND = 1_500;
const IN_PROCESS = 3_000;

interface Line {
  w: number;
  n: number;
}

function parseLines(bytes: Buffer, where: string): Line[] {
  const text = bytes.toString("utf8");
  expect(text === "" || text.endsWith("\n"), `${where} ends with a whole line`).toBe(true);
  return text
    .split("\n")
    .slice(0, -1)
    .map((line) => {
      try {
        return JSON.parse(line) as Line;
      } catch {
        throw new Error(`${where} holds a torn or mixed line: ${JSON.stringify(line.slice(0, 120))}`);
      }
    });
}

describe("openEventLog() with the event-log hook", () => {
  it("loses and doubles no line when several processes append while the hook trims repeatedly", { timeout: 600_000 }, async () => {
    await using dir = await tempDir("event-log-noloss-");
    const path = join(dir.path, "events.jsonl");
    const registry = new Registry();
    // The archive keeps every trimmed-away head, so archives + the final file must be the whole history.
    const hook = createEventLogHook({ path, maxBytes: "32KiB", keepLines: 100, archive: { enabled: true, keep: 1_000_000 }, registry });
    const runner = createRunner(hook, { registry, enabled: true });

    const children: ChildProcess[] = [];
    const waiting: ChildProcess[] = [];
    let finished = 0;
    for (let w = 0; w < WRITERS; w++) {
      const child = forkTs("./_test_append_child.ts", [path, String(w), String(ROUNDS), String(PER_ROUND)], { leanCore: true });
      child.on("message", (message: { round?: number; done?: boolean }) => {
        if (message.done) finished++;
        else waiting.push(child);
      });
      children.push(child);
    }
    await using local = await openEventLog(path);
    const localWrites: Array<Promise<void>> = [];
    let localNext = 0;

    let rotations = 0;
    let salvaged = 0;
    while (finished < WRITERS) {
      const pass = runner.runOnce();
      // This process appends too, while its own hook is trimming.
      for (let i = 0; i < 25 && localNext < IN_PROCESS; i++) localWrites.push(local.appendJson({ w: 99, n: localNext++, pad: "y".repeat(30) }));
      const result = await pass;
      expect(result.outcome, result.error).toBe("success");
      const report = result.report as EventLogReport;
      if (report.outcome === "rotated") rotations++;
      salvaged += report.salvagedBytes;
      // Let each writer that finished a round start the next one, so rounds interleave with trims.
      for (const child of waiting.splice(0)) child.send("next");
    }
    while (localNext < IN_PROCESS) localWrites.push(local.appendJson({ w: 99, n: localNext++, pad: "y".repeat(30) }));
    await Promise.all(localWrites);
    for (const child of children) expect((await exited(child)).code).toBe(0);

    const pattern = archivePattern(path);
    const archives = (await readdir(dir.path)).filter((name) => pattern.test(name)).sort();
    const history: Line[] = [];
    for (const archive of archives) history.push(...parseLines(gunzipSync(await readFile(join(dir.path, archive))), archive));
    const final = parseLines(await readFile(path), "the final file");
    history.push(...final);

    const counts = new Map<number, number>([...Array.from({ length: WRITERS }, (_, w) => [w, ROUNDS * PER_ROUND] as const), [99, IN_PROCESS]]);
    for (const [writer, count] of counts) {
      const seen = history.filter((line) => line.w === writer).map((line) => line.n);
      // Every line, exactly once, in the order it was written.
      expect(seen.length, `lines of writer ${writer}`).toBe(count);
      expect(seen.every((n, i) => n === i), `writer ${writer}'s lines are 0..${count - 1} in order`).toBe(true);
    }
    // The final file alone: each writer's lines after its oldest kept line are all there.
    for (const writer of counts.keys()) {
      const kept = final.filter((line) => line.w === writer).map((line) => line.n);
      expect(kept.every((n, i) => i === 0 || n === kept[i - 1]! + 1)).toBe(true);
    }
    if (process.env.DEBUG_NOLOSS) console.log({ rotations, salvaged, archives: archives.length });
    expect(rotations).toBeGreaterThanOrEqual(2);
    expect(archives.length).toBe(rotations);
    expect(await registry.getSingleMetricAsString("reclaim_event_log_salvaged_bytes_total")).toContain(`reclaim_event_log_salvaged_bytes_total{hook="event-log"} ${salvaged}`);
  });
});
