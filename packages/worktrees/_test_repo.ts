import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { lstatSync, lutimesSync, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

const GIT_ENV = {
  GIT_AUTHOR_NAME: "t",
  GIT_AUTHOR_EMAIL: "t@example.com",
  GIT_COMMITTER_NAME: "t",
  GIT_COMMITTER_EMAIL: "t@example.com",
  GIT_CONFIG_NOSYSTEM: "1",
  GIT_CONFIG_GLOBAL: "/dev/null",
};

/** Runs git in `cwd` (test fixtures); `date` sets author and committer dates (and so the reflog entry's time). */
export function gitSync(cwd: string, args: string[], date?: Date): string {
  const env = { ...process.env, ...GIT_ENV, ...(date ? { GIT_AUTHOR_DATE: date.toISOString(), GIT_COMMITTER_DATE: date.toISOString() } : {}) };
  return execFileSync("git", ["-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main", ...args], { cwd, env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** Writes a file, creating its folders. */
export function put(path: string, content: string | Buffer = "x"): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
}

/** Creates a symlink, creating the folder it sits in. */
export function link(target: string, path: string): void {
  mkdirSync(dirname(path), { recursive: true });
  symlinkSync(target, path);
}

/**
 * A real repository under `base/main` with tracked sources (`packages/lib`, `apps/web/src`), a `.gitignore` for the
 * artifact folders, and one commit.
 */
export function makeRepo(base: string, date?: Date): string {
  const main = join(base, "main");
  mkdirSync(main, { recursive: true });
  gitSync(main, ["init", "-q"]);
  put(join(main, "README.md"), "# app\n");
  put(join(main, ".gitignore"), "node_modules/\ndist/\n.next/\n.turbo/\ntarget/\n");
  put(join(main, "packages/lib/index.js"), "export const lib = 1;\n");
  put(join(main, "packages/lib/util/helper.js"), "export const help = 2;\n");
  put(join(main, "packages/lib/package.json"), '{ "name": "lib" }\n');
  put(join(main, "apps/web/src/page.tsx"), "export default () => null;\n");
  gitSync(main, ["add", "-A"]);
  gitSync(main, ["commit", "-q", "-m", "initial"], date);
  return main;
}

/** Adds a linked worktree `base/<name>` on a new branch `<name>`. */
export function addWorktree(main: string, name: string, date?: Date): string {
  const path = join(dirname(main), name);
  gitSync(main, ["worktree", "add", "-q", path, "-b", name], date);
  return path;
}

/** Fills `dir` with a node_modules-like tree of `files` small files. */
export function fillArtifact(dir: string, files = 20): void {
  for (let i = 0; i < files; i++) put(join(dir, `pkg-${i % 5}`, `lib/file-${i}.js`), `module.exports = ${i};\n`.repeat(10));
}

/** Checksums of every tracked file of a checkout (symlinks by their target) plus its `git status`. */
export function trackedState(checkout: string): { status: string; sums: Record<string, string> } {
  const sums: Record<string, string> = {};
  for (const rel of gitSync(checkout, ["ls-files", "-z"]).split("\0").filter(Boolean)) {
    const path = join(checkout, rel);
    let content: string | Buffer;
    try {
      content = lstatSync(path).isSymbolicLink() ? `link:${readlinkSync(path)}` : readFileSync(path);
    } catch {
      content = "MISSING";
    }
    sums[rel] = createHash("sha256").update(content).digest("hex");
  }
  return { status: gitSync(checkout, ["status", "--porcelain=v1", "-z", "--untracked-files=all"]), sums };
}

/** Sixty days from now: the clock tests give a pass so that what the test just made is 60 days old. */
export const SIXTY_DAYS = 60 * 86_400_000;

/** Sets the times of everything under `dir` (symlinks themselves, never their targets) to `date`. */
export function ageTree(dir: string, date: Date): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) ageTree(path, date);
    lutimesSync(path, date, date);
  }
}
