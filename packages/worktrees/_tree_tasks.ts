/*
 * The per-directory work of the worktrees hook's walks and deletions. Runs on worker threads (`_tree_worker.ts`) and
 * may run on the calling thread: an ordinary module, but every worker loads it, so its imports stay Node's own
 * modules and core's light `stat_array` entry. Never follows a symlink: entries are `lstat`ed or typed by `readdir`,
 * and `unlink` removes a link itself.
 */
import { closeSync, constants, fstatSync, openSync, readdirSync, readFileSync, rmdirSync, unlinkSync } from "node:fs";
import { createRequire } from "node:module";
import { BLOCKS, DEV, INO, lstatArray, MODE, MTIME, SIZE, statReader } from "@reclaim/core/stat_array";

/** What the native `clearTree` (`native/clear_tree.c`) and its JavaScript fallback report for one directory. */
export interface Cleared {
  /** The directory is empty afterwards (the caller removes it). */
  empty: boolean;
  entries: number;
  files: number;
  size: number;
  bytes: number;
  otherFilesystem: number;
  errors: string[];
}

/**
 * The native deletion (`pnpm install` builds it with node-gyp): `openat`/`fstatat`/`unlinkat` relative to an open
 * directory like `rm -rf`, where Node 20 can only look up the whole path of every entry, twice. `null` when it is not
 * built, or when `RECLAIM_NATIVE=0` asks for the JavaScript deletion (which gives the same answers).
 */
export const nativeClearTree: ClearTree | null = loadNative();

/** Empties `dir`; given `ino` and `mountId`, only if `dir` is still that directory on that mount. */
export type ClearTree = (dir: string, dev: number, ino?: number, mountId?: number) => Cleared;

function loadNative(): ClearTree | null {
  if (process.env.RECLAIM_NATIVE === "0") return null;
  const require = createRequire(import.meta.url);
  // From the sources (`_tree_tasks.ts`) or the build (`dist/_tree_tasks.js`).
  for (const path of ["./build/Release/clear_tree.node", "../build/Release/clear_tree.node"]) {
    try {
      return (require(path) as { clearTree: ClearTree }).clearTree;
    } catch {
      // not there: the next place, then the JavaScript deletion
    }
  }
  return null;
}

/**
 * How a walk treats what it finds:
 * - `activity`: a worktree outside its artifact folders: `lstat` per entry for the newest `mtime` and the allocated
 *   bytes; artifact folders are reported (not entered);
 * - `hazard`: inside an artifact folder, before it may be renamed away: `readdir` types only (no `lstat` per file),
 *   looking for a `.git` and a mount point, counting files;
 * - `measure`: like `du -sb` (apparent sizes) plus allocated bytes, `lstat` per entry, with the same hazards.
 */
export type WalkMode = "activity" | "hazard" | "measure";

/** Walk some directories depth first, `budget` entries at most; what is left comes back in `dirs`. */
export interface WalkTask {
  op: "walk";
  mode: WalkMode;
  /** The caller's tag for the tree these directories belong to. */
  group: number;
  dirs: string[];
  /** `st_dev` of the tree's root: directories on another device are never entered. */
  dev: number;
  /** Mount points under the tree (real paths), or `null` when unknown (then every directory is `lstat`ed). */
  mounts: string[] | null;
  /** Artifact folder names (activity mode). */
  artifacts: string[];
  budget: number;
}

/** An artifact folder an activity walk came across. */
export interface FoundArtifact {
  path: string;
  /** Why it must not be removed, whatever git says (a symlink, a mount point), or `null`. */
  hazard: string | null;
  /** Apparent and allocated size of the entry itself (a symlink's own size). */
  size: number;
  bytes: number;
}

/** What one walk task found. */
export interface WalkResult {
  op: "walk";
  group: number;
  /** Directories not walked yet (the budget ran out). */
  dirs: string[];
  /** Files (anything but a directory) counted. */
  files: number;
  /** Apparent size (`st_size`) of entries `lstat`ed. */
  size: number;
  /** Allocated bytes (`st_blocks * 512`) of entries `lstat`ed. */
  bytes: number;
  newestMs: number | null;
  newestPath: string | null;
  artifacts: FoundArtifact[];
  /** The first hazard met (hazard and measure modes), with the absolute path that makes it one. */
  hazard: { what: "git" | "mount" | "unreadable"; path: string; message: string } | null;
  /** Paths that could not be read (activity mode: the worktree then counts as active). */
  errors: string[];
}

