import { execFileSync } from "node:child_process";
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "@reclaim/core/testing";
import { describe, expect, it } from "vitest";
import { clearTreeJs, nativeClearTree } from "./_tree_tasks.ts";

/** A node_modules-like tree with links at every depth pointing at `precious` (files, directories, relative). */
function build(dir: string, precious: string): void {
  for (let p = 0; p < 40; p++) {
    const lib = join(dir, ".pnpm", `pkg${p}@1.0.0`, "node_modules", `pkg${p}`, "lib");
    mkdirSync(lib, { recursive: true });
    for (let f = 0; f < 5; f++) writeFileSync(join(lib, `f${f}.js`), "y".repeat(10 + f * 1000));
  }
  mkdirSync(join(dir, "empty/nested/deeper"), { recursive: true });
  symlinkSync(precious, join(dir, "top-link"));
  symlinkSync(precious, join(dir, ".pnpm/pkg3@1.0.0/node_modules/pkg3/lib/linked-dir"));
  symlinkSync(join(precious, "keep.txt"), join(dir, ".pnpm/pkg5@1.0.0/node_modules/linked-file"));
  symlinkSync("../../../../precious", join(dir, ".pnpm/pkg7@1.0.0/node_modules/relative"));
  symlinkSync("/nonexistent/target", join(dir, "dangling"));
}

describe("clearTree()", () => {
  it("is built by pnpm install (set RECLAIM_NATIVE=0 to test without it)", () => {
    if (process.env.RECLAIM_NATIVE === "0") return;
    expect(nativeClearTree, "packages/worktrees/build/Release/clear_tree.node is missing: run pnpm install (needs a C compiler)").not.toBeNull();
  });

  it("empties a tree without following a link, native and JavaScript alike, and measures what it unlinked like du -sb", async () => {
    await using dir = await tempDir("wt-clear-");
    const precious = join(dir.path, "precious");
    mkdirSync(join(precious, "sub"), { recursive: true });
    writeFileSync(join(precious, "keep.txt"), "keep");
    writeFileSync(join(precious, "sub/keep.txt"), "keep too");
    const results = [];
    for (const [name, clear] of [["js", clearTreeJs], ["native", nativeClearTree ?? clearTreeJs]] as const) {
      const tree = join(dir.path, name);
      build(tree, precious);
      const du = Number(execFileSync("du", ["-sb", tree], { encoding: "utf8" }).split("\t")[0]);
      const top = lstatSync(tree);

      const cleared = clear(tree, top.dev);

      expect(cleared.errors).toEqual([]);
      expect(cleared.empty).toBe(true);
      expect(readdirSync(tree)).toEqual([]);
      expect(cleared.size + top.size).toBe(du); // the folder itself is the caller's
      results.push(cleared);
    }
    expect(results[1]).toEqual(results[0]);
    expect(results[0]!.files).toBe(40 * 5 + 5);
    expect(readFileSync(join(precious, "keep.txt"), "utf8")).toBe("keep");
    expect(readFileSync(join(precious, "sub/keep.txt"), "utf8")).toBe("keep too");
  });

  it("never enters a directory on another filesystem, and leaves what it cannot remove with a message", async (ctx) => {
    if (process.getuid?.() !== 0) return ctx.skip("mounting a tmpfs needs root");
    await using dir = await tempDir("wt-clear-");
    for (const [name, clear] of [["js", clearTreeJs], ["native", nativeClearTree ?? clearTreeJs]] as const) {
      const tree = join(dir.path, name);
      const mount = join(tree, "a/mounted");
      mkdirSync(mount, { recursive: true });
      writeFileSync(join(tree, "a/file"), "x");
      execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", mount]);
      try {
        writeFileSync(join(mount, "other-fs.txt"), "stays");

        const cleared = clear(tree, lstatSync(tree).dev);

        expect(cleared).toMatchObject({ empty: false, otherFilesystem: 1, files: 1 });
        expect(readFileSync(join(mount, "other-fs.txt"), "utf8")).toBe("stays");
        expect(existsSync(join(tree, "a/file"))).toBe(false);
      } finally {
        execFileSync("umount", [mount]);
      }
    }
  });
});
