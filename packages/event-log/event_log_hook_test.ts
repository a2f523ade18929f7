import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Writable } from "node:stream";
import { createLogger, createRunner } from "@reclaim/core";
import { memorySpans, tempDir } from "@reclaim/core/testing";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { numberedLines } from "./_test_oracle.ts";
import { createEventLogHook } from "./event_log_hook.ts";

function capturedLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split("\n").filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger({ level: "debug", destination }), lines };
}

describe("createEventLogHook()", () => {
  it("two hooks with their own names on one registry report separately", async () => {
    await using dir = await tempDir();
    const app = join(dir.path, "app.jsonl");
    const audit = join(dir.path, "audit.jsonl");
    await writeFile(app, numberedLines(100));
    await writeFile(audit, numberedLines(5));
    const registry = new Registry();
    const runners = [
      createRunner(createEventLogHook({ name: "app-log", path: app, maxBytes: "1000B", keepLines: 10, registry }), { registry, enabled: true }),
      createRunner(createEventLogHook({ name: "audit-log", path: audit, maxBytes: "1000B", keepLines: 10, registry }), { registry, enabled: true }),
    ];
    for (const runner of runners) expect((await runner.runOnce()).outcome).toBe("success");
    expect(runners.map((runner) => [runner.status().hook, runner.status().type])).toEqual([["app-log", "event-log"], ["audit-log", "event-log"]]);
    const bytes = await registry.getSingleMetricAsString("reclaim_event_log_bytes");
    expect(bytes).toContain('reclaim_event_log_bytes{hook="app-log"} 640');
    expect(bytes).toContain('reclaim_event_log_bytes{hook="audit-log"} 320');
    const rotations = await registry.getSingleMetricAsString("reclaim_event_log_rotations_total");
    expect(rotations).toContain('reclaim_event_log_rotations_total{hook="app-log"} 1');
    expect(rotations).toContain('reclaim_event_log_rotations_total{hook="audit-log"} 0');
    expect(await registry.getSingleMetricAsString("reclaim_hook_runs_total")).toContain('reclaim_hook_runs_total{hook="audit-log",outcome="success"} 1');
  });

  it("rotates the log in a pass and reports it in metrics, on its span and in one log line", async () => {
    await using dir = await tempDir();
    const path = join(dir.path, "events.jsonl");
    await writeFile(path, numberedLines(100));
    const registry = new Registry();
    const { tracer, spans } = memorySpans();
    const { logger, lines } = capturedLogger();
    const runner = createRunner(createEventLogHook({ path, maxBytes: "1000B", keepLines: 10, registry }), { registry, tracer, logger, enabled: true });

    const result = await runner.runOnce();
    expect(result.outcome).toBe("success");
    expect(result.report).toMatchObject({ outcome: "rotated", reclaimedBytes: 5760, bytesBefore: 6400, bytesAfter: 640, linesKept: 10, removed: 0 });
    expect(await readFile(path)).toEqual(numberedLines(10, 64, 90));

    expect(await registry.getSingleMetricAsString("reclaim_event_log_rotations_total")).toContain('reclaim_event_log_rotations_total{hook="event-log"} 1');
    expect(await registry.getSingleMetricAsString("reclaim_event_log_bytes")).toContain('reclaim_event_log_bytes{hook="event-log"} 640');
    expect(await registry.getSingleMetricAsString("reclaim_reclaimed_bytes_total")).toContain('reclaim_reclaimed_bytes_total{hook="event-log"} 5760');

    const [span] = await spans();
    expect(span?.name).toBe("rotate event-log");
    expect(span?.attributes).toMatchObject({
      "file.path": path,
      "reclaim.event_log.bytes_before": 6400,
      "reclaim.event_log.bytes_after": 640,
      "reclaim.event_log.lines_kept": 10,
      "reclaim.event_log.salvaged_bytes": 0,
    });
    const rotated = lines.filter((line) => String(line.msg).startsWith("rotated"));
    expect(rotated).toHaveLength(1);
    expect(rotated[0]).toMatchObject({ hook: "event-log", msg: "rotated events.jsonl: 6400 → 640 bytes", bytesBefore: 6400, bytesAfter: 640, linesKept: 10 });
  });

  it("leaves a log under the limit alone and still reports its size", async () => {
    await using dir = await tempDir();
    const path = join(dir.path, "events.jsonl");
    await writeFile(path, numberedLines(10));
    const registry = new Registry();
    const runner = createRunner(createEventLogHook({ path, registry }), { registry, enabled: true });
    expect((await runner.runOnce()).report).toMatchObject({ outcome: "under-limit", reclaimedBytes: 0 });
    expect(await registry.getSingleMetricAsString("reclaim_event_log_rotations_total")).toContain('reclaim_event_log_rotations_total{hook="event-log"} 0');
    expect(await registry.getSingleMetricAsString("reclaim_event_log_bytes")).toContain('reclaim_event_log_bytes{hook="event-log"} 640');
    expect(runner.status().details).toMatchObject({ path, bytes: 640, maxBytes: 52428800, keepLines: 10000, lastRotationAt: null });
  });

  it("in a dry run logs what it would do and touches nothing", async () => {
    await using dir = await tempDir();
    const path = join(dir.path, "events.jsonl");
    await writeFile(path, numberedLines(100));
    const registry = new Registry();
    const { logger, lines } = capturedLogger();
    const runner = createRunner(createEventLogHook({ path, maxBytes: 1000, keepLines: 10, registry }), { registry, logger, dryRun: true, enabled: true });
    expect((await runner.runOnce()).report).toMatchObject({ outcome: "would-rotate", reclaimedBytes: 5760 });
    expect(await readFile(path)).toEqual(numberedLines(100));
    expect(lines.some((line) => line.msg === "would rotate events.jsonl: 6400 → 640 bytes (dry run)")).toBe(true);
    expect(await registry.getSingleMetricAsString("reclaim_event_log_rotations_total")).toContain('reclaim_event_log_rotations_total{hook="event-log"} 0');
  });

  it("refuses bad options at creation, naming the field and the value", () => {
    expect(() => createEventLogHook({ path: "/x", maxBytes: "lots" })).toThrow("Cannot create event-log hook as 'maxBytes' must be a size");
    expect(() => createEventLogHook({ path: "/x", keepLines: -1 })).toThrow(/'keepLines' must be at least 0: current value is -1/);
    expect(() => createEventLogHook({ path: "/x", archive: { keep: 0 } })).toThrow(/'archive.keep'/);
    expect(() => createEventLogHook({ path: "" })).toThrow(RangeError);
    expect(() => createEventLogHook({ path: 42 as unknown as string })).toThrow(TypeError);
    expect(() => createEventLogHook({ path: "/x", colour: "red" } as never)).toThrow(/'colour' is not a known option/);
    let caught: unknown;
    try {
      createEventLogHook({ path: "/x", maxBytes: 0 });
    } catch (err) {
      caught = err;
    }
    expect(caught).toMatchObject({ code: "RECLAIM_ERR_INVALID_OPTION", field: "maxBytes" });
  });
});
