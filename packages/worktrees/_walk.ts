import { lstatSync, readFileSync } from "node:fs";
import type { TreePool, WalkTotals } from "./_tree_pool.ts";

/** An artifact folder found in a worktree, measured without following a symlink or leaving the filesystem. */
export interface ArtifactFolder {
  /** Worktree-relative, `/`-separated path (`apps/web/.next`). */
  rel: string;
  /** Apparent size (`st_size`, as `du -sb`) of everything inside, the folder itself included. */
  size: number;
  /** Allocated bytes (`st_blocks * 512`, what the filesystem gives back). */
  bytes: number;
  files: number;
  /** Why the folder must not be removed, whatever git says, or `null`. */
  hazard: string | null;
}

/** What a walk of one worktree found. */
export interface WorktreeWalk {
  /** Newest `mtime` (ms) of a file or symlink outside the artifact folders, `null` when there is none. */
  newestFileMs: number | null;
  newestFile: string | null;
  /** Allocated bytes of the worktree outside its artifact folders (the artifacts are measured apart). */
  totalBytes: number;
  /** Sorted by path; sizes are 0 (see {@link measureFolders}). */
  artifacts: ArtifactFolder[];
  /** Paths that could not be read (the walk fails closed on them: the worktree counts as active). */
  errors: string[];
  /** `st_dev` of the worktree root. */
  rootDev: number;
}

/**
 * Mount points strictly under `root` (a real path), from `/proc/self/mountinfo`; `null` when that cannot be read
 * (the walks then `lstat` every directory for its device instead).
 */
export function mountPointsUnder(root: string): string[] | null {
  let text: string;
  try {
    text = readFileSync("/proc/self/mountinfo", "utf8");
  } catch {
    return null;
  }
  const prefix = root === "/" ? "/" : `${root}/`;
  const found: string[] = [];
  for (const line of text.split("\n")) {
    const field = line.split(" ")[4];
    if (field === undefined) continue;
    // The kernel escapes space, tab, newline and backslash as octal (`\040`).
    const point = field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
    if (point.startsWith(prefix) && point !== root) found.push(point);
  }
  return found;
}

/** The first hazard of a walk, worded for the report, with its path relative to the worktree `root`. */
function hazardOf(totals: WalkTotals, root: string): string | null {
  const hazard = totals.hazard;
  if (hazard === null) return null;
  const rel = hazard.path.slice(root.length + 1);
  return hazard.what === "unreadable" ? `cannot be read: ${hazard.message}` : `holds ${hazard.message} (${rel})`;
}

/**
 * Walks a worktree on the pool's threads: every directory on the root's filesystem, never through a symlink, `.git`
 * and reclaim's trash skipped. Outside the artifact folders every entry is `lstat`ed (newest modification, allocated
 * bytes); artifact folders are not searched for further artifacts (nested `node_modules` belong to the outer one)
 * but only for hazards — a `.git`, a mount point — by file type, without an `lstat` per file: this is what stands
 * between a pass and the rename out of the worktree.
 */
export async function walkWorktree(pool: TreePool, root: string, artifacts: readonly string[], signal?: AbortSignal): Promise<WorktreeWalk> {
  const rootStat = lstatSync(root);
  const dev = rootStat.dev;
  const mounts = mountPointsUnder(root);
  const outside = (await pool.walk("activity", [{ group: 0, dir: root }], { dev, mounts, artifacts }, signal)).get(0)!;
  const rel = (path: string) => path.slice(root.length + 1);
  const found = outside.artifacts.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const roots = found.flatMap((a, group) => (a.hazard === null ? [{ group, dir: a.path }] : []));
  const inside = roots.length > 0 ? await pool.walk("hazard", roots, { dev, mounts, artifacts: [] }, signal) : new Map<number, WalkTotals>();
  return {
    newestFileMs: outside.newestMs,
    newestFile: outside.newestPath === null ? null : rel(outside.newestPath),
    totalBytes: rootStat.blocks * 512 + outside.bytes,
    artifacts: found.map((a, group) => {
      const totals = inside.get(group);
      return { rel: rel(a.path), size: 0, bytes: 0, files: totals?.files ?? 0, hazard: a.hazard ?? (totals ? hazardOf(totals, root) : null) };
    }),
    errors: outside.errors,
    rootDev: rootStat.dev,
  };
}

/**
 * Measures folders of a worktree (`root`, a real path; `rels` relative to it) like `du -sb` (apparent sizes,
 * directories included) plus allocated bytes, on the pool's threads, never following a symlink or entering another
 * filesystem than the root's. A mount point or a git repository inside makes a folder hazardous (reported; measured
 * up to it).
 *
 * @example
 * ```ts
 * const [nodeModules] = await measureFolders(pool, "/src/wt/a", ["node_modules"]);
 * ```
 */
export async function measureFolders(pool: TreePool, root: string, rels: readonly string[], signal?: AbortSignal): Promise<ArtifactFolder[]> {
  if (rels.length === 0) return [];
  const dev = lstatSync(root).dev;
  const tops = rels.map((rel) => {
    try {
      return lstatSync(`${root}/${rel}`);
    } catch {
      return null;
    }
  });
  const roots = rels.flatMap((rel, group) => (tops[group]?.isDirectory() ? [{ group, dir: `${root}/${rel}` }] : []));
  const totals = await pool.walk("measure", roots, { dev, mounts: mountPointsUnder(root), artifacts: [] }, signal);
  return rels.map((rel, group) => {
    const top = tops[group];
    const t = totals.get(group);
    return { rel, size: (top?.size ?? 0) + (t?.size ?? 0), bytes: (top ? top.blocks * 512 : 0) + (t?.bytes ?? 0), files: t?.files ?? 0, hazard: t ? hazardOf(t, root) : null };
  });
}
