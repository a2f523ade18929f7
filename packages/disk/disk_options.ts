import { duration, mediaScopeFields, relativePath } from "@reclaim/core";
import { z } from "zod";

const ratio = z.number().gt(0).lte(1);

/**
 * Options of the `disk` hook: its `hooks.disk` block in `reclaim.config.json`. Durations accept `"90s"`,
 * `"7d"` or milliseconds. See the README for the full table.
 *
 * @example
 * ```ts
 * const options = parseOptions("disk", diskOptionsSchema, { root: "/app/.data", remote: { enabled: true } });
 * options.maxAge; // 604800000
 * ```
 */
export const diskOptionsSchema = z.strictObject({
  /** Folder the hook looks after (the service's data volume). Required. */
  root: z.string().min(1),
  /** Value of the `mount` label on the disk gauges: a short stable name, never a path. @default "data" */
  mount: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, "must be a short name of letters, digits, '_', '.' or '-'")
    .default("data"),
  /**
   * Media folders, relative to the root, that the sweeps may delete from: strict sub-folders of the root (never
   * `.` or `./`), never one inside another or twice (core's `subFolders`). @default ["images", "videos", "voice", "bid-images"]
   */
  mediaDirs: mediaScopeFields.mediaDirs,
  /** Age sweep: files older than this are deleted. @default "7d" */
  maxAge: duration().default(604_800_000),
  /** Which timestamp decides a file's age; `birthtime` falls back to mtime where the filesystem lacks it. @default "mtime" */
  timestamp: z.enum(["mtime", "ctime", "atime", "birthtime"]).default("mtime"),
  /** Files modified (mtime) more recently than this are still being written: never deleted. @default "1m" */
  recentlyModified: duration().default(60_000),
  /** Globs never deleted (core's `compileProtect`): without a slash they match the file name, with one the root-relative path. @default ["*.json", "*keypair*", "*.key"] */
  protect: mediaScopeFields.protect,
  remote: z
    .strictObject({
      /** A remote (R2/S3/CDN) holds a copy of every published media file. @default false */
      enabled: z.boolean().default(false),
      /** Run the age sweep only when `remote.enabled` (as the seed does); `false` sweeps by age regardless. @default true */
      requireForAgeSweep: z.boolean().default(true),
    })
    .prefault({}),
  pressure: z
    .strictObject({
      /** Run the pressure sweep at all. @default true */
      enabled: z.boolean().default(true),
      /** Used fraction (statfs, as df's Use%) above which the pressure sweep starts. @default 0.7 */
      high: ratio.default(0.7),
      /** Used fraction the pressure sweep deletes down to. Must be below `high`. @default 0.6 */
      low: ratio.default(0.6),
      /** Files younger than this are never taken by the pressure sweep. @default "1d" */
      minAge: duration().default(86_400_000),
    })
    .prefault({})
    .superRefine((p, ctx) => {
      if (p.low >= p.high) ctx.addIssue({ code: "custom", path: ["low"], message: `must be below pressure.high (${p.high})`, input: p.low });
    }),
  references: z
    .strictObject({
      /** JSON stores (relative to the root) whose fields are cleared when the file they point at is deleted without a remote copy. @default ["posts.json"] */
      stores: z.array(relativePath()).default(["posts.json"]),
      /** Fields holding a media path or URL. @default ["imageUrl", "videoUrl"] */
      fields: z.array(z.string().min(1)).default(["imageUrl", "videoUrl"]),
      /** URL prefixes that stand for the root (e.g. "http://localhost:3000/", "/static/"). @default [] */
      baseUrls: z.array(z.string().min(1)).default([]),
    })
    .prefault({}),
  audit: z
    .strictObject({
      /** Log one `disk-audit` line when the daemon starts. @default true */
      atStart: z.boolean().default(true),
      /** Largest files listed by the audit. @default 10 */
      top: z.number().int().min(1).max(1000).default(10),
    })
    .prefault({}),
  /** Passes whose used-bytes samples feed `reclaim_disk_full_forecast_seconds`. @default 24 */
  forecastSamples: z.number().int().min(3).max(10_000).default(24),
  /** Worker threads for walking besides the main thread (which works too); 0 walks on the main thread alone. @default min(3, available cores - 1) */
  threads: z.number().int().min(0).max(64).optional(),
});

/** Validated options of the `disk` hook (durations in milliseconds). */
export type DiskOptions = z.output<typeof diskOptionsSchema>;
