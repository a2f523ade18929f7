import { duration, mediaScopeFields, relativePath, size } from "@reclaim/core";
import { z } from "zod";

const parsesAsUrl = (value: string): boolean => {
  try {
    const url = new URL(value);
    return url.username === "" && url.password === "";
  } catch {
    return false;
  }
};
const httpUrl = z
  .string()
  .regex(/^https?:\/\/[^/]+/i, "must be an http(s) URL")
  .refine(parsesAsUrl, "must be an http(s) URL without credentials");

/**
 * Options of the `write-through` hook: its `hooks.write-through` block in `reclaim.config.json`.
 *
 * @example
 * ```ts
 * const options = parseOptions("write-through", writeThroughOptionsSchema, { root: "/app/.data", remote: { enabled: true } });
 * options.journal; // ".reclaim/published.jsonl"
 * ```
 */
export const writeThroughOptionsSchema = z.strictObject({
  /** Folder holding the local copies; nothing outside it is ever deleted. Required. */
  root: z.string().min(1),
  /** Publish journal, relative to the root: one JSON line `{"path","url"}` per uploaded file. @default ".reclaim/published.jsonl" */
  journal: relativePath().default(".reclaim/published.jsonl"),
  ...mediaScopeFields,
  remote: z
    .strictObject({
      /** Whether a remote holds the copies; when false the hook deletes nothing. @default false */
      enabled: z.boolean().default(false),
      /** Remote base URL: journal lines without `url` use `baseUrl + path` (each segment percent-encoded); lines whose `url` is not on the same origin (protocol, host, port) under the base's path (normalised to end in `/`) are refused, and so are redirects out of it. @default undefined (any http(s) URL; redirects only within the URL's origin) */
      baseUrl: httpUrl.optional(),
    })
    .prefault({}),
  /**
   * How a remote copy is verified before its local copy is deleted: `"checksum"` compares a content checksum the
   * remote states (S3/R2 single-part `ETag`, `x-amz-checksum-sha256`, `Content-MD5`, `Digest`) with the local
   * file's, and the size where it states none; `"size"` compares `Content-Length` only. @default "checksum"
   */
  verify: z.enum(["checksum", "size"]).default("checksum"),
  /** Timeout of one HEAD request. @default "10s" */
  timeout: duration().default(10_000),
  /** HEAD requests in flight at once. @default 4 */
  concurrency: z.number().int().min(1).max(64).default(4),
  /** How long an entry whose remote copy cannot be verified yet is retried before it is dropped (the disk age sweep is the backstop). @default "1d" */
  retryFor: duration().default(86_400_000),
  /** Journal entries read per pass. @default 10000 */
  maxEntriesPerPass: z.number().int().min(1).max(1_000_000).default(10_000),
  /** The journal is truncated once fully consumed and at least this big. @default "1MiB" */
  trimBytes: size().default(1_048_576),
});

/** Validated options of the `write-through` hook. */
export type WriteThroughOptions = z.output<typeof writeThroughOptionsSchema>;
