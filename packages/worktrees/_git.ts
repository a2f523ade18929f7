import { execFile } from "node:child_process";

/**
 * Runs `git` with `execFile` (no shell, arguments never interpreted). `GIT_OPTIONAL_LOCKS=0` keeps read-only
 * commands (`status`) from taking the index lock of a worktree someone may be using, `LC_ALL=C` keeps messages
 * stable. Rejects with git's first stderr line.
 */
export function git(cwd: string, args: readonly string[], options: { maxBuffer?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      "git",
      ["--literal-pathspecs", ...args],
      { cwd, encoding: "utf8", maxBuffer: options.maxBuffer ?? 256 * 1024 * 1024, env: { ...process.env, GIT_OPTIONAL_LOCKS: "0", LC_ALL: "C" } },
      (err, stdout, stderr) => {
        if (err) {
          const line = String(stderr).split("\n").find((l) => l.trim() !== "") ?? err.message;
          reject(Object.assign(new Error(`git ${args[0]} failed in ${cwd}: ${line.trim()}`), { code: "RECLAIM_ERR_GIT" }));
        } else resolve(stdout);
      },
    );
  });
}

/** One entry of `git worktree list --porcelain -z`. */
export interface WorktreeEntry {
  path: string;
  head: string | null;
  /** Full ref (`refs/heads/x`), `null` when detached or bare. */
  branch: string | null;
  bare: boolean;
  detached: boolean;
  /** Lock reason (`""` when locked without one), `null` when not locked. */
  locked: string | null;
  /** Why git considers the worktree prunable, `null` when it does not. */
  prunable: string | null;
}

/** Parses `git worktree list --porcelain -z`: fields end with NUL, records with an empty field. */
export function parseWorktreeList(output: string): WorktreeEntry[] {
  const entries: WorktreeEntry[] = [];
  let current: WorktreeEntry | null = null;
  for (const field of output.split("\0")) {
    if (field === "") {
      if (current) entries.push(current);
      current = null;
      continue;
    }
    const space = field.indexOf(" ");
    const key = space < 0 ? field : field.slice(0, space);
    const value = space < 0 ? "" : field.slice(space + 1);
    if (key === "worktree") {
      if (current) entries.push(current);
      current = { path: value, head: null, branch: null, bare: false, detached: false, locked: null, prunable: null };
    } else if (current) {
      if (key === "HEAD") current.head = value;
      else if (key === "branch") current.branch = value;
      else if (key === "bare") current.bare = true;
      else if (key === "detached") current.detached = true;
      else if (key === "locked") current.locked = value;
      else if (key === "prunable") current.prunable = value;
    }
  }
  if (current) entries.push(current);
  return entries;
}

/** The worktrees of the repository that contains `repo` (main worktree first). */
export async function listWorktrees(repo: string): Promise<WorktreeEntry[]> {
  return parseWorktreeList(await git(repo, ["worktree", "list", "--porcelain", "-z"]));
}

/** Committer time (ms) of HEAD in a worktree, `null` when it has no commit. */
export async function lastCommitAt(worktree: string): Promise<number | null> {
  try {
    const out = (await git(worktree, ["log", "-1", "--format=%ct", "HEAD"])).trim();
    return out === "" ? null : Number(out) * 1000;
  } catch {
    return null;
  }
}

/** Time (ms) of the newest entry of the worktree's HEAD reflog, `null` without a reflog. */
export async function lastReflogAt(worktree: string): Promise<number | null> {
  try {
    const out = (await git(worktree, ["reflog", "show", "--date=unix", "--format=%gd", "-n", "1", "HEAD", "--"])).trim();
    const match = /@\{(\d+)\}/.exec(out);
    return match ? Number(match[1]) * 1000 : null;
  } catch {
    return null;
  }
}

/**
 * Tracked paths (index entries, submodules included) at or under each of `rels` in a worktree, at most `limit` per
 * folder: one `git ls-files` for all of them, only the index entries inside them come back.
 */
export async function trackedUnder(worktree: string, rels: readonly string[], limit = 5): Promise<Map<string, string[]>> {
  const found = new Map<string, string[]>(rels.map((rel) => [rel, []]));
  if (rels.length === 0) return found;
  const out = await git(worktree, ["ls-files", "-z", "--", ...rels]);
  for (const path of out.split("\0")) {
    if (path === "") continue;
    // Artifact folders never nest (a walk does not search inside one), so a path belongs to one folder at most.
    for (const rel of rels) {
      if (path === rel || path.startsWith(`${rel}/`)) {
        const list = found.get(rel)!;
        if (list.length < limit) list.push(path);
        break;
      }
    }
  }
  return found;
}

/** `git status --porcelain=v1 -z` of a worktree (untracked folders listed whole). */
export async function statusOf(worktree: string): Promise<string> {
  return git(worktree, ["status", "--porcelain=v1", "-z"]);
}

/** The worktree's own git directory (`<common>/worktrees/<id>` for a linked worktree). */
export async function gitDirOf(worktree: string): Promise<string> {
  return (await git(worktree, ["rev-parse", "--absolute-git-dir"])).trim();
}
