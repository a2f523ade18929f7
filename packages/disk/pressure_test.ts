import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { mountTmpfs, type Tmpfs } from "@reclaim/core/testing";
import { Registry } from "prom-client";
import { describe, expect, it, type TestContext } from "vitest";
import { createDiskHook } from "./disk_hook.ts";
import { readDiskUsage } from "./disk_usage.ts";
import { DAY, exists, file, runPass } from "./_test_fixtures.ts";

const MiB = 1024 * 1024;
const FILE = 160 * 1024;

async function tmpfsOrSkip(ctx: TestContext): Promise<Tmpfs> {
  const fs = await mountTmpfs(8 * MiB);
  if (typeof fs === "string") ctx.skip(fs);
  return fs as Tmpfs;
}

/** Fills the tmpfs with `count` files aged 3..(3+count) days (index 0 the oldest) spread over the media folders. */
async function fill(root: string, count: number, ageOf: (i: number) => number = (i) => (3 + count - i) * DAY): Promise<string[]> {
  const dirs = ["images", "videos/2026/11", "voice", "bid-images"];
  const paths: string[] = [];
  for (let i = 0; i < count; i++) paths.push(await file(root, `${dirs[i % dirs.length]}/f${String(i).padStart(3, "0")}.bin`, ageOf(i), FILE));
  return paths;
}

describe("createDiskHook() pressure sweep on a real tmpfs", () => {
  it("deletes the oldest eligible files first until usage is at or below the low watermark, keeping young ones", async (ctx) => {
    await using fs = await tmpfsOrSkip(ctx);
    const paths = await fill(fs.path, 40);
    const young = await file(fs.path, "images/young.bin", 6 * 3_600_000, FILE);
    const keypair = await file(fs.path, "images/agent-keypair.json", 90 * DAY, FILE);
    const before = readDiskUsage(fs.path).usedRatio;
    expect(before).toBeGreaterThan(0.7);
    const registry = new Registry();
    const report = await runPass(createDiskHook({ root: fs.path, threads: 2, registry }), { registry });
    const after = readDiskUsage(fs.path).usedRatio;
    expect(after).toBeLessThanOrEqual(0.6);
    expect(report.pressure).toMatchObject({ triggered: true, reachedLow: true });
    expect(report.removedByKind.pressure).toBeGreaterThan(0);
    const survived = await Promise.all(paths.map(exists));
    const deleted = survived.filter((s) => !s).length;
    // Oldest first: the deleted files are exactly the `deleted` oldest ones.
    expect(survived).toEqual(paths.map((_, i) => i >= deleted));
    expect(await exists(young)).toBe(true);
    expect(await exists(keypair)).toBe(true);
    expect(await registry.getSingleMetricAsString("reclaim_disk_pressure_sweeps_total")).toContain('reclaim_disk_pressure_sweeps_total{hook="disk",outcome="relieved"} 1');
    expect(await registry.getSingleMetricAsString("reclaim_disk_removed_bytes_total")).toContain(`reclaim_disk_removed_bytes_total{hook="disk",kind="pressure"} ${deleted * FILE}`);
  });

  it("keeps memory bounded by selecting in rounds and still deletes oldest first", async (ctx) => {
    await using fs = await tmpfsOrSkip(ctx);
    const paths = await fill(fs.path, 40);
    const report = await runPass(createDiskHook({ root: fs.path, threads: 0, pressureBatchSize: 2 }));
    expect(readDiskUsage(fs.path).usedRatio).toBeLessThanOrEqual(0.6);
    expect(report.pressure.triggered && report.pressure.rounds).toBeGreaterThan(1);
    const survived = await Promise.all(paths.map(exists));
    const deleted = survived.filter((s) => !s).length;
    expect(survived).toEqual(paths.map((_, i) => i >= deleted));
  });

  it("says why it could not get below the low watermark", async (ctx) => {
    await using fs = await tmpfsOrSkip(ctx);
    const paths = await fill(fs.path, 40, () => 3_600_000);
    const registry = new Registry();
    const report = await runPass(createDiskHook({ root: fs.path, threads: 2, registry }), { registry });
    expect(report.pressure).toMatchObject({ triggered: true, reachedLow: false, removed: 0, reason: "no eligible file left: 40 younger than pressure.minAge" });
    for (const path of paths) expect(await exists(path)).toBe(true);
    expect(await registry.getSingleMetricAsString("reclaim_disk_pressure_sweeps_total")).toContain('reclaim_disk_pressure_sweeps_total{hook="disk",outcome="insufficient"} 1');
  });

  it("dry run estimates the sweep and deletes nothing", async (ctx) => {
    await using fs = await tmpfsOrSkip(ctx);
    const paths = await fill(fs.path, 40);
    const report = await runPass(createDiskHook({ root: fs.path, threads: 2 }), { dryRun: true });
    expect(report.pressure).toMatchObject({ triggered: true, reachedLow: true });
    expect(report.removed).toBeGreaterThan(0);
    for (const path of paths) expect(await exists(path)).toBe(true);
  });

  it("clears references to files it deleted when there is no remote", async (ctx) => {
    await using fs = await tmpfsOrSkip(ctx);
    const paths = await fill(fs.path, 40);
    const rel = (p: string): string => p.slice(fs.path.length + 1);
    await writeFile(join(fs.path, "posts.json"), JSON.stringify([{ imageUrl: `/${rel(paths[0]!)}` }, { imageUrl: `/${rel(paths[39]!)}` }]));
    const report = await runPass(createDiskHook({ root: fs.path, threads: 2 }));
    expect(report.references.cleared).toBe(1);
    expect(JSON.parse(await readFile(join(fs.path, "posts.json"), "utf8"))).toEqual([{ imageUrl: null }, { imageUrl: `/${rel(paths[39]!)}` }]);
  });
});
