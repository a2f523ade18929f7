import { execFileSync } from "node:child_process";
import { existsSync, lstatSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "@reclaim/core/testing";
import { describe, expect, it } from "vitest";
import { removeTrees } from "./_trash.ts";
import { TreePool } from "./_tree_pool.ts";
import { measureFolders, mountPointsUnder } from "./_walk.ts";

/** `count` packages of 5 files each under `dir`. */
function fill(dir: string, count: number): void {
  for (let p = 0; p < count; p++) {
    mkdirSync(join(dir, `p${p}`, "lib"), { recursive: true });
    for (let f = 0; f < 5; f++) writeFileSync(join(dir, `p${p}`, "lib", `f${f}.js`), "x".repeat(100));
  }
}

describe("removeTrees() on the worker threads", () => {
  it("unlinks symlinks met at any depth and never what they point to, and measures what it unlinked", async () => {
    await using dir = await tempDir("wt-pool-");
    const precious = join(dir.path, "precious");
    fill(precious, 3);
    const doomed = join(dir.path, "trash/node_modules");
    fill(doomed, 300); // enough subtrees for both threads and several batches
    symlinkSync(precious, join(doomed, "p7/lib/linked-dir")); // deep: unlinked by a worker
    symlinkSync(join(precious, "p0/lib/f0.js"), join(doomed, "p9/linked-file"));
    symlinkSync(precious, join(doomed, "top-link")); // at the top: unlinked while splitting
    symlinkSync("../../precious", join(dir.path, "trash/relative-link"));
    await using pool = new TreePool(2);

    const result = await removeTrees(pool, [doomed, join(dir.path, "trash/relative-link")], lstatSync(doomed).dev);

    expect(result.errors).toEqual([]);
    expect(existsSync(doomed)).toBe(false);
    expect(existsSync(join(dir.path, "trash/relative-link"))).toBe(false);
    for (let p = 0; p < 3; p++) for (let f = 0; f < 5; f++) expect(readFileSync(join(precious, `p${p}`, "lib", `f${f}.js`), "utf8")).toBe("x".repeat(100));
    expect(result.roots[0]!.files).toBe(300 * 5 + 3);
    expect(result.roots[0]!.size).toBeGreaterThan(300 * 5 * 100);
    expect(result.roots[1]!.files).toBe(1);
  });
});

describe("measureFolders()", () => {
  it("measures like du -sb on the worker threads", async () => {
    await using dir = await tempDir("wt-measure-");
    fill(join(dir.path, "node_modules"), 120);
    symlinkSync("/usr", join(dir.path, "node_modules/p1/usr")); // counted as a link, never followed
    await using pool = new TreePool(2);

    const [folder] = await measureFolders(pool, dir.path, ["node_modules"]);

    const du = Number(execFileSync("du", ["-sb", join(dir.path, "node_modules")], { encoding: "utf8" }).split("\t")[0]);
    expect(folder).toMatchObject({ rel: "node_modules", size: du, files: 120 * 5 + 1, hazard: null });
  });
});

describe("mountPointsUnder()", () => {
  it("reads mount points from /proc/self/mountinfo, names with spaces unescaped", async (ctx) => {
    if (process.getuid?.() !== 0) return ctx.skip("bind mounts need root");
    await using dir = await tempDir("wt-mounts-");
    const target = join(dir.path, "a dir/with space");
    mkdirSync(target, { recursive: true });
    mkdirSync(join(dir.path, "source"));
    execFileSync("mount", ["--bind", join(dir.path, "source"), target]);
    try {
      expect(mountPointsUnder(dir.path)).toEqual([target]);
      expect(mountPointsUnder(join(dir.path, "source"))).toEqual([]);
    } finally {
      execFileSync("umount", [target]);
    }
  });
});