/** Delete whole subtrees depth first; each root's directory itself too. */
export interface DeleteTask {
  op: "delete";
  /** Per subtree: the caller's tag, the directory, its inode and its tree's mount id (it is entered only if it is still that directory on that mount). */
  trees: Array<[tag: number, dir: string, ino: number, mountId: number]>;
  dev: number;
}

/** What one delete task did, per tag. */
export interface DeleteResult {
  op: "delete";
  done: Array<{ tag: number; entries: number; size: number; bytes: number; files: number; otherFilesystem: number }>;
  errors: string[];
}

export type TreeTask = WalkTask | DeleteTask;
export type TreeResult = WalkResult | DeleteResult;

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;

/**
 * What `readdir` gives for a name that is not UTF-8: the walks cannot look it up (a `.git` below it would be missed),
 * so an artifact folder holding one is kept.
 */
const NOT_UTF8 = "\uFFFD";
const NOT_UTF8_MESSAGE = "a name that is not UTF-8 (not walked)";

/** Why a directory met during a deletion is left in place: it is no longer the one that was `lstat`ed. */
export const CHANGED = "changed while being deleted (left in place)";

/** Names never walked at any depth in activity mode: git's own data, and reclaim's in-worktree trash. */
export const WALK_SKIP: ReadonlySet<string> = new Set([".git", ".reclaim-trash"]);

/**
 * Runs one task on the calling thread.
 *
 * @example
 * ```ts
 * const result = runTreeTask({ op: "walk", mode: "measure", group: 0, dirs: [dir], dev, mounts: [], artifacts: [], budget: Infinity });
 * ```
 */
export function runTreeTask(task: TreeTask): TreeResult {
  return task.op === "walk" ? walk(task) : remove(task);
}

let reader: ReturnType<typeof statReader> | null = null;
const stat = (path: string): Float64Array | undefined => (reader ??= statReader(false)).stat(path);
const mtimeOf = (st: Float64Array): number => reader!.ms(st, MTIME);

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException).code;
}

