import { execFileSync, spawn } from "node:child_process";
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

  const both = [["js", clearTreeJs], ["native", nativeClearTree ?? clearTreeJs]] as const;

  it("never enters a bind mount of the same filesystem (same device: only the mount id tells), like any mount point", async (ctx) => {
    if (process.getuid?.() !== 0) return ctx.skip("bind mounting needs root");
    await using dir = await tempDir("wt-clear-");
    const outside = join(dir.path, "outside");
    mkdirSync(outside);
    writeFileSync(join(outside, "precious.txt"), "stays");
    for (const [name, clear] of both) {
      const tree = join(dir.path, name);
      const mount = join(tree, "a/bound");
      mkdirSync(mount, { recursive: true });
      writeFileSync(join(tree, "a/file"), "x");
      execFileSync("mount", ["--bind", outside, mount]);
      try {
        const cleared = clear(tree, lstatSync(tree).dev);

        expect(cleared).toMatchObject({ empty: false, otherFilesystem: 1, files: 1, errors: [] });
        expect(readFileSync(join(mount, "precious.txt"), "utf8")).toBe("stays");
      } finally {
        execFileSync("umount", [mount]);
      }
    }
    expect(readFileSync(join(outside, "precious.txt"), "utf8")).toBe("stays");
  });

  it("never enters a top that is a link (with or without a trailing slash) or on another device than it is told", async () => {
    await using dir = await tempDir("wt-clear-");
    const outside = join(dir.path, "outside");
    mkdirSync(outside);
    writeFileSync(join(outside, "precious.txt"), "stays");
    symlinkSync(outside, join(dir.path, "link"));
    const dev = lstatSync(outside).dev;
    for (const [name, clear] of both) {
      for (const top of [join(dir.path, "link"), join(dir.path, "link") + "/", join(dir.path, "link") + "//"]) {
        expect(clear(top, dev), `${name} ${top}`).toMatchObject({ empty: false, entries: 0 });
      }
      expect(clear(outside, dev + 1), name).toMatchObject({ empty: false, entries: 0, otherFilesystem: 1 });
      expect(clear(join(dir.path, "missing"), dev), name).toMatchObject({ empty: true, entries: 0, errors: [] });
    }
    expect(readFileSync(join(outside, "precious.txt"), "utf8")).toBe("stays");
  });

  it("removes names that are not UTF-8, or hold newlines and spaces, and gives the same answers both ways", async () => {
    await using dir = await tempDir("wt-clear-");
    const results = [];
    for (const [name, clear] of both) {
      const tree = join(dir.path, name);
      const bytes = (...parts: Array<string | number[]>) => Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p) : Buffer.from(p))));
      mkdirSync(join(tree, "a\nb/ c "), { recursive: true });
      writeFileSync(join(tree, "a\nb/ c /new\nline"), "n");
      mkdirSync(bytes(tree, "/", [0xff, 0xfe, 0x41]));
      writeFileSync(bytes(tree, "/", [0xff, 0xfe, 0x41], "/f", [0xe9]), "latin-1");
      writeFileSync(bytes(tree, "/", [0xc3, 0x28]), "bad UTF-8");
      const du = Number(execFileSync("du", ["-sb", tree], { encoding: "utf8" }).split("\t")[0]);

      const cleared = clear(tree, lstatSync(tree).dev);

      expect(cleared.errors, name).toEqual([]);
      expect(cleared.empty, name).toBe(true);
      expect(readdirSync(tree)).toEqual([]);
      expect(cleared.size + lstatSync(tree).size).toBe(du);
      results.push(cleared);
    }
    expect(results[1]).toEqual(results[0]);
    expect(results[0]!.files).toBe(3);
  });

  it("leaves a directory nested deeper than 1024 levels in place with a message, both ways, and removes the rest", async () => {
    await using dir = await tempDir("wt-clear-");
    for (const [name, clear] of both) {
      const tree = join(dir.path, name);
      mkdirSync(tree);
      writeFileSync(join(tree, "shallow.txt"), "x");
      mkdirSync(join(tree, "d/".repeat(1030)), { recursive: true });
      writeFileSync(join(tree, "d/".repeat(1030), "f"), "deep");

      const cleared = clear(tree, lstatSync(tree).dev);

      expect(cleared.empty, name).toBe(false);
      expect(cleared.errors, name).toHaveLength(1);
      expect(cleared.errors[0], name).toMatch(/nested too deep \(left in place\)$/);
      expect(existsSync(join(tree, "shallow.txt")), name).toBe(false);
      expect(existsSync(join(tree, "d/d/d")), name).toBe(true);
      execFileSync("rm", ["-rf", join(tree, "d")]);
    }
  }, 180_000);

  it("never deletes outside the tree while another process keeps swapping a directory in it for a link to outside", async () => {
    await using dir = await tempDir("wt-clear-");
    const outside = join(dir.path, "outside");
    mkdirSync(join(outside, "sub"), { recursive: true });
    for (let f = 0; f < 50; f++) writeFileSync(join(outside, `keep${f}`), "k");
    for (let f = 0; f < 50; f++) writeFileSync(join(outside, `sub/keep${f}`), "k");
    for (const [name, clear] of both) {
      for (let round = 0; round < 20; round++) {
        const tree = join(dir.path, `${name}-${round}`);
        const x = join(tree, "x");
        mkdirSync(join(x, "d/sub"), { recursive: true });
        for (let f = 0; f < 200; f++) writeFileSync(join(x, `d/keep${f}`), "t");
        for (let f = 0; f < 50; f++) writeFileSync(join(x, `d/sub/keep${f}`), "t");
        // Swaps x/d and x/link (to outside, and to outside/sub through x/d) until x is gone.
        const swapper = spawn(process.execPath, ["-e", `
          const fs = require("node:fs");
          const x = ${JSON.stringify(x)};
          try { fs.symlinkSync(${JSON.stringify(outside)}, x + "/link"); } catch {}
          process.stdout.write("go\\n");
          for (;;) {
            try { fs.renameSync(x + "/d", x + "/held"); } catch (e) { if (!fs.existsSync(x)) break; }
            try { fs.renameSync(x + "/link", x + "/d"); } catch {}
            try { fs.renameSync(x + "/d", x + "/link"); } catch {}
            try { fs.renameSync(x + "/held", x + "/d"); } catch {}
            try { fs.symlinkSync(${JSON.stringify(outside)}, x + "/link"); } catch {}
          }`], { stdio: ["ignore", "pipe", "inherit"] });
        await new Promise((resolve) => swapper.stdout!.once("data", resolve));
        const exited = new Promise((resolve) => swapper.once("exit", resolve));
        try {
          for (let pass = 0; pass < 5 && existsSync(tree); pass++) clear(tree, lstatSync(tree).dev);
        } finally {
          swapper.kill();
          await exited;
        }
        execFileSync("rm", ["-rf", tree]);
        expect(readdirSync(outside).length, `${name} round ${round}`).toBe(51);
        expect(readdirSync(join(outside, "sub")).length, `${name} round ${round}`).toBe(50);
      }
    }
  }, 300_000);

  it("leaves a top that is no longer the directory the caller found (inode) or not on its tree's mount", async () => {
    await using dir = await tempDir("wt-clear-");
    const tree = join(dir.path, "tree");
    mkdirSync(join(tree, "a"), { recursive: true });
    writeFileSync(join(tree, "a/file"), "x");
    const st = lstatSync(tree);
    for (const [name, clear] of both) {
      expect(clear(tree, st.dev, st.ino + 1, 0), name).toMatchObject({ empty: false, entries: 0 });
      expect(clear(tree, st.dev, st.ino, 999_999_999), name).toMatchObject({ empty: false, entries: 0, otherFilesystem: 1 });
    }
    expect(readFileSync(join(tree, "a/file"), "utf8")).toBe("x");
  });
});
