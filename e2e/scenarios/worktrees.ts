import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, lstatSync, lutimesSync, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { eventually } from "../_daemon.ts";
import { type ReclaimProcess, runReclaim, startReclaim } from "../_reclaim.ts";

// The seed's 100 GB of stale worktrees (../shared/seeds/housekeeping-tasks.txt, item 3), on a real repository made
// here with git itself: idle worktrees (commits, reflog and files back-dated 90 days with GIT_COMMITTER_DATE and
// utimes) holding node_modules (with pnpm-style links into the main checkout), .next and dist, next to an active
// one, one active only through a file edited today, a locked one, and a main checkout with its own artifacts.
// `reclaim worktrees --dry-run` reports and touches nothing; then one pass of `reclaim start` with the hook cleans.
const OLD = new Date(Date.now() - 90 * 86_400_000);
const GIT_ENV = {
  GIT_AUTHOR_NAME: "e2e",
  GIT_AUTHOR_EMAIL: "e2e@example.com",
  GIT_COMMITTER_NAME: "e2e",
  GIT_COMMITTER_EMAIL: "e2e@example.com",
  GIT_CONFIG_NOSYSTEM: "1",
  GIT_CONFIG_GLOBAL: "/dev/null",
};

function git(cwd: string, args: string[], date?: Date): string {
  const dates = date ? { GIT_AUTHOR_DATE: date.toISOString(), GIT_COMMITTER_DATE: date.toISOString() } : {};
  return execFileSync("git", ["-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main", ...args], {
    cwd,
    env: { ...process.env, ...GIT_ENV, ...dates },
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
}

function put(path: string, content = "x\n"): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
}

function link(target: string, path: string): void {
  mkdirSync(dirname(path), { recursive: true });
  symlinkSync(target, path);
}

/** A node_modules-like folder: packages of small files. */
function fill(dir: string, files = 30): void {
  for (let i = 0; i < files; i++) put(join(dir, `pkg-${i % 6}`, `lib/file-${i}.js`), `module.exports = ${i};\n`.repeat(20));
}

/** Sets the times of everything under `dir` (links themselves, never their targets), `.git` included, to `date`. */
function age(dir: string, date: Date): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) age(path, date);
    lutimesSync(path, date, date);
  }
}

/** Hashes of every tracked file of a checkout, and its `git status`. */
function tracked(checkout: string): { status: string; sums: Record<string, string> } {
  const sums: Record<string, string> = {};
  for (const rel of git(checkout, ["ls-files", "-z"]).split("\0").filter(Boolean)) {
    const path = join(checkout, rel);
    const content = !existsSync(path) ? "MISSING" : lstatSync(path).isSymbolicLink() ? `link:${readlinkSync(path)}` : readFileSync(path);
    sums[rel] = createHash("sha256").update(content).digest("hex");
  }
  return { status: git(checkout, ["status", "--porcelain=v1", "-z", "--untracked-files=all"]), sums };
}

