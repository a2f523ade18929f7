import { execFileSync, spawn } from "node:child_process";
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
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

describe("removeTrees() against mounts and swaps", () => {
  it("never empties a bind mount of the same filesystem at any depth, met while splitting or by a worker", async (ctx) => {
    if (process.getuid?.() !== 0) return ctx.skip("bind mounting needs root");
    await using dir = await tempDir("wt-pool-");
    const outside = join(dir.path, "outside");
    fill(outside, 2);
    const doomed = join(dir.path, "trash/node_modules");
    fill(doomed, 10);
    const mounts = [join(doomed, "p1"), join(doomed, "p2/lib"), join(doomed, "p3/lib/a/b/c/d/e")];
    for (const mount of mounts) {
      mkdirSync(mount, { recursive: true });
      execFileSync("mount", ["--bind", outside, mount]);
    }
    try {
      await using pool = new TreePool(2);

      const result = await removeTrees(pool, [doomed], lstatSync(doomed).dev);

      expect(result.otherFilesystem).toBe(3);
      for (let p = 0; p < 2; p++) for (let f = 0; f < 5; f++) expect(readFileSync(join(outside, `p${p}`, "lib", `f${f}.js`), "utf8")).toBe("x".repeat(100));
      expect(existsSync(join(doomed, "p4"))).toBe(false);
    } finally {
      for (const mount of mounts) execFileSync("umount", [mount]);
    }
  });

  it("never deletes outside the trash while another process keeps swapping a directory of the first levels for a link to outside", async () => {
    await using dir = await tempDir("wt-pool-");
    const outside = join(dir.path, "outside");
    mkdirSync(outside);
    for (let f = 0; f < 100; f++) writeFileSync(join(outside, `keep${f}`), "k");
    await using pool = new TreePool(2);
    for (let round = 0; round < 30; round++) {
      const doomed = join(dir.path, `trash-${round}`);
      fill(doomed, 40);
      // Swaps doomed/p0..p9 with links to outside until doomed is gone.
      const swapper = spawn(process.execPath, ["-e", `
        const fs = require("node:fs");
        const x = ${JSON.stringify(doomed)};
        process.stdout.write("go\\n");
        for (;;) {
          if (!fs.existsSync(x)) break;
          for (let i = 0; i < 10; i++) {
            const p = x + "/p" + i;
            try { fs.symlinkSync(${JSON.stringify(outside)}, p + "-link"); } catch {}
            try { fs.renameSync(p, p + "-held"); } catch {}
            try { fs.renameSync(p + "-link", p); } catch {}
            try { fs.renameSync(p, p + "-link"); } catch {}
            try { fs.renameSync(p + "-held", p); } catch {}
          }
        }`], { stdio: ["ignore", "pipe", "inherit"] });
      await new Promise((resolve) => swapper.stdout!.once("data", resolve));
      const exited = new Promise((resolve) => swapper.once("exit", resolve));
      try {
        for (let pass = 0; pass < 5 && existsSync(doomed); pass++) await removeTrees(pool, [doomed], lstatSync(doomed).dev);
      } finally {
        swapper.kill();
        await exited;
      }
      execFileSync("rm", ["-rf", doomed]);
      expect(readdirSync(outside).length, `round ${round}`).toBe(100);
    }
  }, 300_000);
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
