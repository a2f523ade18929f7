import { duration, size } from "@reclaim/core";
import { z } from "zod";

/**
 * 50 MiB, the seed's rotation threshold: the default `maxBytes`.
 *
 * @example
 * ```ts
 * await trimToLastLines(path, { maxBytes: 2 * DEFAULT_MAX_BYTES });
 * ```
 */
export const DEFAULT_MAX_BYTES: number = 50 * 1024 * 1024;
/**
 * 10,000 lines, the seed's retention: the default `keepLines`.
 *
 * @example
 * ```ts
 * await trimToLastLines(path, { keepLines: DEFAULT_KEEP_LINES / 2 });
 * ```
 */
export const DEFAULT_KEEP_LINES = 10_000;

/**
 * zod schema of the event-log hook's options: the `hooks.event-log` block of `reclaim.config.json`. Sizes accept
 * `"50MiB"` or bytes, durations `"10s"` or milliseconds; defaults are filled in.
 *
 * @example
 * ```ts
 * const options = parseOptions("event-log", eventLogOptions, { path: "/data/events.jsonl", maxBytes: "20MiB" });
 * options.keepLines; // 10000
 * ```
 */
export const eventLogOptions = z.strictObject({
  path: z.string().min(1),
  maxBytes: size().refine((bytes) => bytes >= 1, "must be at least 1 byte").default(DEFAULT_MAX_BYTES),
  keepLines: z.number().int().min(0).default(DEFAULT_KEEP_LINES),
  archive: z
    .strictObject({
      enabled: z.boolean().default(false),
      keep: z.number().int().min(1).default(5),
    })
    .prefault({}),
  drainTimeout: duration().refine((ms) => ms >= 1, "must be at least 1ms").default(10_000),
});

/** Options of the event-log hook as written in a config file or passed to `createEventLogHook()`. */
export interface EventLogOptions {
  /** The append-only log to keep bounded, e.g. `/app/.data/events.jsonl`. */
  path: string;
  /** Trim when the file is larger than this: bytes or `"50MiB"`. @default "50MiB" */
  maxBytes?: number | string;
  /** Complete lines kept by a trim (never more than `maxBytes` bytes). @default 10000 */
  keepLines?: number;
  /** Archive of the trimmed-away head. @default { enabled: false, keep: 5 } */
  archive?: {
    /** Gzip the head to `events.jsonl.<UTC time>.gz` beside the log before trimming. @default false */
    enabled?: boolean;
    /** Newest archives kept; older ones are removed. @default 5 */
    keep?: number;
  };
  /** How long a trim waits for appenders to step aside before it gives up (`RECLAIM_ERR_EVENT_LOG_BUSY`). @default "10s" */
  drainTimeout?: number | string;
}

/** The options after validation: sizes in bytes, durations in ms, defaults filled in. */
export type ResolvedEventLogOptions = z.output<typeof eventLogOptions>;
