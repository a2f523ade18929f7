import { appendFile, mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { PublishedFile } from "./verify_upload.ts";

/** Where the journal lives unless configured otherwise, relative to the root. */
export const DEFAULT_JOURNAL = ".reclaim/published.jsonl";

/**
 * Appends uploaded files to the publish journal that the `write-through` hook consumes (for a service whose
 * write-through runs in the `reclaim` daemon rather than in-process). One JSON line per file,
 * `{"path":"images/a.png","url":"https://cdn.example/images/a.png"}`, written with a single `O_APPEND` write so
 * concurrent appenders never interleave. `url` may be omitted when the hook has `remote.baseUrl`.
 *
 * @example
 * ```ts
 * await recordPublished("/app/.data", [{ path: "images/a.png", url: "https://cdn.example/images/a.png" }]);
 * ```
 */
export async function recordPublished(root: string, files: ReadonlyArray<PublishedFile | { path: string; url?: string }>, options: { journal?: string } = {}): Promise<void> {
  if (files.length === 0) return;
  const path = join(root, options.journal ?? DEFAULT_JOURNAL);
  await mkdir(dirname(path), { recursive: true });
  const text = files.map((f) => JSON.stringify(f.url === undefined ? { path: f.path } : { path: f.path, url: f.url })).join("\n") + "\n";
  await appendFile(path, text, { flag: "a" });
}