function walk(task: WalkTask): WalkResult {
  const result: WalkResult = { op: "walk", group: task.group, dirs: [], files: 0, size: 0, bytes: 0, newestMs: null, newestPath: null, artifacts: [], hazard: null, errors: [] };
  const mounts = task.mounts === null ? null : new Set(task.mounts);
  const artifacts = new Set(task.artifacts);
  const stack = [...task.dirs];
  const hazard = (what: "git" | "mount" | "unreadable", path: string, message: string) => {
    result.hazard ??= { what, path, message };
  };
  let seen = 0;
  while (stack.length > 0 && seen < task.budget) {
    const dir = stack.pop()!;
    if (task.mode === "hazard") {
      let entries;
      try {
        entries = readdirSync(dir, { withFileTypes: true });
      } catch (err) {
        if (errno(err) !== "ENOENT") hazard("unreadable", dir, (err as Error).message);
        continue;
      }
      seen += entries.length;
      for (const entry of entries) {
        const path = `${dir}/${entry.name}`;
        if (entry.name.includes(NOT_UTF8)) hazard("unreadable", path, NOT_UTF8_MESSAGE);
        if (entry.name === ".git") hazard("git", path, "a git repository");
        if (!entry.isDirectory()) {
          result.files++;
          continue;
        }
        // Mount points are known from /proc/self/mountinfo: no lstat per directory, unless that is unreadable.
        if (mounts !== null && !mounts.has(path)) {
          stack.push(path);
          continue;
        }
        const st = stat(path);
        if (st === undefined) continue;
        if (st[DEV] !== task.dev) hazard("mount", path, "a mount point of another filesystem");
        else if (mounts?.has(path)) hazard("mount", path, "a mount point");
        else if (((st[MODE] as number) & S_IFMT) === S_IFDIR) stack.push(path);
      }
      continue;
    }
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch (err) {
      if (errno(err) === "ENOENT") continue;
      if (task.mode === "activity") result.errors.push(`${dir}: ${(err as Error).message}`);
      else hazard("unreadable", dir, (err as Error).message);
      continue;
    }
    seen += names.length;
    for (const name of names) {
      if (task.mode === "activity" && WALK_SKIP.has(name)) continue;
      const path = `${dir}/${name}`;
      if (task.mode === "measure" && name.includes(NOT_UTF8)) hazard("unreadable", path, NOT_UTF8_MESSAGE);
      let st;
      try {
        st = stat(path);
      } catch (err) {
        if (task.mode === "activity") result.errors.push(`${path}: ${(err as Error).message}`);
        continue;
      }
      if (st === undefined) continue; // vanished
      const type = (st[MODE] as number) & S_IFMT;
      const size = st[SIZE] as number;
      const bytes = (st[BLOCKS] as number) * 512;
      if (task.mode === "activity" && artifacts.has(name) && (type === S_IFDIR || type === S_IFLNK)) {
        if (type === S_IFLNK) {
          result.artifacts.push({ path, hazard: "is a symlink (never followed)", size, bytes: 0 });
          result.bytes += bytes;
        } else if (st[DEV] !== task.dev) {
          result.artifacts.push({ path, hazard: "is on another filesystem (a mount point, never entered)", size: 0, bytes: 0 });
        } else if (mounts?.has(path)) {
          result.artifacts.push({ path, hazard: "is a mount point (never entered)", size: 0, bytes: 0 });
        } else result.artifacts.push({ path, hazard: null, size, bytes });
        continue;
      }
      if (type === S_IFDIR) {
        if (st[DEV] !== task.dev) {
          if (task.mode === "measure") hazard("mount", path, "a mount point of another filesystem");
          continue; // another filesystem: not ours to judge, count or enter
        }
        if (task.mode === "measure") {
          if (mounts?.has(path)) {
            hazard("mount", path, "a mount point");
            continue;
          }
          if (name === ".git") hazard("git", path, "a git repository");
        }
        result.size += size;
        result.bytes += bytes;
        stack.push(path);
        continue;
      }
      result.files++;
      result.size += size;
      result.bytes += bytes;
      if (task.mode === "measure") {
        if (name === ".git") hazard("git", path, "a git repository");
        continue;
      }
      const mtime = mtimeOf(st);
      if (result.newestMs === null || mtime > result.newestMs) {
        result.newestMs = mtime;
        result.newestPath = path;
      }
    }
  }
  result.dirs = stack;
  return result;
}

function remove(task: DeleteTask): DeleteResult {
  const result: DeleteResult = { op: "delete", done: [], errors: [] };
  const clearTree = nativeClearTree ?? clearTreeJs;
  for (const [tag, top, ino, mount] of task.trees) {
    const { empty, errors, ...counts } = clearTree(top, task.dev, ino, mount);
    const done = { tag, ...counts };
    result.done.push(done);
    for (const e of errors) if (result.errors.length < 20) result.errors.push(e);
    if (!empty) continue;
    try {
      rmdirSync(top);
      done.entries++;
    } catch (err) {
      if (errno(err) !== "ENOENT" && result.errors.length < 20) result.errors.push(`${top}: ${(err as Error).message}`);
    }
  }
  return result;
}

/** Deeper than this, a directory is left in place and reported (as `native/clear_tree.c` does). */
const MAX_DEPTH = 1024;
const { O_DIRECTORY, O_NOFOLLOW, O_RDONLY } = constants;

/** The mount an open descriptor is on (`/proc/self/fdinfo`): a bind mount has the same device, not the same mount. */
export function mountId(fd: number): number | undefined {
  const id = /^mnt_id:\s*(\d+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, "utf8"))?.[1];
  return id === undefined ? undefined : Number(id);
}

