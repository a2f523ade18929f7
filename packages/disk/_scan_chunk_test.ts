import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import { mkdir, symlink } from "node:fs/promises";
import { join } from "node:path";
import { TEMP_MARKER } from "@reclaim/core";
import { tempDir } from "@reclaim/core/testing";
import { describe, expect, it } from "vitest";
import { makeChunkProcessor, type ChunkTask } from "./_scan_chunk.ts";
import { chunkConfig, type ChunkConfig, type ScanMode, type TimestampField } from "./_scan_config.ts";
import { DAY, file } from "./_test_fixtures.ts";

/** A folder with one of everything a walk can meet: old and young files of several sizes, a subfolder, symlinks, a FIFO, temp and protected files. */
async function mixedFolder(root: string): Promise<ChunkTask> {
  await file(root, "m/old.png", 10 * DAY, 1234);
  await file(root, "m/older.png", 20 * DAY, 5);
  await file(root, "m/young.png", DAY, 99);
  await file(root, "m/empty.png", 9 * DAY, 0);
  await file(root, `m/x${TEMP_MARKER}1`, 10 * DAY);
  await file(root, "m/keep.json", 10 * DAY);
  await mkdir(join(root, "m/sub"));
  await symlink(join(root, "m/old.png"), join(root, "m/link.png"));
  await symlink(join(root, "m/sub"), join(root, "m/dirlink"));
  execFileSync("mkfifo", [join(root, "m/pipe")]);
  return { dir: join(root, "m"), names: [...fs.readdirSync(join(root, "m")), "ghost.png", "old.png/below"] };
}

const config = (root: string, mode: ScanMode, timestamp: TimestampField, portableStat: boolean): ChunkConfig =>
  chunkConfig(mode, { root, rootDev: fs.lstatSync(root).dev, minAge: 7 * DAY, recentlyModified: 60_000, timestamp, protect: { protectName: [["\\.json$", ""]], protectPath: [] }, dryRun: true, top: 3, portableStat });

describe("makeChunkProcessor()", () => {
  it.each(["collect", "audit", "age"] as const)("finds the same types, sizes and timestamps through the fs binding as through lstatSync (%s)", async (mode) => {
    await using dir = await tempDir("disk-chunk-");
    const root = fs.realpathSync(dir.path);
    const task = await mixedFolder(root);
    for (const timestamp of ["mtime", "ctime", "atime", "birthtime"] as const) {
      const viaBinding = makeChunkProcessor(config(root, mode, timestamp, false));
      const viaLstatSync = makeChunkProcessor(config(root, mode, timestamp, true));
      // On Node 20 the fast path must be the one taken, or this test compares lstatSync with itself.
      expect([viaBinding.viaBinding, viaLstatSync.viaBinding]).toEqual([true, false]);
      const fast = viaBinding(task);
      const portable = viaLstatSync(task);
      // Exact equality, timestamps included: the pressure sweep compares a collected mtime with a fresh lstatSync.
      expect(fast).toEqual(portable);
    }
    const collected = makeChunkProcessor(config(root, "collect", "mtime", false))(task);
    expect(collected.candidates?.paths.map((path) => path.slice(root.length + 1)).sort()).toEqual(["m/empty.png", "m/old.png", "m/older.png"]);
    expect(collected.candidates?.mtime).toEqual(collected.candidates?.paths.map((path) => fs.lstatSync(path).mtimeMs));
    expect(collected.skipped).toMatchObject({ symlink: 2, special: 1, vanished: 1, temp: 1, protected: 1, tooYoung: 1 });
    expect(collected.dirs).toEqual([join(root, "m/sub")]);
    expect(collected.errors).toBe(1);
    expect(collected.errorSamples[0]).toMatch(/ENOTDIR/);
  });
});
