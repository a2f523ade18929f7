import { duration } from "@reclaim/core";
import { z } from "zod";

/**
 * The accepted values of a rule's `timeFormat`; see {@link TimeFormat}.
 *
 * @example
 * ```ts
 * TIME_FORMATS.includes("unix-ms"); // true
 * ```
 */
export const TIME_FORMATS = ["auto", "unix-s", "unix-ms", "iso8601"] as const;

/**
 * How a table's time column stores time.
 * - `auto` (default): per value — a number of at least 1e11 is milliseconds since 1970, a smaller number is seconds,
 *   text is read by SQLite's date functions (`2026-11-21T10:00:00Z`, `2026-11-21 10:00:00`).
 * - `unix-s`: numbers of seconds since 1970. `unix-ms`: numbers of milliseconds since 1970.
 * - `iso8601`: text that SQLite's `julianday()` understands.
 *
 * A value that does not fit the format (NULL, text in a numeric format, unparseable text) is never removed.
 *
 * @example
 * ```ts
 * const format: TimeFormat = "unix-ms";
 * ```
 */
export type TimeFormat = (typeof TIME_FORMATS)[number];

/**
 * SQL identifiers accepted in the config: a letter or `_`, then letters, digits or `_`; at most 64 characters.
 *
 * @example
 * ```ts
 * IDENTIFIER_PATTERN.test("jobs");            // true
 * IDENTIFIER_PATTERN.test('jobs"; DROP --');  // false
 * ```
 */
export const IDENTIFIER_PATTERN: RegExp = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

function identifier() {
  return z
    .string()
    .regex(IDENTIFIER_PATTERN, "must be a plain SQL identifier (letters, digits and _, not starting with a digit, at most 64 characters)")
    .refine((name) => !name.toLowerCase().startsWith("sqlite_"), "must not name an SQLite internal table (sqlite_*)");
}

/**
 * One table's retention rule. Rows whose `statusColumn` is one of `terminal` and that are older than `maxAge`, or
 * beyond the newest `maxRows` such rows, are removed. Any other row is never touched.
 *
 * @example
 * ```ts
 * const rule = retentionRuleSchema.parse({ table: "jobs", terminal: ["done", "failed"], maxAge: "30d" });
 * ```
 */
export const retentionRuleSchema = z.strictObject({
  /** Table name (a rowid table). */
  table: identifier(),
  /** Column holding the row's time. @default "created_at" */
  timeColumn: identifier().default("created_at"),
  /** Column holding the row's status. @default "status" */
  statusColumn: identifier().default("status"),
  /** Status values that mark a finished row; only those rows are ever removed. */
  terminal: z.array(z.union([z.string(), z.number()])).min(1),
  /** Terminal rows older than this are removed; `null` turns the age rule off. @default 2592000000 (30 d) */
  maxAge: duration().nullable().default(2_592_000_000),
  /** Terminal rows beyond the newest this many are removed; `null` turns the count rule off. @default 100000 */
  maxRows: z.number().int().min(1).nullable().default(100_000),
  /** How `timeColumn` stores time. @default "auto" */
  timeFormat: z.enum(TIME_FORMATS).default("auto"),
});

/**
 * A resolved retention rule (durations in ms).
 *
 * @example
 * ```ts
 * const rule: RetentionRule = retentionRuleSchema.parse({ table: "jobs", terminal: ["done"] });
 * ```
 */
export type RetentionRule = z.output<typeof retentionRuleSchema>;

/**
 * Options of the `sqlite-compactor` hook: the `hooks.sqlite-compactor` block of `reclaim.config.json`.
 *
 * @example
 * ```ts
 * const options = sqliteCompactorOptionsSchema.parse({
 *   path: "/data/app.db",
 *   tables: [{ table: "jobs", terminal: ["done", "failed"], maxAge: "30d", maxRows: 100000 }],
 *   archive: { path: "/data/archive.db" },
 * });
 * ```
 */
export const sqliteCompactorOptionsSchema = z.strictObject({
  /** Path of the SQLite database file. */
  path: z.string().min(1),
  /** Retention rules, one per table. Empty: compaction only. @default [] */
  tables: z.array(retentionRuleSchema).default([]),
  /** Copy rows to this SQLite file before deleting them. @default none (rows are just deleted) */
  archive: z.strictObject({ path: z.string().min(1) }).optional(),
  /** Target duration of each write transaction; batch sizes adapt to it. @default 50 (ms) */
  batchTarget: duration().default(50).refine((ms) => ms >= 1 && ms <= 10_000, "must be between 1ms and 10s"),
  /** SQLite `busy_timeout` of the compactor's connection. @default 5000 (ms) */
  busyTimeout: duration().default(5_000),
  vacuum: z
    .strictObject({
      /** Convert a database with `auto_vacuum = NONE` to INCREMENTAL with a one-time VACUUM. @default true */
      convert: z.boolean().default(true),
      /** Run `PRAGMA incremental_vacuum` when free pages exceed this fraction of the file. @default 0.1 */
      freeRatio: z.number().min(0).max(1).default(0.1),
      /** Refresh planner statistics (ANALYZE) for a table after a pass deleted at least this many of its rows. @default 10000 */
      analyzeAfterRows: z.number().int().min(1).default(10_000),
    })
    .prefault({}),
});

/**
 * Input of the options schema (what a config file holds).
 *
 * @example
 * ```ts
 * const config: SqliteCompactorConfig = { path: "/data/app.db", batchTarget: "50ms" };
 * ```
 */
export type SqliteCompactorConfig = z.input<typeof sqliteCompactorOptionsSchema>;
/**
 * Resolved options (durations in ms, defaults filled in).
 *
 * @example
 * ```ts
 * const options: SqliteCompactorOptions = sqliteCompactorOptionsSchema.parse({ path: "/data/app.db" });
 * ```
 */
export type SqliteCompactorOptions = z.output<typeof sqliteCompactorOptionsSchema>;
