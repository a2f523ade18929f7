import { basename, posix } from "node:path";
import { TEMP_MARKER } from "@reclaim/core";
import picomatch from "picomatch";
import { z } from "zod";
import { DEFAULT_JOURNAL } from "./publish_journal.ts";

/** A path relative to the root that cannot climb out of it. */
const relativePath = z
  .string()
  .min(1)
  .refine((p) => !p.startsWith("/") && !p.split(/[\\/]/).includes(".."), "must be a path relative to the root without '..'");

/** Default media folders, as `@reclaim/disk`. */
export const DEFAULT_MEDIA_DIRS: readonly string[] = ["images", "videos", "voice", "bid-images"];
/** Default protect globs, as `@reclaim/disk`. */
export const DEFAULT_PROTECT: readonly string[] = ["*.json", "*keypair*", "*.key"];

/** Schema fields shared by the hook's options and {@link afterPublish}: which files may be deleted at all. */
export const deletionScopeFields = {
  /** Media folders, relative to the root: only files inside one (at any depth) may be deleted. @default ["images", "videos", "voice", "bid-images"] */
  mediaDirs: z
    .array(relativePath)
    .min(1)
    .default([...DEFAULT_MEDIA_DIRS]),
  /** Globs never deleted (picomatch, `dot: true`): without a slash they match the file name, with one the root-relative path. @default ["*.json", "*keypair*", "*.key"] */
  protect: z
    .array(z.string().min(1))
    .default([...DEFAULT_PROTECT]),
};

/** Compiled deletion scope: answers why a root-relative file may not be deleted. */
export interface DeletionScope {
  /** `null` when the file (root-relative, `/`-separated) may be deleted, else the reason it is skipped. */
  refusal(rel: string): string | null;
}

/**
 * Compiles the scope: only files inside a media folder, not matching a protect glob, and never the publish
 * journal (the configured one and the default), its `.state` file or a file being written atomically.
 */
export function compileDeletionScope(options: { mediaDirs: readonly string[]; protect: readonly string[]; journal?: string | undefined }): DeletionScope {
  const media = options.mediaDirs.map((dir) => posix.normalize(dir.replaceAll("\\", "/")).replace(/\/+$/, ""));
  const protect = options.protect.map((glob) => ({ glob, byPath: glob.includes("/"), match: picomatch(glob, { dot: true }) }));
  const journals = [...new Set([DEFAULT_JOURNAL, options.journal ?? DEFAULT_JOURNAL].map((j) => posix.normalize(j)))];
  return {
    refusal(rel) {
      const name = basename(rel);
      if (journals.some((j) => rel === j || rel.startsWith(`${j}.`)) || name.includes(TEMP_MARKER)) return "the publish journal, its state or a file being written";
      const hit = protect.find((p) => p.match(p.byPath ? rel : name));
      if (hit) return `protected (matches "${hit.glob}")`;
      if (!media.some((dir) => dir === "." || rel.startsWith(`${dir}/`))) return "not inside a media folder";
      return null;
    },
  };
}
