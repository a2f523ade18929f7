import { chmod, chown, readdir, readFile, stat, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { removeStaleTemps, TEMP_MARKER, writeFileAtomic } from "./atomic_write.ts";
import { isReclaimEnabled } from "./kill_switch.ts";
import { tempDir } from "./testing.ts";

describe("writeFileAtomic()", () => {
  it("replaces the file's content and leaves no temporary file behind", async () => {
    await using dir = await tempDir();
    const path = join(dir.path, "posts.json");
    await writeFile(path, "old");
    await writeFileAtomic(path, '{"new":true}');
    expect(await readFile(path, "utf8")).toBe('{"new":true}');
    expect((await readdir(dir.path)).filter((name) => name.includes(TEMP_MARKER))).toEqual([]);
  });

  it("keeps the replaced file's mode and, as root, its owner", async (ctx) => {
    await using dir = await tempDir();
    const path = join(dir.path, "posts.json");
    await writeFile(path, "old");
    await chmod(path, 0o600);
    const asRoot = process.getuid?.() === 0;
    if (asRoot) await chown(path, 1234, 5678);
    await writeFileAtomic(path, "new");
    const after = await stat(path);
    expect(after.mode & 0o777).toBe(0o600);
    if (!asRoot) return ctx.skip("changing owners needs root");
    expect([after.uid, after.gid]).toEqual([1234, 5678]);
  });

  it("removes temp files left by a writer that died, and leaves a live writer's alone", async () => {
    await using dir = await tempDir();
    const path = join(dir.path, "posts.json");
    const dead = join(dir.path, `.posts.json${TEMP_MARKER}999999999-0badc0de`);
    const live = join(dir.path, `.posts.json${TEMP_MARKER}${process.ppid}-00c0ffee`);
    const old = join(dir.path, `.posts.json${TEMP_MARKER}${process.ppid}-0ld0ld00`);
    const other = join(dir.path, `.other.json${TEMP_MARKER}999999999-0badc0de`);
    for (const file of [dead, live, old, other]) await writeFile(file, "partial");
    const twoHoursAgo = new Date(Date.now() - 7_200_000);
    await utimes(old, twoHoursAgo, twoHoursAgo);
    expect(await removeStaleTemps(path)).toBe(2);
    await writeFileAtomic(path, "{}");
    expect((await readdir(dir.path)).sort()).toEqual([`.other.json${TEMP_MARKER}999999999-0badc0de`, `.posts.json${TEMP_MARKER}${process.ppid}-00c0ffee`, "posts.json"].sort());
  });

  it("leaves the original untouched when the folder is gone mid-way", async () => {
    await expect(writeFileAtomic("/nonexistent-dir/x.json", "x")).rejects.toMatchObject({ code: "ENOENT" });
  });
});

describe("isReclaimEnabled()", () => {
  it("is on by default and off for RECLAIM_ENABLED or GC_ENABLED set to false, 0, no or off", () => {
    expect(isReclaimEnabled({})).toBe(true);
    expect(isReclaimEnabled({ RECLAIM_ENABLED: "true" })).toBe(true);
    for (const value of ["false", "FALSE", "0", "no", "off"]) {
      expect(isReclaimEnabled({ RECLAIM_ENABLED: value })).toBe(false);
      expect(isReclaimEnabled({ GC_ENABLED: value })).toBe(false);
    }
  });
});