/** Scenario "worktrees": idle worktrees give their build output back; nothing else is touched. */
export function worktreesScenario(): void {
  describe("worktrees: idle worktrees of a real repository give their build output back", () => {
    let base = "";
    let main = "";
    const wt = (name: string) => join(base, name);
    const before: Record<string, ReturnType<typeof tracked>> = {};
    let daemon: ReclaimProcess | undefined;

    // Artifact folders that must go (in idle worktrees) and must stay (everywhere else).
    const goes = () => [
      wt("idle/node_modules"),
      wt("idle/apps/web/.next"),
      wt("idle/packages/shared/dist"),
      wt("idle/packages/shared/node_modules"),
      wt("idle-linked/apps/web/.next"),
      wt("idle-linked/packages/shared/dist"),
    ];
    const stays = () => [
      join(main, "node_modules/react/index.js"),
      join(main, "apps/web/.next/cache/page.js"),
      join(main, "packages/shared/index.js"),
      wt("idle/packages/types/dist/index.d.ts"), // tracked: its dist stays, with the untracked file next to it
      wt("idle/packages/types/dist/extra.js"),
      wt("idle/notes.txt"), // an untracked file of an idle worktree
      wt("idle-linked/node_modules"), // a link into the main checkout: never followed
      wt("active/node_modules/pkg-0/lib/file-0.js"),
      wt("active/apps/web/.next/cache/page.js"),
      wt("edited-today/node_modules/pkg-0/lib/file-0.js"),
      wt("locked/node_modules/pkg-0/lib/file-0.js"),
      wt("locked/packages/shared/dist/index.js"),
    ];

    beforeAll(async () => {
      base = await mkdtemp(join(tmpdir(), "reclaim-e2e-worktrees-"));
      main = join(base, "main");
      mkdirSync(main);
      git(main, ["init", "-q"]);
      put(join(main, "README.md"), "# app\n");
      put(join(main, ".gitignore"), "node_modules/\ndist/\n.next/\n");
      put(join(main, "packages/shared/index.js"), "export const shared = 1;\n");
      put(join(main, "packages/shared/package.json"), '{ "name": "@app/shared" }\n');
      put(join(main, "packages/types/dist/index.d.ts"), "export type Id = string;\n");
      put(join(main, "apps/web/src/page.tsx"), "export default () => null;\n");
      git(main, ["add", "-A"]);
      git(main, ["add", "-f", "packages/types/dist/index.d.ts"]); // a tracked file inside an artifact folder name
      git(main, ["commit", "-q", "-m", "initial"], OLD);
      // The main checkout's own build output: never a candidate.
      fill(join(main, "node_modules"));
      put(join(main, "node_modules/react/index.js"), "module.exports = 'react';\n");
      put(join(main, "apps/web/.next/cache/page.js"));

      for (const name of ["idle", "idle-linked", "active", "edited-today", "locked"]) {
        git(main, ["worktree", "add", "-q", wt(name), "-b", name], OLD);
        fill(join(wt(name), "node_modules"));
        put(join(wt(name), "apps/web/.next/cache/page.js"));
        put(join(wt(name), "packages/shared/dist/index.js"));
      }
      // pnpm's layout: a workspace package linked into node_modules, pointing at the main checkout.
      link(join(main, "packages/shared"), join(wt("idle"), "node_modules/@app/shared"));
      link(join(main, "node_modules/react"), join(wt("idle"), "node_modules/react"));
      fill(join(wt("idle"), "packages/shared/node_modules"), 10);
      put(join(wt("idle"), "packages/types/dist/extra.js"));
      put(join(wt("idle"), "notes.txt"), "todo\n");
      // idle-linked: its node_modules is itself a link to the main checkout's.
      await rm(join(wt("idle-linked"), "node_modules"), { recursive: true });
      link(join(main, "node_modules"), join(wt("idle-linked"), "node_modules"));
      git(main, ["worktree", "lock", wt("locked"), "--reason", "e2e: someone's long experiment"]);
      for (const name of ["main", "idle", "idle-linked", "active", "edited-today", "locked"]) age(wt(name), OLD);
      // active: a commit today; edited-today: old commits, but a source file saved today.
      put(join(wt("active"), "apps/web/src/page.tsx"), "export default () => 'new';\n");
      git(wt("active"), ["commit", "-q", "-am", "work in progress"]);
      put(join(wt("edited-today"), "apps/web/src/page.tsx"), "export default () => 'draft';\n");
      for (const name of ["main", "idle", "idle-linked", "active", "edited-today", "locked"]) before[name] = tracked(wt(name));
    });

    afterAll(async () => {
      await daemon?.stop();
      if (base) await rm(base, { recursive: true, force: true });
    });

    test("`reclaim worktrees --dry-run` reports the idle worktrees' artifacts and touches nothing", async () => {
      const { code, stdout, stderr } = await runReclaim(["worktrees", "--repo", main, "--days", "30", "--dry-run", "--json"]);
      expect(code, stderr).toBe(0);
      const report = JSON.parse(stdout) as { repos: Array<{ worktrees: Array<{ path: string; state: string; artifacts: Array<{ path: string; action: string }> }> }> };
      const states = Object.fromEntries(report.repos[0]!.worktrees.map((w) => [w.path.slice(base.length + 1), w.state]));
      expect(states).toEqual({ idle: "would-clean", "idle-linked": "would-clean", active: "active", "edited-today": "active", locked: "skipped" });
      const wouldGo = report.repos[0]!.worktrees.flatMap((w) => w.artifacts.filter((a) => a.action === "would-remove").map((a) => join(w.path, a.path))).sort();
      expect(wouldGo).toEqual(goes().sort());
      for (const path of [...goes(), ...stays()]) expect(existsSync(path), path).toBe(true);
    });

    test("one pass of `reclaim start` removes the idle worktrees' artifacts; active, locked, main and every tracked file stay", async () => {
      const configPath = join(base, "reclaim.config.json");
      await writeFile(configPath, JSON.stringify({ hooks: { worktrees: { repos: [main], days: 30, initialDelay: "0s", interval: "1h" } } }));
      daemon = await startReclaim(["start", "-c", configPath], { logPath: join(base, "reclaim.log"), env: { RECLAIM_LOG_LEVEL: "info" } });
      await eventually(async () => {
        const status = await daemon!.status();
        expect(status.hooks.find((h) => h.hook === "worktrees")?.history.map((p) => p.outcome)).toEqual(["success"]);
      });
      const gone = goes().filter((path) => existsSync(path));
      expect(gone).toEqual([]);
      for (const path of stays()) expect(existsSync(path), path).toBe(true);
      expect(readFileSync(join(main, "packages/shared/index.js"), "utf8")).toBe("export const shared = 1;\n");
      for (const [name, state] of Object.entries(before)) expect(tracked(wt(name)), name).toEqual(state);
      const metrics = await daemon.metrics();
      expect({
        artifacts: metrics.sum("reclaim_removed_total", { hook: "worktrees", kind: "artifact" }),
        idle: metrics.sum("reclaim_worktrees", { hook: "worktrees", scope: "idle" }),
        active: metrics.sum("reclaim_worktrees", { hook: "worktrees", scope: "active" }),
        protected: metrics.sum("reclaim_worktrees", { hook: "worktrees", scope: "protected" }),
        leftInIdle: metrics.sum("reclaim_worktrees_artifact_bytes", { hook: "worktrees" }) > 0,
      }).toEqual({ artifacts: goes().length, idle: 2, active: 2, protected: 1, leftInIdle: true });
      expect(await daemon.stop()).toBe(0);
    });
  });
}
