import { Writable } from "node:stream";
import { createLogger, silentLogger } from "@reclaim/core";
import { tempDir, testHookEnvironment } from "@reclaim/core/testing";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { diskDefinition, startupDiskAudit } from "./definition.ts";
import { file } from "./_test_fixtures.ts";

describe("diskDefinition", () => {
  it("fills in the documented defaults", () => {
    const options = diskDefinition.options.parse({ root: "/data" });
    expect(options).toEqual({
      root: "/data",
      mount: "data",
      mediaDirs: ["images", "videos", "voice", "bid-images"],
      maxAge: 604_800_000,
      timestamp: "mtime",
      recentlyModified: 60_000,
      protect: ["*.json", "*keypair*", "*.key"],
      remote: { enabled: false, requireForAgeSweep: true },
      pressure: { enabled: true, high: 0.7, low: 0.6, minAge: 86_400_000 },
      references: { stores: ["posts.json"], fields: ["imageUrl", "videoUrl"], baseUrls: [] },
      audit: { atStart: true, top: 10 },
      forecastSamples: 24,
    });
    expect(diskDefinition.schedule).toEqual({ interval: 3_600_000, initialDelay: 60_000 });
  });

  it("embedded default looks after the data dir and enables the remote only with RECLAIM_REMOTE_BASE_URL", () => {
    const env = testHookEnvironment({ instance: "disk", dataDir: "/srv/.data" });
    expect(diskDefinition.embeddedDefault?.(env)).toEqual({ root: "/srv/.data", remote: { enabled: false } });
    expect(diskDefinition.embeddedDefault?.({ ...env, env: { RECLAIM_REMOTE_BASE_URL: "https://cdn.example/" } })).toEqual({ root: "/srv/.data", remote: { enabled: true } });
  });

  it("creates a disk hook with the sweep disk span", async () => {
    const env = testHookEnvironment({ instance: "disk", dataDir: "/srv/.data" });
    const hook = await diskDefinition.create(diskDefinition.options.parse({ root: "/data" }), env);
    expect(hook).toMatchObject({ name: "disk", spanName: "sweep disk" });
  });

  it("startupDiskAudit() logs the audit unless audit.atStart is false", async () => {
    await using dir = await tempDir("disk-def-");
    await file(dir.path, "images/a.png", 0, 100);
    const lines: string[] = [];
    const logger = createLogger({ destination: new Writable({ write: (chunk: Buffer, _e, done) => (lines.push(chunk.toString()), done()) }) });
    const result = await startupDiskAudit(diskDefinition.options.parse({ root: dir.path }), { logger, instance: "media" });
    expect(result?.totalBytes).toBe(100);
    expect(JSON.parse(lines[0]!)).toMatchObject({ hook: "media", event: "disk-audit" });
    expect(await startupDiskAudit(diskDefinition.options.parse({ root: dir.path, audit: { atStart: false } }), { logger, instance: "media" })).toBeUndefined();
  });
});
