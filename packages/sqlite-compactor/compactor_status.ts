import type { PassOutcome, Runner } from "@reclaim/core";
import type { CompactorCounts, SqliteCompactorDetails } from "./compactor.ts";
import type { VacuumOutcome } from "./report.ts";

/** The answer of the JSON-RPC method `system.compactor_status` (the name the seed issue asks for). */
export interface CompactorStatus {
  hook: string;
  state: string;
  /** ISO time the last pass started, or null before the first pass. */
  lastRun: string | null;
  lastOutcome: PassOutcome | null;
  lastError: string | null;
  /** ISO time of the next scheduled pass, or null when none is scheduled. */
  nextRun: string | null;
  path: string | null;
  lastPass: (CompactorCounts & { vacuum: VacuumOutcome }) | null;
  totals: CompactorCounts & { passes: number };
  /** `page_count * page_size` as last seen. */
  databaseBytes: number | null;
  freePages: number | null;
  pageSize: number | null;
  autoVacuum: string | null;
  journalMode: string | null;
}

/**
 * Builds the `system.compactor_status` answer from a compactor's runner: last and next run from the runner, rows
 * and bytes from the hook's status.
 *
 * @example
 * ```ts
 * const runner = createRunner(createSqliteCompactorHook({ path: "/data/app.db" }));
 * compactorStatus(runner); // { lastRun: null, nextRun: null, totals: { rowsDeleted: 0, ... }, databaseBytes: 4096, ... }
 * ```
 */
export function compactorStatus(runner: Runner): CompactorStatus {
  const status = runner.status();
  const details = (status.details ?? {}) as Partial<SqliteCompactorDetails>;
  const last = details.lastPass ?? null;
  const db = details.database ?? null;
  return {
    hook: status.hook,
    state: status.state,
    lastRun: status.lastRun?.startedAt ?? null,
    lastOutcome: status.lastRun?.outcome ?? null,
    lastError: status.lastRun?.error ?? null,
    nextRun: status.nextRunAt,
    path: details.path ?? null,
    lastPass: last && { rowsDeleted: last.rowsDeleted, rowsArchived: last.rowsArchived, bytesReclaimed: last.bytesReclaimed, vacuum: last.vacuum },
    totals: details.totals ?? { rowsDeleted: 0, rowsArchived: 0, bytesReclaimed: 0, passes: 0 },
    databaseBytes: db?.databaseBytes ?? null,
    freePages: db?.freePages ?? null,
    pageSize: db?.pageSize ?? null,
    autoVacuum: db?.autoVacuum ?? null,
    journalMode: db?.journalMode ?? null,
  };
}
