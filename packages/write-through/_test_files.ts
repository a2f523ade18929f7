import { lstat, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";

/** Writes a local file of `bytes` bytes at `root/rel` (folders created) and returns its path. */
export async function local(root: string, rel: string, bytes: number): Promise<string> {
  const path = join(root, rel);
  await mkdir(join(path, ".."), { recursive: true });
  await writeFile(path, Buffer.alloc(bytes, 1));
  return path;
}

/** Whether something (a file, a link) is at `path`. */
export const exists = (path: string): Promise<boolean> =>
  lstat(path).then(
    () => true,
    () => false,
  );
