import { randomBytes } from "node:crypto";
import type { Stats } from "node:fs";
import { type FileHandle, link, lstat, open, readdir, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { judgeOwner, OWNER } from "./process_identity.ts";

/** Marker in the names of reclaim's temporary files; sweeps skip them and the owning hook cleans them up. */
export const TEMP_MARKER = ".reclaim-tmp-";

/**
 * A temp file whose writer cannot be checked from here (another host or pid namespace, or a name of an older
 * version that carries a bare pid, which PID reuse in containers makes meaningless) is stale after this long.
 */
export const FOREIGN_TEMP_STALE_MS = 3_600_000;

/**
 * A temporary path beside `path` (same folder, so the final rename is atomic) that names its writer:
 * `dir/.name.reclaim-tmp-<random>.<owner>`, the owner being this process's identity (pid, start time,
 * per-process nonce, machine, host: see `process_identity.ts`), so that {@link removeStaleTemps} can tell a dead
 * writer's temp file from a live one's even when the pid was reused.
 *
 * @example
 * ```ts
 * tempPathFor("/data/posts.json"); // "/data/.posts.json.reclaim-tmp-9f1c2ab0.4242+81234+5c0f…+3e9a…@web-1"
 * ```
 */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}${TEMP_MARKER}${randomBytes(4).toString("hex")}.${OWNER}`);
}

/** A temp file being written beside its target: write through `handle`, then {@link TempFile.commit} or dispose. */
export interface TempFile extends AsyncDisposable {
  /** The temp file's path. */
  readonly path: string;
  /** Open for writing (and reading). */
  readonly handle: FileHandle;
  /** fsyncs the temp file (call before a step that must find the data durable, e.g. before pausing writers). */
  sync(): Promise<void>;
  /**
   * fsyncs and closes the temp file, renames it over `target`, then fsyncs the folder. `onRenamed` runs between
   * the rename and the folder's fsync. A crash leaves the old target or the new one, never a mix.
   */
  commit(target: string, options?: { onRenamed?: () => void | Promise<void> }): Promise<void>;
  /**
   * fsyncs and closes the temp file and links it to `target`, which must not exist (`EEXIST` otherwise: try
   * another name), then fsyncs the folder. The temp name itself is removed on dispose.
   */
  publish(target: string): Promise<void>;
}

/**
 * Creates a temp file beside `path` (see {@link tempPathFor}) that is created `0600` and then given `mode` or,
 * by default, the mode of `like` (the file it replaces or derives from), and, when running as root, `like`'s
 * owner, so that a service running as another user can still write the result. Disposing it closes it and
 * removes the temp path (after a commit there is nothing left to remove).
 *
 * @example
 * ```ts
 * await using temp = await createTempFile("/data/events.jsonl", { like: await stat("/data/events.jsonl") });
 * await temp.handle.writeFile(kept);
 * await temp.commit("/data/events.jsonl");
 * ```
 */
export async function createTempFile(path: string, options: { like?: Pick<Stats, "mode" | "uid" | "gid"> | undefined; mode?: number | undefined } = {}): Promise<TempFile> {
  const temp = tempPathFor(path);
  const handle = await open(temp, "wx+", 0o600);
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await handle.close();
  };
  try {
    // Created 0600, then given the exact mode (the umask does not apply to chmod).
    await handle.chmod(options.mode ?? (options.like ? options.like.mode & 0o7777 : 0o644));
    const like = options.like;
    if (like && process.getuid?.() === 0 && (like.uid !== 0 || like.gid !== 0)) await handle.chown(like.uid, like.gid);
  } catch (err) {
    await close();
    await rm(temp, { force: true });
    throw err;
  }
  return {
    path: temp,
    handle,
    sync: () => handle.sync(),
    async commit(target, { onRenamed } = {}) {
      await handle.sync();
      await close();
      await rename(temp, target);
      await onRenamed?.();
      await fsyncDir(dirname(target));
    },
    async publish(target) {
      if (!closed) {
        await handle.sync();
        await close();
      }
      await link(temp, target);
      await fsyncDir(dirname(target));
    },
    async [Symbol.asyncDispose]() {
      await close().catch(() => {});
      await rm(temp, { force: true });
    },
  };
}

/**
 * The writer named by a temp file's name: its owner string (see `process_identity.ts`), or for a name of an
 * older version (`<pid>-<random>`) `null`, which cannot be judged by pid.
 */
function ownerOfTemp(suffix: string): string | null {
  return /^[0-9a-f]{8}\.(.+)$/.exec(suffix)?.[1] ?? null;
}

/**
 * Removes the temp files of `path` (see {@link tempPathFor}) whose writer is gone, and returns how many. One rule
 * for every writer: a writer on this machine and pid namespace is judged exactly (its pid is alive, not a zombie,
 * started at the recorded time, and for this process's pid, with this process's nonce), so a restarted
 * container whose new process has the same pid does not keep its predecessor's temp files, nor remove a live
 * writer's. A writer that cannot be checked from here (another host or pid namespace, or an older name with a
 * bare pid) is judged by the file's age: stale after {@link FOREIGN_TEMP_STALE_MS}.
 *
 * @example
 * ```ts
 * await removeStaleTemps("/data/posts.json"); // 1 after a crash mid-write
 * ```
 */
export async function removeStaleTemps(path: string, now: number = Date.now()): Promise<number> {
  const dir = dirname(path);
  const prefix = `.${basename(path)}${TEMP_MARKER}`;
  let names: string[];
  try {
    names = (await readdir(dir)).filter((name) => name.startsWith(prefix));
  } catch {
    return 0;
  }
  let removed = 0;
  for (const name of names) {
    const info = await lstat(join(dir, name)).catch(() => undefined);
    if (!info?.isFile()) continue;
    const owner = ownerOfTemp(name.slice(prefix.length));
    const verdict = owner === null ? "by-age" : judgeOwner(owner);
    const stale = verdict === "dead" || (verdict === "by-age" && now - info.mtimeMs > FOREIGN_TEMP_STALE_MS);
    if (!stale) continue;
    await rm(join(dir, name), { force: true });
    removed++;
  }
  return removed;
}

/**
 * fsyncs a folder so that a rename or unlink in it survives a power cut.
 *
 * @example
 * ```ts
 * await rename(tmp, file); await fsyncDir(dirname(file));
 * ```
 */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
