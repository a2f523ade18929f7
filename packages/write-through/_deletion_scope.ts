import { normalizeRelative, openDeletionScope, type DeletionScope } from "@reclaim/core";
import { DEFAULT_JOURNAL } from "./publish_journal.ts";

/** Why the publish journal and its state are never deleted. */
export const JOURNAL_REASON = "the publish journal or its state";

/**
 * Write-through's deletion scope: core's `openDeletionScope` over the media folders and protect globs, with the
 * publish journal (the configured one and the default), its `.state` and any `<journal>.*` file reserved. Throws
 * ENOENT when the root does not exist.
 */
export async function openMediaScope(root: string, options: { mediaDirs: readonly string[]; protect: readonly string[]; journal?: string | undefined }): Promise<DeletionScope> {
  const journals = [...new Set([DEFAULT_JOURNAL, options.journal ?? DEFAULT_JOURNAL].map(normalizeRelative))];
  const scope = await openDeletionScope(root, { folders: options.mediaDirs, protect: options.protect, reserved: journals.map((path) => ({ path, reason: JOURNAL_REASON })) });
  if (!scope) throw Object.assign(new Error(`write-through root ${root} does not exist`), { code: "ENOENT" });
  return scope;
}
