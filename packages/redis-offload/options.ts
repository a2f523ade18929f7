import { duration } from "@reclaim/core";
import { z } from "zod";

/**
 * SQL identifiers accepted for `table` and `schema`: a letter or `_`, then letters, digits or `_`; at most 48
 * characters (partition names append a suffix and must stay within Postgres' 63).
 *
 * @example
 * ```ts
 * ARCHIVE_IDENTIFIER.test("reclaim_archive"); // true
 * ARCHIVE_IDENTIFIER.test("a; DROP");         // false
 * ```
 */
export const ARCHIVE_IDENTIFIER: RegExp = /^[A-Za-z_][A-Za-z0-9_]{0,47}$/;

/** How wide each partition of the archive table is (in the record's time, UTC). */
export const PARTITION_SPANS = ["day", "week", "month"] as const;

/**
 * One family of Redis records to offload: the keys matching `match` (a `SCAN MATCH` glob) whose `timeField` is
 * older than `hotFor` are copied to the archive under `kind`, then deleted from Redis where unchanged. Archived rows
 * of that `kind` leave the archive once older than `archiveFor`.
 *
 * @example
 * ```ts
 * offloadSourceSchema.parse({ match: "worker:completion:*", kind: "completed", timeField: "completed_at", hotFor: "7d", archiveFor: "90d" });
 * ```
 */
export const offloadSourceSchema = z.strictObject({
  /** `SCAN MATCH` pattern of the record keys, e.g. `worker:completion:*`. */
  match: z.string().min(1),
  /** The records' kind: the archive's `kind` column and the `kind` label of the metrics. */
  kind: z.string().regex(/^[a-z][a-z0-9_]{0,31}$/, "must be a lower-case word (letters, digits, _; at most 32 characters)"),
  /** Field of the hash, or property of the JSON object (dots for nested ones), that holds the record's time: epoch seconds, epoch milliseconds or ISO 8601. */
  timeField: z.string().min(1),
  /** Records stay in Redis this long after their time. */
  hotFor: duration(),
  /** Archived records stay in Postgres this long after their time. */
  archiveFor: duration(),
  /** A set or sorted set holding the records' ids: the member leaves it in the same atomic step as the record. @default none */
  index: z.string().min(1).optional(),
  /** Take only records whose member is in `index` (e.g. a BullMQ queue's `completed` set). @default false */
  onlyIndexed: z.boolean().default(false),
});

/**
 * A resolved source (durations in ms).
 *
 * @example
 * ```ts
 * const source: OffloadSource = offloadSourceSchema.parse({ match: "a:*", kind: "a", timeField: "t", hotFor: "1d", archiveFor: "30d" });
 * ```
 */
export type OffloadSource = z.output<typeof offloadSourceSchema>;

const identifier = () => z.string().regex(ARCHIVE_IDENTIFIER, "must be a plain SQL identifier (letters, digits and _, not starting with a digit, at most 48 characters)");

/**
 * Options of the `redis-offload` hook: the `hooks.redis-offload` block of `reclaim.config.json`.
 *
 * @example
 * ```ts
 * const options = redisOffloadOptionsSchema.parse({
 *   sources: [
 *     { match: "worker:completion:*", kind: "completed", timeField: "completed_at", hotFor: "7d", archiveFor: "90d" },
 *     { match: "worker:failure:*", kind: "failed", timeField: "failed_at", hotFor: "14d", archiveFor: "180d" },
 *   ],
 * });
 * ```
 */
export const redisOffloadOptionsSchema = z
  .strictObject({
    /** What to offload, one entry per key pattern. */
    sources: z.array(offloadSourceSchema).min(1),
    /** Archive table (partitioned by range on the record's time). @default "reclaim_archive" */
    table: identifier().default("reclaim_archive"),
    /** Schema of the archive table (created if missing). @default "public" */
    schema: identifier().default("public"),
    /** Records read, written and deleted per batch (each Redis call covers at most 50 of them). @default 2000 */
    batchSize: z.number().int().min(1).max(10_000).default(2_000),
    /** Batches in flight at once: one written (writes take turns), the others read or deleted. @default 3 */
    concurrency: z.number().int().min(1).max(32).default(3),
    /** Width of each partition, in the record's time (UTC). @default "week" */
    partition: z.enum(PARTITION_SPANS).default("week"),
    /** Partitions created ahead of the current one. @default 2 */
    partitionsAhead: z.number().int().min(0).max(60).default(2),
    /** `lock_timeout` of every DDL step (table, partitions, partition drops): a conflict fails that step only. @default "2s" */
    lockTimeout: duration().prefault("2s").refine((ms) => ms >= 1 && ms <= 600_000, "must be between 1ms and 10m"),
    /** Rows per DELETE of archive retention. @default 5000 */
    retentionBatch: z.number().int().min(1).max(100_000).default(5_000),
  })
  .superRefine((options, ctx) => {
    const kinds = new Map<string, number>();
    options.sources.forEach((source, i) => {
      if (source.onlyIndexed && source.index === undefined) {
        ctx.addIssue({ code: "custom", path: ["sources", i, "onlyIndexed"], message: "needs an index", input: source.onlyIndexed });
      }
      const previous = kinds.get(source.kind);
      if (previous !== undefined && options.sources[previous]!.archiveFor !== source.archiveFor) {
        ctx.addIssue({ code: "custom", path: ["sources", i, "archiveFor"], message: `must equal sources[${previous}].archiveFor: both are kind '${source.kind}'`, input: source.archiveFor });
      }
      if (previous === undefined) kinds.set(source.kind, i);
    });
  });

/**
 * Input of the options schema (what a config file holds).
 *
 * @example
 * ```ts
 * const config: RedisOffloadConfig = { sources: [{ match: "a:*", kind: "a", timeField: "t", hotFor: "1d", archiveFor: "30d" }] };
 * ```
 */
export type RedisOffloadConfig = z.input<typeof redisOffloadOptionsSchema>;

/**
 * Resolved options (durations in ms, defaults filled in).
 *
 * @example
 * ```ts
 * const options: RedisOffloadOptions = redisOffloadOptionsSchema.parse(config);
 * ```
 */
export type RedisOffloadOptions = z.output<typeof redisOffloadOptionsSchema>;
