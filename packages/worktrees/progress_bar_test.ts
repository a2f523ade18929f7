import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { tempDir, TS_LOADER } from "@reclaim/core/testing";
import { describe, expect, it } from "vitest";
import { addWorktree, ageTree, fillArtifact, makeRepo } from "./_test_repo.ts";

const CHILD = fileURLToPath(new URL("./_test_verb_child.ts", import.meta.url));
const NODE_ARGS = ["--conditions=source", "--import", TS_LOADER, CHILD, "worktrees"];

/** Runs the verb on a real pseudo-terminal (util-linux `script`): what the terminal showed, escape sequences removed. */
function onTerminal(args: string[], cwd: string): string {
  const quote = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;
  const command = [process.execPath, ...NODE_ARGS, ...args].map(quote).join(" ");
  const shown = execFileSync("script", ["-qefc", command, "/dev/null"], { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  // eslint-disable-next-line no-control-regex
  return shown.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "").replaceAll("\r", "\n");
}

/** A repository with one idle worktree (40 days old by every measure) whose node_modules holds 200 files. */
function idleRepo(base: string): { main: string; wt: string } {
  const old = new Date(Date.now() - 40 * 86_400_000);
  const main = makeRepo(base, old);
  const wt = addWorktree(main, "stale", old);
  fillArtifact(join(wt, "node_modules"), 200);
  ageTree(wt, old);
  return { main, wt };
}

// Each child process loads the sources through the TypeScript loader: slow on a busy machine, hence the timeouts.
describe("reclaim worktrees on a terminal", () => {
  it("draws a progress bar on stderr for the scan and for the deletion, full at the end", async () => {
    await using dir = await tempDir("wt-bar-");
    const { main, wt } = idleRepo(dir.path);

    const shown = onTerminal(["--repo", main], dir.path);

    expect(shown).toMatch(/scanning worktrees \[[█░]{40}\] 0\/1/);
    expect(shown).toMatch(/scanning worktrees \[█{40}\] 1\/1/);
    // the deletion's bar ends full: every entry of the folder (files and directories) unlinked
    const deleting = [...shown.matchAll(/deleting artifacts \[([█░]{40})\] (\d+)\/(\d+)/g)];
    expect(deleting.length).toBeGreaterThan(0);
    const last = deleting.at(-1)!;
    expect(last[1]).toBe("█".repeat(40));
    expect(Number(last[2])).toBe(Number(last[3]));
    expect(Number(last[2])).toBeGreaterThanOrEqual(200);
    expect(shown).toMatch(/^1 idle, 0 active, 0 protected, 0 broken; removed 1 artifact folder\(s\), \d+KB; statfs: \S+ freed$/m);
    expect(existsSync(join(wt, "node_modules"))).toBe(false);
  }, 180_000);

  it("draws none with --json on a terminal, nor when stderr is not a terminal", async () => {
    await using dir = await tempDir("wt-nobar-");
    const { main } = idleRepo(dir.path);

    const json = onTerminal(["--repo", main, "--dry-run", "--json"], dir.path);
    const piped = spawnSync(process.execPath, [...NODE_ARGS, "--repo", main, "--dry-run"], { cwd: dir.path, encoding: "utf8" });

    expect(json).not.toMatch(/scanning worktrees|deleting artifacts/);
    expect(JSON.parse(json.trim())).toMatchObject({ idle: 1, removed: 1 });
    expect(piped.status).toBe(0);
    expect(piped.stderr).toBe("");
    expect(piped.stdout).toMatch(/would clean: artifacts/);
  }, 180_000);
});
