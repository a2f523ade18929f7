import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { forkTs, tempDir } from "@reclaim/core/testing";
import { describe, expect, it } from "vitest";
import { cleanWorktrees } from "./clean_worktrees.ts";
import { addWorktree, fillArtifact, gitSync, makeRepo, put, SIXTY_DAYS, trackedState } from "./_test_repo.ts";
import { DEFAULT_ARTIFACTS } from "./worktrees_options.ts";

function countFiles(dir: string): number {
  let n = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) n += entry.isDirectory() ? countFiles(join(dir, entry.name)) : 1;
  return n;
}

describe("cleanWorktrees() killed mid-delete", () => {
  it("a kill during the background delete leaves nothing half-registered, and the next pass finishes it", async () => {
    await using dir = await tempDir("wt-kill-");
    const main = makeRepo(dir.path);
    const wt = addWorktree(main, "killed");
    for (let p = 0; p < 300; p++) for (let f = 0; f < 5; f++) put(join(wt, `node_modules/p${p}/lib/f${f}.js`), "x".repeat(100));
    fillArtifact(join(wt, "apps/web/.next"));
    const listBefore = gitSync(main, ["worktree", "list", "--porcelain"]);
    const stateBefore = trackedState(wt);

    const child = forkTs(new URL("./_test_kill_child.ts", import.meta.url), [main], { stdio: ["ignore", "pipe", "inherit", "ipc"] });
    const exited = new Promise((resolve) => child.once("exit", resolve));
    const said = await new Promise<string>((resolve) => {
      let out = "";
      child.stdout!.on("data", (chunk) => {
        out += String(chunk);
        if (out.includes("\n")) resolve(out.trim());
      });
      child.once("exit", () => resolve(out.trim()));
    });
    expect(said).toBe("stalled");
    child.kill("SIGKILL");
    await exited;

    // Out of the worktree, half deleted in the trash, and git sees exactly what it saw before.
    expect(existsSync(join(wt, "node_modules"))).toBe(false);
    expect(existsSync(join(wt, "apps/web/.next"))).toBe(false);
    const trash = join(main, ".git/worktrees/killed/reclaim-trash");
    const left = countFiles(trash);
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThan(1500 + 20);
    expect(gitSync(main, ["worktree", "list", "--porcelain"])).toBe(listBefore);
    expect(gitSync(main, ["worktree", "prune", "--dry-run", "-v"])).toBe("");
    expect(trackedState(wt)).toEqual(stateBefore);

    const next = await cleanWorktrees({ repos: [main], days: 30, artifacts: [...DEFAULT_ARTIFACTS], keep: [], cwd: "/", now: () => Date.now() + SIXTY_DAYS });

    expect(next.finishedTrash.folders).toBe(2);
    expect(existsSync(trash)).toBe(false);
    expect(next.errors).toEqual([]);
    expect(gitSync(main, ["worktree", "list", "--porcelain"])).toBe(listBefore);
    expect(trackedState(wt)).toEqual(stateBefore);
  });
});
