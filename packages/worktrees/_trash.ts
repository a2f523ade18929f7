import type * as NodeFs from "node:fs";
import { lstatSync, mkdirSync, readdirSync, realpathSync, renameSync, rmdirSync, statSync, unlinkSync } from "node:fs";
import { availableParallelism } from "node:os";
import { basename, dirname, join } from "node:path";
import { Worker } from "node:worker_threads";
import { OWNER, ownerIsLive } from "@reclaim/core";

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

/** Threads that delete: both cores here (one per core, at most 4). */
export function defaultDeleteThreads(): number {
  return Math.max(1, Math.min(4, availableParallelism()));
}

/**
 * Deletes whole trees on worker threads: the calling thread splits each tree into subtrees (its first levels) and
 * hands them out one at a time per thread; each thread unlinks its subtree depth first, never following a symlink
 * (`unlink` removes the link itself) and never entering a directory on another filesystem than `dev`. The calling
 * thread then removes the emptied upper directories. `onProgress` runs on the calling thread after every subtree.
 */
export async function removeTrees(
  roots: readonly string[],
  dev: number,
  options: { threads?: number; onProgress?: (entries: number) => void } = {},
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
  // Split: breadth first through the first levels, unlinking what is not a directory on the way.
  const upper: string[] = [];
  let frontier: Array<[root: number, dir: string]> = [];
  for (const [index, root] of roots.entries()) {
    try {
      const st = lstatSync(root);
      if (!st.isDirectory()) {
        unlinkSync(root);
        count(index, st, true);
        result.entries++;
      } else if (st.dev !== dev) result.otherFilesystem++;
      else {
        count(index, st, false);
        frontier.push([index, root]);
      }
    } catch (err) {
      note(err, root);
    }
  }
  for (let depth = 0; depth < 3 && frontier.length > 0 && frontier.length < 256; depth++) {
    const next: Array<[number, string]> = [];
    for (const [index, dir] of frontier) {
      upper.push(dir);
      let entries: NodeFs.Dirent[];
      try {
        entries = readdirSync(dir, { withFileTypes: true });
      } catch (err) {
        note(err, dir);
        continue;
      }
      for (const entry of entries) {
        const path = `${dir}/${entry.name}`;
        try {
          const st = lstatSync(path); // its type now, not readdir's: a directory swapped for a link is unlinked
          if (st.isDirectory()) {
            if (st.dev !== dev) result.otherFilesystem++;
            else {
              count(index, st, false);
              next.push([index, path]);
            }
          } else {
            unlinkSync(path);
            count(index, st, true);
            result.entries++;
          }
        } catch (err) {
          note(err, path);
        }
      }
    }
    frontier = next;
  }
  const tasks = frontier;
  const threads = Math.max(1, Math.min(options.threads ?? defaultDeleteThreads(), tasks.length));
  if (tasks.length > 0) {
    await new Promise<void>((resolve) => {
      const workers: Worker[] = [];
      let next = 0;
      let running = 0;
      const dispatch = (worker: Worker) => {
        if (next < tasks.length) {
          running++;
          worker.postMessage(tasks[next++]);
        }
      };
      const finish = () => {
        if (running === 0 && next >= tasks.length) {
          for (const w of workers) void w.terminate();
          resolve();
        }
      };
      for (let i = 0; i < threads; i++) {
        const worker = new Worker(DELETE_WORKER_SOURCE, { eval: true, workerData: { dev } });
        workers.push(worker);
        worker.on("message", (done: { root: number; entries: number; size: number; bytes: number; files: number; otherFilesystem: number; errors: string[] }) => {
          running--;
          result.entries += done.entries;
          const into = result.roots[done.root]!;
          into.size += done.size;
          into.bytes += done.bytes;
          into.files += done.files;
          result.otherFilesystem += done.otherFilesystem;
          for (const e of done.errors) if (result.errors.length < 20) result.errors.push(e);
          try {
            options.onProgress?.(result.entries);
          } catch {
            // a faulty progress callback does not stop the deletion
          }
          dispatch(worker);
          finish();
        });
        worker.on("error", (err) => {
          running--;
          note(err, "worker");
          finish();
        });
        dispatch(worker);
      }
      finish();
    });
  }
  for (const dir of upper.reverse()) {
    try {
      rmdirSync(dir);
      result.entries++;
    } catch (err) {
      note(err, dir);
    }
  }
  options.onProgress?.(result.entries);
  return result;
}

/* Runs on each deletion thread; shipped as source text, so it must stay self-contained (no imports, no outer names). */
function deleteWorkerMain(): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const threads = require("node:worker_threads") as typeof import("node:worker_threads");
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const fs = require("node:fs") as typeof NodeFs;
  const dev = (threads.workerData as { dev: number }).dev;
  threads.parentPort!.on("message", ([root, top]: [number, string]) => {
    const done = { root, entries: 0, size: 0, bytes: 0, files: 0, otherFilesystem: 0, errors: [] as string[] };
    const fail = (err: unknown, path: string) => {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT" && done.errors.length < 20) done.errors.push(`${path}: ${(err as Error).message}`);
    };
    const remove = (dir: string): boolean => {
      let entries: NodeFs.Dirent[];
      try {
        entries = fs.readdirSync(dir, { withFileTypes: true });
      } catch (err) {
        fail(err, dir);
        return false;
      }
      let empty = true;
      for (const entry of entries) {
        const path = `${dir}/${entry.name}`;
        try {
          const st = fs.lstatSync(path); // its type now, not readdir's: a directory swapped for a link is unlinked
          if (st.isDirectory()) {
            if (st.dev !== dev) {
              done.otherFilesystem++;
              empty = false;
              continue;
            }
            done.size += st.size;
            done.bytes += st.blocks * 512;
            if (remove(path)) {
              fs.rmdirSync(path);
              done.entries++;
            } else empty = false;
          } else {
            fs.unlinkSync(path);
            done.size += st.size;
            done.bytes += st.blocks * 512;
            done.files++;
            done.entries++;
          }
        } catch (err) {
          fail(err, path);
          empty = false;
        }
      }
      return empty;
    };
    if (remove(top)) {
      try {
        fs.rmdirSync(top);
        done.entries++;
      } catch (err) {
        fail(err, top);
      }
    }
    threads.parentPort!.postMessage(done);
  });
}

const DELETE_WORKER_SOURCE = `"use strict";\n(${deleteWorkerMain.toString()})();\n`;
