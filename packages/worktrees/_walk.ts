import { lstatSync, readdirSync } from "node:fs";

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
  /** Allocated bytes of the whole worktree (artifacts included). */
  totalBytes: number;
  artifacts: ArtifactFolder[];
  /** Paths that could not be read (the walk fails closed on them: the worktree counts as active). */
  errors: string[];
  /** `st_dev` of the worktree root. */
  rootDev: number;
}

/** Names never walked at any depth: git's own data, and reclaim's in-worktree trash. */
export const WALK_SKIP: ReadonlySet<string> = new Set([".git", ".reclaim-trash"]);

/**
 * Walks a worktree on the calling thread: every directory on the root's filesystem, never through a symlink.
 * Folders named in `artifacts` are measured whole (or, with `measure: false`, only searched for hazards, sizes
 * left at 0) and not searched further for artifacts (nested `node_modules` belong to the outer one); everything
 * else counts towards the newest modification.
 */
export function walkWorktree(root: string, artifacts: ReadonlySet<string>, options: { measure?: boolean } = {}): WorktreeWalk {
  const inspect = options.measure === false ? scanFolder : measureFolder;
  const rootStat = lstatSync(root);
  const result: WorktreeWalk = { newestFileMs: null, newestFile: null, totalBytes: rootStat.blocks * 512, artifacts: [], errors: [], rootDev: rootStat.dev };
  const stack: string[] = [""];
  while (stack.length > 0) {
    const rel = stack.pop()!;
    const dir = rel === "" ? root : `${root}/${rel}`;
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") result.errors.push(`${rel || "."}: ${(err as Error).message}`);
      continue;
    }
    for (const entry of entries) {
      if (WALK_SKIP.has(entry.name)) continue;
      const childRel = rel === "" ? entry.name : `${rel}/${entry.name}`;
      const path = `${root}/${childRel}`;
      let st;
      try {
        st = lstatSync(path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") result.errors.push(`${childRel}: ${(err as Error).message}`);
        continue;
      }
      if (artifacts.has(entry.name)) {
        if (st.isSymbolicLink()) {
          result.artifacts.push({ rel: childRel, size: st.size, bytes: 0, files: 0, hazard: "is a symlink (never followed)" });
          result.totalBytes += st.blocks * 512;
          continue;
        }
        if (st.isDirectory() && st.dev !== rootStat.dev) {
          result.artifacts.push({ rel: childRel, size: 0, bytes: 0, files: 0, hazard: "is on another filesystem (a mount point, never entered)" });
          continue;
        }
        if (st.isDirectory()) {
          const folder = inspect(path, childRel, rootStat.dev);
          result.artifacts.push(folder);
          result.totalBytes += folder.bytes;
          continue;
        }
      }
      if (st.isDirectory()) {
        if (st.dev !== rootStat.dev) continue; // another filesystem: not ours to judge or count
        result.totalBytes += st.blocks * 512;
        stack.push(childRel);
        continue;
      }
      result.totalBytes += st.blocks * 512;
      if (result.newestFileMs === null || st.mtimeMs > result.newestFileMs) {
        result.newestFileMs = st.mtimeMs;
        result.newestFile = childRel;
      }
    }
  }
  return result;
}

/**
 * Measures one artifact folder like `du -sb` (apparent sizes, directories included) plus allocated bytes, never
 * following a symlink. A directory on another filesystem (a mount point) or a git repository inside makes the folder
 * hazardous: it is counted but must not be removed.
 */
export function measureFolder(path: string, rel: string, dev: number): ArtifactFolder {
  const top = lstatSync(path);
  const folder: ArtifactFolder = { rel, size: top.size, bytes: top.blocks * 512, files: 0, hazard: null };
  const stack = [path];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") folder.hazard ??= `cannot be read: ${(err as Error).message}`;
      continue;
    }
    for (const name of names) {
      const child = `${dir}/${name}`;
      let st;
      try {
        st = lstatSync(child);
      } catch {
        continue;
      }
      folder.size += st.size;
      folder.bytes += st.blocks * 512;
      if (st.isDirectory()) {
        if (st.dev !== dev) {
          folder.hazard ??= `holds a mount point of another filesystem (${child.slice(path.length - rel.length)})`;
          continue;
        }
        if (name === ".git") folder.hazard ??= `holds a git repository (${child.slice(path.length - rel.length)})`;
        stack.push(child);
      } else {
        folder.files++;
        if (name === ".git") folder.hazard ??= `holds a git repository (${child.slice(path.length - rel.length)})`;
      }
    }
  }
  return folder;
}

/**
 * Searches one artifact folder for hazards (a mount point, a git repository) and counts its files, without an
 * `lstat` per file: only directories are stat'ed (for their device). Sizes are left at 0: the deletion threads
 * measure them as they unlink. This is what stands between a pass and the rename out of the worktree.
 */
export function scanFolder(path: string, rel: string, dev: number): ArtifactFolder {
  const folder: ArtifactFolder = { rel, size: 0, bytes: 0, files: 0, hazard: null };
  const stack = [path];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") folder.hazard ??= `cannot be read: ${(err as Error).message}`;
      continue;
    }
    for (const entry of entries) {
      const child = `${dir}/${entry.name}`;
      if (entry.name === ".git") folder.hazard ??= `holds a git repository (${child.slice(path.length - rel.length)})`;
      if (entry.isDirectory()) {
        let st;
        try {
          st = lstatSync(child);
        } catch {
          continue;
        }
        if (st.dev !== dev) {
          folder.hazard ??= `holds a mount point of another filesystem (${child.slice(path.length - rel.length)})`;
          continue;
        }
        stack.push(child);
      } else folder.files++;
    }
  }
  return folder;
}
