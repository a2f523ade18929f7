import { closeSync, fstatSync, lstatSync, mkdirSync, readdirSync, realpathSync, renameSync, rmdirSync, statSync, unlinkSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { OWNER, ownerIsLive } from "@reclaim/core";
import type { TreePool } from "./_tree_pool.ts";
import { CHANGED, type DeleteTask, listNames, mountId, openDirectory } from "./_tree_tasks.ts";

type Subtree = DeleteTask["trees"][number];

/** Name of the trash folder inside a worktree's own git directory (`<common>/worktrees/<id>/reclaim-trash`). */
export const ADMIN_TRASH = "reclaim-trash";
/** Name of the fallback trash folder at a worktree's root, when its git directory is on another filesystem. */
export const WORKTREE_TRASH = ".reclaim-trash";

/**
 * Where a worktree's artifact folders go before they are deleted: a folder on the worktree's filesystem, named
 * after this process's owner string so a later pass can tell a live deletion from one a kill interrupted. The
 * worktree's git directory is preferred (nothing shows in `git status`); the worktree root is the fallback.
 */
export function trashFolder(worktree: string, gitDir: string): string {
  const dev = statSync(worktree).dev;
  let base = join(worktree, WORKTREE_TRASH);
  try {
    if (statSync(gitDir).dev === dev) base = join(gitDir, ADMIN_TRASH);
  } catch {
    // no git directory to use: the worktree root
  }
  return join(base, OWNER);
}

let sequence = 0;

/**
 * Renames `path` into `trash` (created on demand): the only blocking part of a deletion. Returns the new path.
 * `rename(2)` moves the folder whole or not at all, so a kill leaves it either in the worktree or in the trash.
 */
export function moveToTrash(path: string, trash: string): string {
  // The last look: the folder's parent must still be reached without a symlink, the folder still a directory.
  if (realpathSync(dirname(path)) !== dirname(path)) throw new Error("its parent is now reached through a symlink");
  if (!lstatSync(path).isDirectory()) throw new Error("it is no longer a directory");
  mkdirSync(trash, { recursive: true, mode: 0o700 });
  const target = join(trash, `${Date.now()}-${process.pid}-${++sequence}-${basename(path)}`);
  renameSync(path, target);
  return target;
}

/** Trash entries left by passes that are gone (killed, or crashed): `[ownerFolder, entries]`. */
export function abandonedTrash(worktree: string, gitDir: string | null): Array<{ folder: string; entries: string[] }> {
  const found: Array<{ folder: string; entries: string[] }> = [];
  const bases = [join(worktree, WORKTREE_TRASH), ...(gitDir ? [join(gitDir, ADMIN_TRASH)] : [])];
  for (const base of bases) {
    let owners: string[];
    try {
      owners = readdirSync(base);
    } catch {
      continue;
    }
    for (const owner of owners) {
      const folder = join(base, owner);
      let mtime: number;
      try {
        const st = lstatSync(folder);
        if (!st.isDirectory()) continue;
        mtime = st.mtimeMs;
      } catch {
        continue;
      }
      if (ownerIsLive(owner, mtime)) continue;
      found.push({ folder, entries: readdirSync(folder).map((name) => join(folder, name)) });
    }
  }
  return found;
}

/** Removes an empty owner folder and its trash folder when they are empty (ENOTEMPTY is fine). */
export function tidyTrash(ownerFolder: string): void {
  for (const dir of [ownerFolder, join(ownerFolder, "..")]) {
    try {
      rmdirSync(dir);
    } catch {
      return;
    }
  }
}

/** What a background deletion did. */
export interface RemoveResult {
  /** Files, links and directories unlinked. */
  entries: number;
  /** Per root (same order as given): apparent size, allocated bytes and files (not directories) unlinked. */
  roots: Array<{ size: number; bytes: number; files: number }>;
  /** Directories on another filesystem, left in place (never entered). */
  otherFilesystem: number;
  errors: string[];
}

/**
 * Deletes whole trees on the pool's worker threads: the calling thread splits the trees into subtrees (breadth first
 * through their first levels, until there are enough to keep every thread busy) and hands them out in small batches;
 * each thread unlinks its subtrees depth first, `lstat`ing each entry (its type now, and its size), never following
 * a symlink (`unlink` removes the link itself) and never entering a directory on another filesystem than `dev`. The
 * calling thread then removes the emptied upper directories. `onProgress` runs on the calling thread after every
 * batch; an aborted `signal` stops handing out subtrees (what is left stays in the trash for the next pass).
 */
export async function removeTrees(
  pool: TreePool,
  roots: readonly string[],
  dev: number,
  options: { onProgress?: (entries: number) => void; signal?: AbortSignal } = {},
): Promise<RemoveResult> {
  const result: RemoveResult = { entries: 0, roots: roots.map(() => ({ size: 0, bytes: 0, files: 0 })), otherFilesystem: 0, errors: [] };
  const count = (root: number, st: { size: number; blocks: number }, file: boolean) => {
    const into = result.roots[root]!;
    into.size += st.size;
    into.bytes += st.blocks * 512;
    if (file) into.files++;
  };
  const note = (err: unknown, path: string) => {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== "ENOENT" && result.errors.length < 20) result.errors.push(`${path}: ${(err as Error).message}`);
  };
  // Split: breadth first through the first levels, unlinking what is not a directory on the way. Each directory is
  // opened without following a link and read only if it is the one `lstat`ed and on its root's mount; its entries are
  // reached through `/proc/self/fd/N/`, so a directory above swapped for a link redirects nothing.
  const upper: string[] = [];
  const mounts: number[] = [];
  const changed = (dir: string) => {
    if (result.errors.length < 20) result.errors.push(`${dir}: ${CHANGED}`);
  };
  let frontier: Subtree[] = [];
  const whole: Subtree[] = []; // not split further (a name that is not UTF-8 inside): a worker empties it
  for (const [index, root] of roots.entries()) {
    try {
      const st = lstatSync(root);
      if (!st.isDirectory()) {
        unlinkSync(root);
        count(index, st, true);
        result.entries++;
      } else if (st.dev !== dev) result.otherFilesystem++;
      else {
        const fd = openDirectory(root);
        try {
          if (fstatSync(fd).ino !== st.ino) changed(root);
          else {
            mounts[index] = mountId(fd)!;
            count(index, st, false);
            frontier.push([index, root, st.ino, mounts[index]]);
          }
        } finally {
          closeSync(fd);
        }
      }
    } catch (err) {
      note(err, root);
    }
  }
  for (let depth = 0; depth < 4 && frontier.length > 0 && frontier.length < 64 * pool.threads; depth++) {
    const next: Subtree[] = [];
    for (const subtree of frontier) {
      const [index, dir, ino, mount] = subtree;
      let fd: number;
      try {
        fd = openDirectory(dir);
      } catch (err) {
        note(err, dir);
        continue;
      }
      try {
        if (fstatSync(fd).ino !== ino) {
          changed(dir);
          continue;
        }
        if (mountId(fd) !== mount) {
          result.otherFilesystem++; // a mount point (a bind mount of the same filesystem too): never entered
          continue;
        }
        const at = `/proc/self/fd/${fd}/`;
        const names = listNames(at);
        if (names.some((name) => typeof name !== "string")) {
          whole.push(subtree);
          continue;
        }
        upper.push(dir);
        for (const name of names as string[]) {
          const path = `${dir}/${name}`;
          try {
            const st = lstatSync(at + name); // its type now, not readdir's: a directory swapped for a link is unlinked
            if (st.isDirectory()) {
              if (st.dev !== dev) result.otherFilesystem++;
              else {
                count(index, st, false);
                next.push([index, path, st.ino, mount]);
              }
            } else {
              unlinkSync(at + name);
              count(index, st, true);
              result.entries++;
            }
          } catch (err) {
            note(err, path);
          }
        }
      } catch (err) {
        note(err, dir);
      } finally {
        closeSync(fd);
      }
    }
    frontier = next;
  }
  frontier.push(...whole);
  const progress = () => {
    try {
      options.onProgress?.(result.entries);
    } catch {
      // a faulty progress callback does not stop the deletion
    }
  };
  if (frontier.length > 0) {
    await pool.remove(frontier, dev, (done) => {
      for (const d of done.done) {
        result.entries += d.entries;
        const into = result.roots[d.tag]!;
        into.size += d.size;
        into.bytes += d.bytes;
        into.files += d.files;
        result.otherFilesystem += d.otherFilesystem;
      }
      for (const e of done.errors) if (result.errors.length < 20) result.errors.push(e);
      progress();
    }, options.signal);
  }
  for (const dir of upper.reverse()) {
    try {
      rmdirSync(dir);
      result.entries++;
    } catch (err) {
      note(err, dir);
    }
  }
  progress();
  return result;
}