/** Opens a directory without following a link (the last name; `/proc/self/fd/N/name` for no lookup above it). */
export function openDirectory(path: string | Buffer): number {
  return openSync(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
}

/** The names in a directory; a name that is not UTF-8 (it would come back mangled) as bytes. */
export function listNames(dir: string): Array<string | Buffer> {
  const names = readdirSync(dir);
  if (!names.some((name) => name.includes(NOT_UTF8))) return names;
  return readdirSync(dir, { encoding: "buffer" }).map((name) => (name.toString().includes(NOT_UTF8) ? name : name.toString()));
}

/**
 * `clearTree` in JavaScript, relative to open directories like the native one: each directory is opened with
 * O_NOFOLLOW and entered only when it is the one `lstat`ed (device, inode) and on the top's mount; its entries are
 * reached through `/proc/self/fd/N/name`, so a directory above swapped for a link redirects nothing.
 */
export function clearTreeJs(top: string, dev: number, ino?: number, topMount?: number): Cleared {
  const done: Cleared = { empty: false, entries: 0, size: 0, bytes: 0, files: 0, otherFilesystem: 0, errors: [] };
  const note = (path: string, message: string) => {
    if (done.errors.length < 20) done.errors.push(`${path}: ${message}`);
  };
  const fail = (err: unknown, path: string) => {
    if (errno(err) !== "ENOENT") note(path, (err as Error).message);
  };
  const path = top.length > 1 ? top.replace(/\/+$/, "") || "/" : top; // "link/" would open what the link points to
  let fd: number;
  try {
    fd = openDirectory(path);
  } catch (err) {
    fail(err, path);
    done.empty = errno(err) === "ENOENT";
    return done;
  }
  let mount: number | undefined;
  // Depth first; true when the open directory `fd` (`shown` in messages) is empty afterwards.
  const clear = (fd: number, shown: string, depth: number): boolean => {
    if (depth > MAX_DEPTH) {
      note(shown, "nested too deep (left in place)");
      return false;
    }
    const at = `/proc/self/fd/${fd}/`;
    let names: Array<string | Buffer>;
    try {
      names = listNames(at);
    } catch (err) {
      fail(err, shown);
      return false;
    }
    let empty = true;
    for (const name of names) {
      const entry = typeof name === "string" ? at + name : Buffer.concat([Buffer.from(at), name]);
      const show = `${shown}/${name.toString()}`;
      try {
        const st = typeof entry === "string" ? stat(entry) : lstatArray(entry); // its type now: a link is unlinked, never entered
        if (st === undefined) continue;
        const size = st[SIZE] as number;
        const bytes = (st[BLOCKS] as number) * 512;
        if (((st[MODE] as number) & S_IFMT) !== S_IFDIR) {
          unlinkSync(entry);
          done.entries++;
          done.files++;
          done.size += size;
          done.bytes += bytes;
          continue;
        }
        if (st[DEV] !== dev) {
          done.otherFilesystem++;
          empty = false;
          continue;
        }
        const ino = st[INO];
        const sub = openDirectory(entry);
        let cleared = false;
        try {
          const opened = fstatSync(sub);
          if (opened.dev !== dev || opened.ino !== ino) {
            note(show, CHANGED);
          } else if (mountId(sub) !== mount) {
            done.otherFilesystem++; // a mount point (a bind mount of the same filesystem too): never entered
          } else cleared = clear(sub, show, depth + 1);
        } finally {
          closeSync(sub);
        }
        if (!cleared) {
          empty = false;
          continue;
        }
        rmdirSync(entry);
        done.entries++;
        done.size += size;
        done.bytes += bytes;
      } catch (err) {
        fail(err, show);
        if (errno(err) !== "ENOENT") empty = false;
      }
    }
    return empty;
  };
  try {
    const opened = fstatSync(fd);
    mount = mountId(fd);
    if (opened.dev !== dev || mount === undefined) done.otherFilesystem++;
    else if (ino !== undefined && opened.ino !== ino) note(path, CHANGED);
    else if (topMount !== undefined && mount !== topMount) done.otherFilesystem++; // a mount point: never entered
    else done.empty = clear(fd, path, 0);
  } catch (err) {
    fail(err, path);
  } finally {
    closeSync(fd);
  }
  return done;
}

