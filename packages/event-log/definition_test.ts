import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createLogger } from "@reclaim/core";
import { tempDir, testHookEnvironment } from "@reclaim/core/testing";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { numberedLines } from "./_test_oracle.ts";
import { eventLogDefinition } from "./definition.ts";

describe("eventLogDefinition", () => {
  it("fills in the seed's defaults and runs every hour after a minute", () => {
    expect(eventLogDefinition.name).toBe("event-log");
    expect(eventLogDefinition.schedule).toEqual({ interval: 3_600_000, initialDelay: 60_000 });
    expect(eventLogDefinition.options.parse({ path: "/data/events.jsonl" })).toEqual({
      path: "/data/events.jsonl",
      maxBytes: 50 * 1024 * 1024,
      keepLines: 10_000,
      archive: { enabled: false, keep: 5 },
      drainTimeout: 10_000,
    });
    expect(eventLogDefinition.options.parse({ path: "/d/e", maxBytes: "20MiB", archive: { enabled: true }, drainTimeout: "30s" })).toMatchObject({
      maxBytes: 20 * 1024 * 1024,
      archive: { enabled: true, keep: 5 },
      drainTimeout: 30_000,
    });
  });

  it("watches <dataDir>/events.jsonl in the embedded default", () => {
    const env = testHookEnvironment({ instance: "event-log", dataDir: "/app/.data" });
    expect(eventLogDefinition.embeddedDefault?.(env)).toEqual({ path: "/app/.data/events.jsonl" });
  });

  it("builds a hook that registers its metrics on the command's registry", async () => {
    await using dir = await tempDir();
    const path = join(dir.path, "events.jsonl");
    await writeFile(path, numberedLines(50));
    const registry = new Registry();
    const env = testHookEnvironment({ instance: "event-log", dataDir: dir.path, registry });
    const options = eventLogDefinition.options.parse({ ...eventLogDefinition.embeddedDefault?.(env), maxBytes: 100, keepLines: 1 });
    const hook = await eventLogDefinition.create(options, env);
    expect(hook).toMatchObject({ name: "event-log", spanName: "rotate event-log" });
    expect(await registry.getSingleMetricAsString("reclaim_event_log_bytes")).toContain('reclaim_event_log_bytes{hook="event-log"} 3200');
  });
});
