import { randomBytes } from "node:crypto";
import { open, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/** Marker in the names of reclaim's temporary files; sweeps skip them and the owning hook cleans them up. */
export const TEMP_MARKER = ".reclaim-tmp-";

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
 * folder. A crash leaves the old file or the new one, never a mix; a leftover temp file carries {@link TEMP_MARKER}.
 *
 * @example
 * ```ts
 * await writeFileAtomic("/data/posts.json", JSON.stringify(posts));
 * ```
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, options: { mode?: number } = {}): Promise<void> {
  const temp = tempPathFor(path);
  const handle = await open(temp, "wx", options.mode ?? 0o644);
  try {
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
