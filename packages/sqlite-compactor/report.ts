/**
 * What the vacuum step of a pass did: `converted` (one-time VACUUM to INCREMENTAL), `incremental`
 * (`PRAGMA incremental_vacuum`), `none` (nothing to give back), `skipped_low_disk` (conversion needed but the free
 * disk is under twice the database size), `conversion_off` (auto_vacuum is NONE and `vacuum.convert` is false),
 * `dry_run`.
 *
 * @example
 * ```ts
 * if (report.vacuum === "skipped_low_disk") alert("free some disk so the compactor can convert the database");
 * ```
 */
export type VacuumOutcome = "converted" | "incremental" | "none" | "skipped_low_disk" | "conversion_off" | "dry_run";

/**
 * What one table's retention did (or, in a dry run, would do).
 *
 * @example
 * ```ts
 * const jobs: TableResult = { table: "jobs", deleted: 1200, archived: 1200, batches: 7 };
 * ```
 */
export interface TableResult {
  table: string;
  deleted: number;
  archived: number;
  /** Write batches used. */
  batches: number;
}

/**
 * Page-level figures of a database, as read by PRAGMAs.
 *
 * @example
 * ```ts
 * const { databaseBytes, freePages } = hook.status().database ?? {};
 * ```
 */
export interface DatabaseStats {
  pageSize: number;
  pageCount: number;
  freePages: number;
  /** `page_count * page_size`. */
  databaseBytes: number;
  autoVacuum: "none" | "full" | "incremental";
  journalMode: string;
}
