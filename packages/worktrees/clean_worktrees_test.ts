import { spawn, type ChildProcess } from "node:child_process";
import { copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "@reclaim/core/testing";
import { afterEach, describe, expect, it } from "vitest";
import { cleanWorktrees, type CleanWorktreesOptions, type WorktreeResult, type WorktreesReport } from "./clean_worktrees.ts";
import { addWorktree, fillArtifact, gitSync, link, makeRepo, put, SIXTY_DAYS, trackedState } from "./_test_repo.ts";
import { DEFAULT_ARTIFACTS } from "./worktrees_options.ts";

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill("SIGKILL");
});

/** A pass whose clock is 60 days ahead, so everything the test made is idle at `days: 30`. */
function pass(main: string, extra: Partial<CleanWorktreesOptions> = {}): Promise<WorktreesReport> {
  return cleanWorktrees({ repos: [main], days: 30, artifacts: [...DEFAULT_ARTIFACTS], keep: [], now: () => Date.now() + SIXTY_DAYS, cwd: "/", ...extra });
}

function find(report: WorktreesReport, path: string): WorktreeResult {
  const found = report.repos.flatMap((r) => r.worktrees).find((w) => w.path === path);
  if (!found) throw new Error(`${path} not in the report`);
  return found;
}

function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(join(dir, rel))) {
      const child = rel ? `${rel}/${name}` : name;
      out.push(child);
      if (lstatSync(join(dir, child)).isDirectory() && name !== ".git") walk(child);
    }
  };
  walk("");
  return out.sort();
}

