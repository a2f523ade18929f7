import { duration } from "@reclaim/core";
import { z } from "zod";

/** The hook type and verb object: `cdn-urls`. */
export const CDN_URLS_HOOK = "cdn-urls";

/** A table or column name as written in the config: `name` or `schema.name` (no quoting; any characters but `.` in a part). */
const relationName = z.string().min(1).regex(/^[^.]+(\.[^.]+)?$/, "must be a table name or schema.table");

/**
 * One column to clean: `text`/`varchar` (the whole value is a URL) or `json`/`jsonb` (every string value at any
 * depth). `key` is a unique, not-null column walked in order (keyset batches).
 */
export const cdnUrlsColumn = z.strictObject({
  /** The table, `name` or `schema.name`. */
  table: relationName,
  /** The column holding URLs. */
  column: z.string().min(1),
  /** A unique, not-null column the batches walk in order. @default "id" */
  key: z.string().min(1).default("id"),
});

/** One configured column, after defaults. */
export type CdnUrlsColumn = z.output<typeof cdnUrlsColumn>;

/**
 * Options of the cdn-urls hook and of `reclaim backfill cdn-urls` (the `hooks.cdn-urls` block of the config).
 *
 * @example
 * ```ts
 * cdnUrlsOptions.parse({ hosts: ["cdn.example.ai"], columns: [{ table: "flat_file", column: "url" }] });
 * ```
 */
export const cdnUrlsOptions = z.strictObject({
  /** CDN hosts whose URLs become paths (`cdn.example.ai`, `cdn.example.ai:8443`). Required. */
  hosts: z.array(z.string().min(1).regex(/^[^\s/?#@]+$|^[a-z]+:\/\/[^\s/?#@]+\/?$/i, "must be a host such as cdn.example.ai")).min(1),
  /** The columns to clean. Required. */
  columns: z.array(cdnUrlsColumn).min(1),
  /** Each batch's target duration: the batch size adapts to it. @default "200ms" */
  batchTarget: duration().default(200).refine((ms) => ms >= 1 && ms <= 60_000, "must be between 1ms and 60s"),
  /** Rows in the first batch. @default 1000 */
  initialBatchSize: z.int().min(1).max(1_000_000).default(1_000),
  /** Most rows in one batch (bounds the memory a batch holds). @default 5000 */
  maxBatchSize: z.int().min(1).max(1_000_000).default(5_000),
  /** Pause between batches. @default 0 */
  pause: duration().default(0),
  /** `lock_timeout` of each batch transaction. @default "500ms" */
  lockTimeout: duration().default(500).refine((ms) => ms >= 1, "must be at least 1ms"),
  /** `statement_timeout` of each batch statement; a batch that hits it is retried smaller. @default "5s" */
  statementTimeout: duration().default(5_000).refine((ms) => ms >= 1, "must be at least 1ms"),
  /** Wait before a batch while a replica's replay lag (from `pg_stat_replication`) is above this. @default off */
  maxReplicaLag: duration().optional(),
  /** How often to look at the replica lag again while waiting. @default "1s" */
  replicaLagCheck: duration().default(1_000),
  /** Table holding the backfill's progress and the hook's last pass, `name` or `schema.name`. @default "reclaim_cdn_urls_progress" */
  progressTable: relationName.default("reclaim_cdn_urls_progress"),
});

/** Options after defaults. */
export type CdnUrlsOptions = z.output<typeof cdnUrlsOptions>;
