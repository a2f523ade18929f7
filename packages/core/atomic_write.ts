import { randomBytes } from "node:crypto";
import { lstat, open, readdir, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/** Marker in the names of reclaim's temporary files; sweeps skip them and the owning hook cleans them up. */
export const TEMP_MARKER = ".reclaim-tmp-";

/** A temp file older than this is left over whoever its pid names (pids are reused, e.g. PID 1 in containers). */
const STALE_TEMP_MS = 3_600_000;

/**
 * A temporary path beside `path` (same folder, so the final rename is atomic):
 * `dir/.name.reclaim-tmp-<pid>-<random>`.
 *
 * @example
 * ```ts
 * tempPathFor("/data/posts.json"); // "/data/.posts.json.reclaim-tmp-4242-9f1c2ab0"
 * ```
 */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}${TEMP_MARKER}${process.pid}-${randomBytes(4).toString("hex")}`);
}

/**
 * Writes a file atomically and durably: temp file in the same folder, fsync, rename over `path`, fsync the
 * folder. A crash leaves the old file or the new one, never a mix. The new file keeps the replaced file's mode
 * and, when running as root, its owner (a service running as another user can still write its store). Temp
 * files of `path` left by a writer that died (its pid is gone, or the file is over an hour old) are removed first.
 *
 * @example
 * ```ts
 * await writeFileAtomic("/data/posts.json", JSON.stringify(posts));
 * ```
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, options: { mode?: number } = {}): Promise<void> {
  await removeStaleTemps(path);
  const existing = await stat(path).catch(() => undefined);
  const mode = options.mode ?? (existing ? existing.mode & 0o7777 : 0o644);
  const temp = tempPathFor(path);
  const handle = await open(temp, "wx", mode);
  try {
    await handle.chmod(mode);
    if (existing && process.getuid?.() === 0 && (existing.uid !== 0 || existing.gid !== 0)) await handle.chown(existing.uid, existing.gid);
    await handle.writeFile(data);
    await handle.sync();
  } catch (err) {
    await handle.close();
    await rm(temp, { force: true });
    throw err;
  }
  await handle.close();
  try {
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
  await fsyncDir(dirname(path));
}

/**
 * Removes the temp files of `path` (see {@link tempPathFor}) whose writer is gone: its pid no longer exists, or
 * the file is over an hour old. Returns how many were removed. Temps of a live writer are left alone.
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
    const pid = Number(/^(\d+)-[0-9a-f]+$/.exec(name.slice(prefix.length))?.[1]);
    const info = await lstat(join(dir, name)).catch(() => undefined);
    if (!info?.isFile()) continue;
    const stale = !Number.isInteger(pid) || !isAlive(pid) || now - info.mtimeMs > STALE_TEMP_MS;
    if (pid === process.pid && now - info.mtimeMs <= STALE_TEMP_MS) continue;
    if (stale) {
      await rm(join(dir, name), { force: true });
      removed++;
    }
  }
  return removed;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
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