describe("cleanWorktrees()", () => {
  it("removes only the untracked artifact folders of an idle worktree, at any depth", async () => {
    await using dir = await tempDir("wt-idle-");
    const main = makeRepo(dir.path);
    const wt = addWorktree(main, "feature");
    const sourceBefore = tree(wt);
    const state = trackedState(wt);
    fillArtifact(join(wt, "node_modules"));
    fillArtifact(join(wt, "node_modules/pkg-1/node_modules"));
    fillArtifact(join(wt, "packages/lib/node_modules"));
    fillArtifact(join(wt, "apps/web/.next"));
    fillArtifact(join(wt, "apps/web/dist"));
    fillArtifact(join(wt, "crates/x/target"));
    put(join(wt, "notes.txt"), "untracked, not an artifact");

    const report = await pass(main);

    const result = find(report, wt);
    expect(result.state).toBe("cleaned");
    expect(result.branch).toBe("feature");
    expect(result.artifacts.map((a) => [a.path, a.action]).sort()).toEqual([
      ["apps/web/.next", "removed"],
      ["apps/web/dist", "removed"],
      ["crates/x/target", "removed"],
      ["node_modules", "removed"],
      ["packages/lib/node_modules", "removed"],
    ]);
    expect(result.artifactBytesAfter).toBe(0);
    expect(result.artifactBytesBefore).toBeGreaterThan(0);
    expect(tree(wt)).toEqual([...sourceBefore, "crates", "crates/x", "notes.txt"].sort());
    expect(readFileSync(join(wt, "notes.txt"), "utf8")).toBe("untracked, not an artifact");
    expect(trackedState(wt).sums).toEqual(state.sums);
    expect(report.removedByKind).toEqual({ artifact: 5, worktree: 0 });
    expect(report.reclaimedBytes).toBe(result.artifactBytesBefore);
    // the trash is gone too, and git sees the same worktrees
    expect(existsSync(join(main, ".git/worktrees/feature/reclaim-trash"))).toBe(false);
    expect(gitSync(main, ["worktree", "list", "--porcelain"])).toContain(`worktree ${wt}\n`);
  });

  it("pnpm-style symlinks from node_modules into tracked folders of the main checkout leave every tracked file intact", async () => {
    await using dir = await tempDir("wt-pnpm-");
    const main = makeRepo(dir.path);
    const wt = addWorktree(main, "pnpm");
    const mainBefore = trackedState(main);
    // pnpm: node_modules/<name> -> .pnpm/<name>@v/node_modules/<name>; workspace packages link to their source folder
    fillArtifact(join(wt, "node_modules/.pnpm/dep@1.0.0/node_modules/dep"));
    link(join(wt, "node_modules/.pnpm/dep@1.0.0/node_modules/dep"), join(wt, "node_modules/dep"));
    link(join(main, "packages/lib"), join(wt, "node_modules/lib")); // absolute, into the main checkout
    link("../../../packages/lib", join(wt, "apps/web/node_modules/lib")); // relative, into the worktree's own sources
    link(join(main, "packages"), join(wt, "node_modules/.pnpm/node_modules/@app")); // a whole tracked folder
    link(join(main, "packages/lib/index.js"), join(wt, "node_modules/.bin/lib")); // a tracked file
    link(join(main, "packages/lib"), join(wt, "packages/lib/dist")); // an artifact folder that is itself a link
    link(join(main, "apps"), join(wt, "apps/web/.next")); // another one, to a folder holding an artifact name
    const wtBefore = trackedState(wt); // the two links above show as untracked, and stay so

    const report = await pass(main);

    const result = find(report, wt);
    expect(result.state).toBe("cleaned");
    const byPath = Object.fromEntries(result.artifacts.map((a) => [a.path, a]));
    expect(byPath["node_modules"]?.action).toBe("removed");
    expect(byPath["apps/web/node_modules"]?.action).toBe("removed");
    expect(byPath["packages/lib/dist"]).toMatchObject({ action: "kept", reason: "is a symlink (never followed)" });
    expect(byPath["apps/web/.next"]).toMatchObject({ action: "kept", reason: "is a symlink (never followed)" });
    expect(readlinkSync(join(wt, "packages/lib/dist"))).toBe(join(main, "packages/lib"));
    expect(trackedState(main)).toEqual(mainBefore);
    expect(trackedState(wt)).toEqual(wtBefore);
    expect(readFileSync(join(main, "packages/lib/util/helper.js"), "utf8")).toBe("export const help = 2;\n");
  });

  it("never touches the main worktree, the one holding the current directory, kept and locked worktrees", async () => {
    await using dir = await tempDir("wt-never-");
    const main = makeRepo(dir.path);
    const here = addWorktree(main, "here");
    const decks = addWorktree(main, "user-decks");
    const byBranch = addWorktree(main, "kept-by-branch");
    const locked = addWorktree(main, "locked");
    gitSync(main, ["worktree", "lock", "--reason", "on a USB disk", locked]);
    const all = [main, here, decks, byBranch, locked];
    for (const wt of all) fillArtifact(join(wt, "node_modules"));
    mkdirSync(join(here, "apps/web/src/deep"), { recursive: true });
    const before = all.map((wt) => tree(wt));

    const report = await pass(main, { cwd: join(here, "apps/web/src/deep"), keep: ["user-decks", "kept-by-branch"] });

    expect(all.map((wt) => tree(wt))).toEqual(before);
    expect(report.repos[0]!.worktrees.map((w) => w.path)).not.toContain(main);
    expect(find(report, here)).toMatchObject({ state: "skipped", reason: "contains the current directory" });
    expect(find(report, decks)).toMatchObject({ state: "skipped", reason: 'kept (keep: "user-decks")' });
    expect(find(report, byBranch)).toMatchObject({ state: "skipped", reason: 'kept (keep: "kept-by-branch")' });
    expect(find(report, locked)).toMatchObject({ state: "skipped", reason: "locked: on a USB disk" });
    expect(report).toMatchObject({ removed: 0, protected: 4, idle: 0 });
  });

  it("never touches a worktree where a live process has its current directory or an open file", async () => {
    await using dir = await tempDir("wt-busy-");
    const main = makeRepo(dir.path);
    const byCwd = addWorktree(main, "by-cwd");
    const byFd = addWorktree(main, "by-fd");
    const free = addWorktree(main, "free");
    for (const wt of [byCwd, byFd, free]) fillArtifact(join(wt, "node_modules"));
    const sleeper = spawn("sleep", ["300"], { cwd: byCwd, stdio: "ignore" });
    children.push(sleeper);
    // a process with a file deep inside node_modules open, its cwd elsewhere
    const holder = spawn("sh", ["-c", "exec 3<\"$1\"; echo ready; exec sleep 300", "sh", join(byFd, "node_modules/pkg-1/lib/file-1.js")], { cwd: "/", stdio: ["ignore", "pipe", "ignore"] });
    children.push(holder);
    await new Promise((resolve) => holder.stdout!.once("data", resolve));
    await new Promise((resolve) => setImmediate(resolve));

    const report = await pass(main);

    expect(find(report, byCwd).state).toBe("skipped");
    expect(find(report, byCwd).reason).toMatch(new RegExp(`^in use by process ${sleeper.pid} \\(sleep, cwd `));
    expect(find(report, byFd).reason).toMatch(/^in use by process \d+ \(sleep, fd .*file-1\.js\)$/);
    expect(existsSync(join(byCwd, "node_modules/pkg-1/lib/file-1.js"))).toBe(true);
    expect(existsSync(join(byFd, "node_modules/pkg-1/lib/file-1.js"))).toBe(true);
    expect(find(report, free).state).toBe("cleaned");
    expect(existsSync(join(free, "node_modules"))).toBe(false);
  });

  it("counts a worktree with a recent commit, reflog entry or file outside the artifacts as active, and ignores recent files inside them", async () => {
    await using dir = await tempDir("wt-active-");
    const main = makeRepo(dir.path);
    const soon = new Date(Date.now() + SIXTY_DAYS - 86_400_000); // one day before the pass's clock
    const committed = addWorktree(main, "committed");
    put(join(committed, "new.txt"), "y");
    utimesSync(join(committed, "new.txt"), new Date(), new Date());
    gitSync(committed, ["add", "new.txt"]);
    gitSync(committed, ["commit", "-q", "-m", "recent"], soon);
    const checkedOut = addWorktree(main, "checked-out");
    gitSync(checkedOut, ["checkout", "-q", "-b", "moved"], soon); // a reflog entry only
    const edited = addWorktree(main, "edited");
    utimesSync(join(edited, "apps/web/src/page.tsx"), soon, soon);
    const buildOnly = addWorktree(main, "build-only");
    for (const wt of [committed, checkedOut, edited, buildOnly]) fillArtifact(join(wt, "node_modules"));
    utimesSync(join(buildOnly, "node_modules/pkg-1/lib/file-1.js"), soon, soon); // a rebuild touched artifacts only

    const report = await pass(main);

    expect(find(report, committed).reason).toMatch(/^active: last activity .* \((last commit|reflog)\), within 30 days$/);
    expect(find(report, checkedOut).reason).toMatch(/^active: last activity .* \(reflog\), within 30 days$/);
    expect(find(report, edited).reason).toMatch(/^active: last activity .* \(file apps\/web\/src\/page\.tsx\), within 30 days$/);
    for (const wt of [committed, checkedOut, edited]) {
      expect(find(report, wt).state).toBe("active");
      expect(existsSync(join(wt, "node_modules/pkg-1/lib/file-1.js"))).toBe(true);
    }
    expect(find(report, buildOnly).state).toBe("cleaned");
    expect(report).toMatchObject({ active: 3, idle: 1 });
  });

  it("never touches a worktree where a live process only maps a file (a loaded native module, its descriptor closed)", async () => {
    await using dir = await tempDir("wt-mmap-");
    const main = makeRepo(dir.path);
    const wt = addWorktree(main, "mapped");
    fillArtifact(join(wt, "node_modules"));
    // the dynamic loader maps a shared library and closes its descriptor, as Node does with a native module
    const file = join(wt, "node_modules/pkg-1/build/native.so");
    mkdirSync(join(wt, "node_modules/pkg-1/build"), { recursive: true });
    copyFileSync("/lib/x86_64-linux-gnu/libm.so.6", file);
    const mapper = spawn("sh", ["-c", "echo ready; exec sleep 300"], { cwd: "/", env: { ...process.env, LD_PRELOAD: file }, stdio: ["ignore", "pipe", "inherit"] });
    children.push(mapper);
    await new Promise((resolve) => mapper.stdout!.once("data", resolve));
    await new Promise((resolve) => setTimeout(resolve, 50)); // let sh exec sleep (the mapping holds either way)

    const report = await pass(main);

    expect(find(report, wt).reason).toMatch(new RegExp(`^in use by process ${mapper.pid} \\((sh|sleep), map .*native\\.so\\)$`));
    expect(existsSync(file)).toBe(true);
  });

  it("keeps an artifact folder that holds a git repository", async () => {
    await using dir = await tempDir("wt-nested-");
    const main = makeRepo(dir.path);
    const wt = addWorktree(main, "nested");
    fillArtifact(join(wt, "target"));
    gitSync(join(wt, "target/pkg-1"), ["init", "-q"]);
    fillArtifact(join(wt, "dist"));

    const report = await pass(main);

    const byPath = Object.fromEntries(find(report, wt).artifacts.map((a) => [a.path, a]));
    expect(byPath["target"]).toMatchObject({ action: "kept", reason: "holds a git repository (target/pkg-1/.git)" });
    expect(byPath["dist"]?.action).toBe("removed");
    expect(existsSync(join(wt, "target/pkg-1/.git/HEAD"))).toBe(true);
  });

  it("keeps an artifact folder that holds a git repository below a name that is not UTF-8 (the walks cannot look it up)", async () => {
    await using dir = await tempDir("wt-nested-");
    const main = makeRepo(dir.path);
    const wt = addWorktree(main, "nested");
    fillArtifact(join(wt, "target"));
    const odd = Buffer.concat([Buffer.from(join(wt, "target") + "/"), Buffer.from([0xff, 0xfe])]);
    mkdirSync(Buffer.concat([odd, Buffer.from("/.git")]), { recursive: true });
    writeFileSync(Buffer.concat([odd, Buffer.from("/.git/HEAD")]), "ref: refs/heads/main\n");
    fillArtifact(join(wt, "dist"));

    const report = await pass(main);

    const byPath = Object.fromEntries(find(report, wt).artifacts.map((a) => [a.path, a]));
    expect(byPath["target"]?.action).toBe("kept");
    expect(byPath["dist"]?.action).toBe("removed");
    expect(existsSync(Buffer.concat([odd, Buffer.from("/.git/HEAD")]))).toBe(true);
  });

  it("keeps the uncommitted changes of a dirty idle worktree", async () => {
    await using dir = await tempDir("wt-dirty-");
    const main = makeRepo(dir.path);
    const wt = addWorktree(main, "dirty");
    put(join(wt, "packages/lib/index.js"), "export const lib = 'edited';\n");
    put(join(wt, "scratch/plan.md"), "untracked work");
    gitSync(wt, ["rm", "-q", "--cached", "README.md"]);
    fillArtifact(join(wt, "node_modules"));
    const before = trackedState(wt);

    const report = await pass(main);

    expect(find(report, wt).state).toBe("cleaned");
    expect(trackedState(wt)).toEqual(before);
    expect(readFileSync(join(wt, "packages/lib/index.js"), "utf8")).toBe("export const lib = 'edited';\n");
    expect(readFileSync(join(wt, "scratch/plan.md"), "utf8")).toBe("untracked work");
    expect(existsSync(join(wt, "node_modules"))).toBe(false);
  });

  it("keeps a dist/ that holds a tracked file, and removes its untracked siblings", async () => {
    await using dir = await tempDir("wt-tracked-");
    const main = makeRepo(dir.path);
    put(join(main, "packages/lib/dist/index.d.ts"), "export {};\n");
    gitSync(main, ["add", "-f", "packages/lib/dist/index.d.ts"]);
    gitSync(main, ["commit", "-q", "-m", "ship types"]);
    const wt = addWorktree(main, "tracked");
    fillArtifact(join(wt, "packages/lib/dist"));
    fillArtifact(join(wt, "apps/web/dist"));

    const report = await pass(main);

    const byPath = Object.fromEntries(find(report, wt).artifacts.map((a) => [a.path, a]));
    expect(byPath["packages/lib/dist"]).toMatchObject({ action: "kept", reason: "holds tracked files (packages/lib/dist/index.d.ts)" });
    expect(byPath["apps/web/dist"]?.action).toBe("removed");
    expect(readFileSync(join(wt, "packages/lib/dist/index.d.ts"), "utf8")).toBe("export {};\n");
    expect(existsSync(join(wt, "packages/lib/dist/pkg-1/lib/file-1.js"))).toBe(true);
    expect(existsSync(join(wt, "apps/web/dist"))).toBe(false);
  });

  it("unregisters broken worktrees, missing or empty, and reports them; a dry run only reports them", async () => {
    await using dir = await tempDir("wt-broken-");
    const main = makeRepo(dir.path);
    const missing = addWorktree(main, "missing");
    const empty = addWorktree(main, "empty");
    const fine = addWorktree(main, "fine");
    rmSync(missing, { recursive: true });
    for (const name of readdirSync(empty)) rmSync(join(empty, name), { recursive: true });

    const dry = await pass(main, { dryRun: true });
    expect(find(dry, missing)).toMatchObject({ state: "broken", reason: "folder missing; would be unregistered" });
    expect(find(dry, empty)).toMatchObject({ state: "broken", reason: "folder empty; would be unregistered" });
    expect(gitSync(main, ["worktree", "list", "--porcelain"]).match(/^worktree /gm)).toHaveLength(4);

    const report = await pass(main);

    expect(find(report, missing)).toMatchObject({ state: "broken", reason: "folder missing; unregistered" });
    expect(find(report, empty)).toMatchObject({ state: "broken", reason: "folder empty; unregistered" });
    expect(report).toMatchObject({ broken: 2, removedByKind: { artifact: 0, worktree: 2 } });
    const list = gitSync(main, ["worktree", "list", "--porcelain"]);
    expect(list).not.toContain(missing);
    expect(list).not.toContain(empty);
    expect(list).toContain(`worktree ${fine}\n`);
    expect(existsSync(empty)).toBe(false);
    expect(existsSync(join(main, ".git/worktrees/missing"))).toBe(false);
  });

  it("reports in a dry run what would go and touches nothing", async () => {
    await using dir = await tempDir("wt-dry-");
    const main = makeRepo(dir.path);
    const wt = addWorktree(main, "dry");
    fillArtifact(join(wt, "node_modules"));
    const before = tree(wt);

    const report = await pass(main, { dryRun: true });

    expect(find(report, wt).state).toBe("would-clean");
    expect(find(report, wt).artifacts[0]).toMatchObject({ path: "node_modules", action: "would-remove" });
    expect(report.reclaimedBytes).toBe(find(report, wt).artifactBytesBefore);
    expect(tree(wt)).toEqual(before);
  });
});
