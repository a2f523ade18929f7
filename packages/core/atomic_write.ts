import { stat } from "node:fs/promises";
import { createTempFile, removeStaleTemps } from "./temp_file.ts";

/**
 * Writes a file atomically and durably with core's temp-file discipline (`createTempFile`): temp file in the same
 * folder, fsync, rename over `path`, fsync the folder. A crash leaves the old file or the new one, never a mix.
 * The new file keeps the replaced file's mode and, when running as root, its owner (a service running as another
 * user can still write its store). Temp files of `path` left by a writer that died are removed first
 * (`removeStaleTemps`: judged by the writer's identity, safe against PID reuse).
 *
 * @example
 * ```ts
 * await writeFileAtomic("/data/posts.json", JSON.stringify(posts));
 * ```
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, options: { mode?: number } = {}): Promise<void> {
  await removeStaleTemps(path);
  const existing = await stat(path).catch(() => undefined);
  await using temp = await createTempFile(path, { like: existing, mode: options.mode ?? (existing ? undefined : 0o644) });
  await temp.handle.writeFile(data);
  await temp.commit(path);
}
