import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, statfsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { mountTmpfs, tempDir } from "@reclaim/core/testing";
import { describe, expect, it } from "vitest";
import { cleanWorktrees } from "./clean_worktrees.ts";
import { addWorktree, fillArtifact, makeRepo, SIXTY_DAYS, trackedState } from "./_test_repo.ts";
import { DEFAULT_ARTIFACTS } from "./worktrees_options.ts";

describe("cleanWorktrees() and other filesystems", () => {
  it("never enters another filesystem: an artifact folder that is a mount point, or holds one, is kept whole", async (ctx) => {
    const fs = await mountTmpfs(4 * 1024 * 1024);
    if (typeof fs === "string") return ctx.skip(fs);
    await using tmpfs = fs;
    await using dir = await tempDir("wt-mount-");
    const main = makeRepo(dir.path);
    const wt = addWorktree(main, "mounts");
    fillArtifact(join(wt, "node_modules"));
    for (const name of ["cache", "dist", "vendor"]) {
      mkdirSync(join(tmpfs.path, name, "node_modules"), { recursive: true });
      writeFileSync(join(tmpfs.path, name, "node_modules", "precious"), name);
    }
    const binds = [
      [join(tmpfs.path, "cache"), join(wt, "node_modules/pkg-1/cache")], // inside an artifact folder
      [join(tmpfs.path, "dist"), join(wt, "apps/web/dist")], // an artifact folder that is a mount point
      [join(tmpfs.path, "vendor"), join(wt, "vendor")], // a plain folder on another filesystem holding node_modules
    ] as const;
    for (const [source, target] of binds) {
      mkdirSync(target, { recursive: true });
      execFileSync("mount", ["--bind", source, target]);
    }
    try {
      const report = await cleanWorktrees({ repos: [main], days: 30, artifacts: [...DEFAULT_ARTIFACTS], keep: [], cwd: "/", now: () => Date.now() + SIXTY_DAYS });

      const result = report.repos[0]!.worktrees[0]!;
      const byPath = Object.fromEntries(result.artifacts.map((a) => [a.path, a]));
      expect(byPath["node_modules"]).toMatchObject({ action: "kept", reason: "holds a mount point of another filesystem (node_modules/pkg-1/cache)" });
      expect(byPath["apps/web/dist"]).toMatchObject({ action: "kept", reason: "is on another filesystem (a mount point, never entered)" });
      expect(byPath["vendor/node_modules"]).toBeUndefined();
      expect(existsSync(join(wt, "node_modules/pkg-2/lib/file-2.js"))).toBe(true);
      for (const name of ["cache", "dist", "vendor"]) expect(readFileSync(join(tmpfs.path, name, "node_modules", "precious"), "utf8")).toBe(name);
    } finally {
      for (const [, target] of binds) execFileSync("umount", [target]);
    }
  });
});

describe("cleanWorktrees() and bind mounts of the same filesystem", () => {
  it("keeps an artifact folder that holds a bind mount of the main checkout (same device: only /proc/self/mountinfo tells)", async (ctx) => {
    if (process.getuid?.() !== 0) return ctx.skip("bind mounts need root");
    await using dir = await tempDir("wt-bind-");
    const main = makeRepo(dir.path);
    const wt = addWorktree(main, "bound");
    fillArtifact(join(wt, "node_modules"));
    const target = join(wt, "node_modules/pkg-1/src");
    mkdirSync(target, { recursive: true });
    const mainBefore = trackedState(main);
    execFileSync("mount", ["--bind", join(main, "packages"), target]);
    try {
      const report = await cleanWorktrees({ repos: [main], days: 30, artifacts: [...DEFAULT_ARTIFACTS], keep: [], cwd: "/", now: () => Date.now() + SIXTY_DAYS });

      const nodeModules = report.repos[0]!.worktrees[0]!.artifacts.find((a) => a.path === "node_modules");
      expect(nodeModules).toMatchObject({ action: "kept", reason: "holds a mount point (node_modules/pkg-1/src)" });
      expect(existsSync(join(wt, "node_modules/pkg-2/lib/file-2.js"))).toBe(true);
    } finally {
      execFileSync("umount", [target]);
    }
    expect(trackedState(main)).toEqual(mainBefore);
  });
});

describe("cleanWorktrees() trash placement", () => {
  it("puts the trash at the worktree's root when its git directory is on another filesystem, and leaves none behind", async (ctx) => {
    const fs = await mountTmpfs(16 * 1024 * 1024);
    if (typeof fs === "string") return ctx.skip(fs);
    await using tmpfs = fs;
    await using dir = await tempDir("wt-trash-");
    const main = makeRepo(tmpfs.path); // the repository (and its .git/worktrees/<id>) on the tmpfs
    const wt = join(dir.path, "elsewhere"); // the worktree on the disk
    const { gitSync } = await import("./_test_repo.ts");
    gitSync(main, ["worktree", "add", "-q", wt, "-b", "elsewhere"]);
    fillArtifact(join(wt, "node_modules"));
    const status = gitSync(wt, ["status", "--porcelain"]);

    const report = await cleanWorktrees({ repos: [main], days: 30, artifacts: [...DEFAULT_ARTIFACTS], keep: [], cwd: "/", now: () => Date.now() + SIXTY_DAYS });

    expect(report.repos[0]!.worktrees[0]!.state).toBe("cleaned");
    expect(report.errors).toEqual([]);
    expect(existsSync(join(wt, "node_modules"))).toBe(false);
    expect(existsSync(join(wt, ".reclaim-trash"))).toBe(false);
    expect(gitSync(wt, ["status", "--porcelain"])).toBe(status);
  });
});

describe("cleanWorktrees() bytes freed", () => {
  it("measures what the filesystem got back with statfs, next to the sum of the sizes: on a tmpfs nobody else writes to, they agree", async (ctx) => {
    const fs = await mountTmpfs(64 * 1024 * 1024);
    if (typeof fs === "string") return ctx.skip(fs);
    await using tmpfs = fs;
    const main = makeRepo(tmpfs.path);
    const wt = addWorktree(main, "measured");
    fillArtifact(join(wt, "node_modules"), 300);
    fillArtifact(join(wt, "apps/web/.next"), 50);
    writeFileSync(join(wt, "node_modules/big.bin"), Buffer.alloc(3 * 1024 * 1024 + 1));
    const availableBefore = statfsSync(tmpfs.path).bavail;

    const report = await cleanWorktrees({ repos: [main], days: 30, artifacts: [...DEFAULT_ARTIFACTS], keep: [], cwd: "/", now: () => Date.now() + SIXTY_DAYS });

    const result = report.repos[0]!.worktrees[0]!;
    expect(result.state).toBe("cleaned");
    expect(report.removedBytes).toBeGreaterThan(3 * 1024 * 1024);
    expect(report.freedBytes).toBe(report.removedBytes);
    expect(result.artifactBytesBefore).toBe(report.removedBytes);
    const st = statfsSync(tmpfs.path);
    expect((st.bavail - availableBefore) * st.bsize).toBe(report.freedBytes);
    expect(result.artifacts.find((a) => a.path === "node_modules")).toMatchObject({ action: "removed", files: 301, size: expect.any(Number) });
  });
});
