import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { TEMP_MARKER, writeFileAtomic } from "./atomic_write.ts";
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
