import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import { mkdir, readFile, symlink, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { TEMP_MARKER } from "@reclaim/core";
import { memorySpans, mountTmpfs, tempDir } from "@reclaim/core/testing";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { createDiskHook } from "./disk_hook.ts";
import { scanTrees } from "./_scan.ts";
import { makeChunkProcessor } from "./_scan_chunk.ts";
import { chunkConfig } from "./_scan_config.ts";
import { DAY, exists, file, runPass } from "./_test_fixtures.ts";

const OLD = 10 * DAY;
const YOUNG = 2 * DAY;
/** Keeps the pressure sweep out of age-sweep tests, whatever the host's disk usage. */
const noPressure = { enabled: false };

describe("createDiskHook() age sweep", () => {
  it.each([0, 2])("deletes media older than maxAge and keeps younger files (threads: %i)", async (threads) => {
    await using dir = await tempDir("disk-");
    const old = await Promise.all([file(dir.path, "images/a.png", OLD), file(dir.path, "videos/deep/er/b.mp4", OLD), file(dir.path, "voice/c.ogg", OLD), file(dir.path, "bid-images/d.png", OLD)]);
    const young = await Promise.all([file(dir.path, "images/new.png", YOUNG), file(dir.path, "videos/deep/new.mp4", YOUNG)]);
    const outside = await file(dir.path, "other/old.bin", OLD);
    const hook = createDiskHook({ root: dir.path, remote: { enabled: true }, pressure: noPressure, threads });
    const report = await runPass(hook);
    for (const path of old) expect(await exists(path)).toBe(false);
    for (const path of young) expect(await exists(path)).toBe(true);
    expect(await exists(outside)).toBe(true);
    expect(report.age).toMatchObject({ ran: true, removed: 4, bytes: 64 });
    expect(report.removedByKind).toEqual({ age: 4, pressure: 0 });
  });

  it("does not sweep by age without a remote copy unless told to", async () => {
    await using dir = await tempDir("disk-");
    const path = await file(dir.path, "images/a.png", OLD);
    const off = await runPass(createDiskHook({ root: dir.path, pressure: noPressure, threads: 0 }));
    expect(off.age.ran).toBe(false);
    expect(off.age.reason).toMatch(/remote.enabled is false/);
    expect(await exists(path)).toBe(true);
    await runPass(createDiskHook({ root: dir.path, remote: { requireForAgeSweep: false }, pressure: noPressure, threads: 0 }));
    expect(await exists(path)).toBe(false);
  });

  it("dry run reports what would go and touches nothing", async () => {
    await using dir = await tempDir("disk-");
    const path = await file(dir.path, "images/a.png", OLD, 100);
    const report = await runPass(createDiskHook({ root: dir.path, remote: { enabled: true }, pressure: noPressure, threads: 2 }), { dryRun: true });
    expect(report).toMatchObject({ removed: 1, reclaimedBytes: 100 });
    expect(await exists(path)).toBe(true);
  });

  it("judges age by the configured timestamp", async () => {
    await using dir = await tempDir("disk-");
    // mtime 10 days old, but ctime is now (utimes changes ctime): ctime says young.
    const path = await file(dir.path, "images/a.png", OLD);
    await runPass(createDiskHook({ root: dir.path, remote: { enabled: true }, timestamp: "ctime", pressure: noPressure, threads: 0 }));
    expect(await exists(path)).toBe(true);
    await runPass(createDiskHook({ root: dir.path, remote: { enabled: true }, timestamp: "mtime", pressure: noPressure, threads: 0 }));
    expect(await exists(path)).toBe(false);
  });
});

describe("createDiskHook() never deletes what it should not", () => {
  it("never follows a symlinked folder out of the root, nor deletes through a symlink to a file", async () => {
    await using dir = await tempDir("disk-");
    await using outside = await tempDir("disk-outside-");
    const victim = await file(outside.path, "precious/old.png", OLD);
    const victimFile = await file(outside.path, "single.png", OLD);
    await mkdir(join(dir.path, "images"), { recursive: true });
    await symlink(join(outside.path, "precious"), join(dir.path, "images", "escape"));
    await symlink(victimFile, join(dir.path, "images", "link.png"));
    const at = (Date.now() - OLD) / 1000;
    await fs.promises.lutimes(join(dir.path, "images", "link.png"), at, at);
    await fs.promises.lutimes(join(dir.path, "images", "escape"), at, at);
    const report = await runPass(createDiskHook({ root: dir.path, remote: { enabled: true }, pressure: noPressure, threads: 2 }));
    expect(await exists(victim)).toBe(true);
    expect(await exists(victimFile)).toBe(true);
    expect(await exists(join(dir.path, "images", "link.png"))).toBe(true);
    expect(await exists(join(dir.path, "images", "escape"))).toBe(true);
    expect(report.age.skipped.symlink).toBe(2);
    expect(report.removed).toBe(0);
  });

  it("refuses a media folder that is itself a symlink to somewhere else", async () => {
    await using dir = await tempDir("disk-");
    await using outside = await tempDir("disk-outside-");
    const victim = await file(outside.path, "old.png", OLD);
    await symlink(outside.path, join(dir.path, "images"));
    const report = await runPass(createDiskHook({ root: dir.path, remote: { enabled: true }, pressure: noPressure, threads: 0 }));
    expect(await exists(victim)).toBe(true);
    expect(report.refusedMediaDirs).toEqual([{ dir: "images", reason: "is a symlink (never followed)" }]);
  });

  it("never climbs out of the root through a media folder reached via a symlinked parent", async () => {
    await using dir = await tempDir("disk-");
    await using outside = await tempDir("disk-outside-");
    const victim = await file(outside.path, "images/old.png", OLD);
    await symlink(outside.path, join(dir.path, "media"));
    const report = await runPass(createDiskHook({ root: dir.path, mediaDirs: ["media/images"], remote: { enabled: true }, pressure: noPressure, threads: 0 }));
    expect(await exists(victim)).toBe(true);
    expect(report.refusedMediaDirs[0]?.reason).toBe("is reached through a symlink");
  });

  it("keeps protected names, path globs, reclaim temp files and files still being written", async () => {
    await using dir = await tempDir("disk-");
    const kept = await Promise.all([
      file(dir.path, "images/posts.json", OLD),
      file(dir.path, "images/agent-keypair.bin", OLD),
      file(dir.path, "images/tls.key", OLD),
      file(dir.path, "images/.hidden.key", OLD),
      file(dir.path, "videos/keep/forever.mp4", OLD),
      file(dir.path, `images/.a.png${TEMP_MARKER}42-abcd`, OLD),
    ]);
    // atime is old (the configured timestamp) but mtime is now: still being written.
    const writing = await file(dir.path, "images/writing.png", 0);
    const at = (Date.now() - OLD) / 1000;
    await utimes(writing, at, Date.now() / 1000);
    const gone = await file(dir.path, "videos/old.mp4", OLD);
    const report = await runPass(
      createDiskHook({ root: dir.path, remote: { enabled: true }, timestamp: "atime", protect: ["*.json", "*keypair*", "*.key", "videos/keep/**"], pressure: noPressure, threads: 0 }),
    );
    for (const path of [...kept, writing]) expect(await exists(path), path).toBe(true);
    expect(await exists(gone)).toBe(false);
    expect(report.age.skipped).toMatchObject({ protected: 5, temp: 1, recent: 1 });
  });

  it("never crosses into another filesystem mounted inside the root", async (ctx) => {
    await using dir = await tempDir("disk-");
    const outer = await file(dir.path, "images/old.png", OLD);
    const mountPoint = join(dir.path, "images", "mnt");
    await mkdir(mountPoint);
    try {
      execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", mountPoint], { stdio: "pipe" });
    } catch (err) {
      return ctx.skip(`cannot mount a tmpfs inside the root: ${(err as Error).message.split("\n")[0]}`);
    }
    try {
      const inner = await file(mountPoint, "old.png", OLD);
      const report = await runPass(createDiskHook({ root: dir.path, remote: { enabled: true }, pressure: noPressure, threads: 2 }));
      expect(await exists(inner)).toBe(true);
      expect(await exists(outer)).toBe(false);
      expect(report.age.skipped.otherFilesystem).toBe(1);
    } finally {
      execFileSync("umount", ["-l", mountPoint], { stdio: "pipe" });
    }
  });

  it("tolerates files vanishing between listing and deleting", async () => {
    await using dir = await tempDir("disk-");
    await file(dir.path, "images/a.png", OLD);
    const real = fs.realpathSync(dir.path);
    const process = makeChunkProcessor(chunkConfig("age", { root: real, rootDev: fs.lstatSync(real).dev, minAge: 7 * DAY, recentlyModified: 60_000 }));
    // "a.png" listed twice (the second time it is already gone) and a name that never existed.
    const result = process({ dir: join(real, "images"), names: ["a.png", "a.png", "ghost.png"] });
    expect(result).toMatchObject({ files: 1, errors: 0 });
    expect(result.skipped.vanished).toBe(2);
  });

  it.each([0, 2])("stops between chunks when the pass is aborted, deleting nothing more (threads: %i)", async (threads) => {
    await using dir = await tempDir("disk-");
    const path = await file(dir.path, "images/a.png", OLD);
    const real = fs.realpathSync(dir.path);
    const controller = new AbortController();
    controller.abort();
    const config = chunkConfig("age", { root: real, rootDev: fs.lstatSync(real).dev });
    await expect(scanTrees([join(real, "images")], config, { threads, signal: controller.signal })).rejects.toMatchObject({ code: "RECLAIM_ERR_ABORTED" });
    expect(await exists(path)).toBe(true);
  });

  it.each([0, 2])("streams very large directories with opendir and finds the same files (threads: %i)", async (threads) => {
    await using dir = await tempDir("disk-");
    await Promise.all(Array.from({ length: 1200 }, (_, i) => file(dir.path, `images/${i % 2 ? "sub/" : ""}f${i}.png`, i % 3 ? OLD : YOUNG)));
    const real = fs.realpathSync(dir.path);
    const config = chunkConfig("age", { root: real, rootDev: fs.lstatSync(real).dev, minAge: 7 * DAY, recentlyModified: 60_000, dryRun: true });
    const streamed = await scanTrees([join(real, "images")], config, { threads, streamDirectoryBytes: 0 });
    const listed = await scanTrees([join(real, "images")], config, { threads });
    expect(streamed.files).toBe(800);
    expect(listed.files).toBe(800);
    expect(streamed.directories).toBe(2);
  });

  it("rejects bad options naming the field and the value", () => {
    expect(() => createDiskHook({ root: "/data", pressure: { high: 1.7 } })).toThrow("Cannot create disk hook as 'pressure.high' must be at most 1: current value is 1.7");
    expect(() => createDiskHook({ root: "/data", pressure: { high: 0.5, low: 0.6 } })).toThrow(/'pressure.low' must be below pressure.high \(0.5\): current value is 0.6/);
    expect(() => createDiskHook({ root: "/data", mediaDirs: ["../etc"] })).toThrow(/'mediaDirs\[0\]' must be a path relative to the root/);
    expect(() => createDiskHook({ root: "/data", mediaDirs: ["./"], remote: { requireForAgeSweep: false } })).toThrow(/'mediaDirs\[0\]' must be a folder inside the root, not the root itself .*: current value is "\.\/"/);
    expect(() => createDiskHook({ root: "/data", mediaDirs: ["images", "images/thumbs"] })).toThrow(/'mediaDirs\[1\]' must not be inside mediaDirs\[0\]/);
    expect(() => createDiskHook({ root: "/data", maxAge: "7 days" })).toThrow(/'maxAge' must be a duration/);
    expect(() => createDiskHook({ root: "/data", mount: "/app/.data" })).toThrow(/'mount' must be a short name/);
  });
});

describe("createDiskHook() references", () => {
  it("clears fields pointing at deleted files by root-relative path, never by bare name", async () => {
    await using dir = await tempDir("disk-");
    await file(dir.path, "images/a.png", OLD);
    await file(dir.path, "videos/a.png", YOUNG);
    await file(dir.path, "images/b.png", OLD);
    const posts = [
      { id: 1, imageUrl: "/images/a.png", videoUrl: "videos/a.png" },
      { id: 2, imageUrl: "images/b.png?v=3", nested: { videoUrl: "./images/a.png" } },
      { id: 3, imageUrl: "https://elsewhere.example/images/a.png" },
    ];
    await writeFile(join(dir.path, "posts.json"), `${JSON.stringify(posts, null, 2)}\n`);
    const report = await runPass(createDiskHook({ root: dir.path, remote: { requireForAgeSweep: false }, pressure: noPressure, threads: 2 }));
    const after = JSON.parse(await readFile(join(dir.path, "posts.json"), "utf8")) as typeof posts;
    expect(after).toEqual([
      { id: 1, imageUrl: null, videoUrl: "videos/a.png" },
      { id: 2, imageUrl: null, nested: { videoUrl: null } },
      { id: 3, imageUrl: "https://elsewhere.example/images/a.png" },
    ]);
    expect(report.references).toMatchObject({ cleared: 3, stores: { "posts.json": 3 }, problems: [] });
    expect(await readFile(join(dir.path, "posts.json"), "utf8")).toMatch(/^\[\n {2}\{/);
  });

  it("rewrites the store in place: only the cleared values change, big integers and 1.10 stay as written", async () => {
    await using dir = await tempDir("disk-");
    await file(dir.path, "images/a.png", OLD);
    const store = '{\n    "seq": 1234567890123456789,\n    "posts": [{"price": 1.10, "imageUrl": "/images/a.png", "id": 9007199254740993}]\n}\n';
    await writeFile(join(dir.path, "posts.json"), store);
    const report = await runPass(createDiskHook({ root: dir.path, remote: { requireForAgeSweep: false }, pressure: noPressure, threads: 0 }));
    expect(report.references.cleared).toBe(1);
    expect(await readFile(join(dir.path, "posts.json"), "utf8")).toBe(store.replace('"/images/a.png"', "null"));
  });

  it("leaves a store that fails to parse untouched and reports it", async () => {
    await using dir = await tempDir("disk-");
    await file(dir.path, "images/a.png", OLD);
    const broken = '[{"imageUrl": "/images/a.png"},';
    await writeFile(join(dir.path, "posts.json"), broken);
    const report = await runPass(createDiskHook({ root: dir.path, remote: { requireForAgeSweep: false }, pressure: noPressure, threads: 0 }));
    expect(await readFile(join(dir.path, "posts.json"), "utf8")).toBe(broken);
    expect(report.references.problems).toEqual([{ store: "posts.json", reason: expect.stringMatching(/^does not parse as JSON/) }]);
  });

  it("leaves references alone when a remote holds the copies", async () => {
    await using dir = await tempDir("disk-");
    await file(dir.path, "images/a.png", OLD);
    const text = JSON.stringify([{ imageUrl: "/images/a.png" }]);
    await writeFile(join(dir.path, "posts.json"), text);
    await runPass(createDiskHook({ root: dir.path, remote: { enabled: true }, pressure: noPressure, threads: 0 }));
    expect(await exists(join(dir.path, "images/a.png"))).toBe(false);
    expect(await readFile(join(dir.path, "posts.json"), "utf8")).toBe(text);
  });
});

describe("createDiskHook() observability", () => {
  it("records the sweep disk span, removed kinds, bytes and usage gauges", async () => {
    await using dir = await tempDir("disk-");
    await file(dir.path, "images/a.png", OLD, 1000);
    const registry = new Registry();
    const { tracer, spans } = memorySpans();
    await runPass(createDiskHook({ root: dir.path, remote: { enabled: true }, pressure: noPressure, threads: 0, registry }), { registry, tracer });
    const [span] = await spans();
    expect(span?.name).toBe("sweep disk");
    expect(span?.attributes).toMatchObject({ "reclaim.disk.age.removed": 1, "reclaim.disk.pressure.triggered": false, "reclaim.disk.mount": "data" });
    expect(await registry.getSingleMetricAsString("reclaim_removed_total")).toContain('reclaim_removed_total{hook="disk",kind="age"} 1');
    expect(await registry.getSingleMetricAsString("reclaim_disk_removed_bytes_total")).toContain('reclaim_disk_removed_bytes_total{hook="disk",kind="age"} 1000');
    expect(await registry.getSingleMetricAsString("reclaim_disk_used_ratio")).toMatch(/reclaim_disk_used_ratio\{hook="disk",mount="data"\} 0?\.\d+|reclaim_disk_used_ratio\{hook="disk",mount="data"\} [01]/);
    expect(await registry.getSingleMetricAsString("reclaim_disk_free_bytes")).toMatch(/reclaim_disk_free_bytes\{hook="disk",mount="data"\} \d+/);
    expect(await registry.getSingleMetricAsString("reclaim_disk_full_forecast_seconds")).toContain('reclaim_disk_full_forecast_seconds{hook="disk",mount="data"} -1');
  });
});
