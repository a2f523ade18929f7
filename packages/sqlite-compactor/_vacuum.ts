import { statfsSync } from "node:fs";
import { dirname } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { throwIfAborted } from "@reclaim/core";
import type { Database } from "better-sqlite3";
import { BatchSizer, pauseAfter } from "./_batch_sizer.ts";
import type { DatabaseStats } from "./report.ts";


/** Reads page size and counts, auto_vacuum and journal mode of the main database. */
export function databaseStats(db: Database): DatabaseStats {
  const pageSize = db.pragma("page_size", { simple: true }) as number;
  const pageCount = db.pragma("page_count", { simple: true }) as number;
  const freePages = db.pragma("freelist_count", { simple: true }) as number;
  const mode = db.pragma("auto_vacuum", { simple: true }) as number;
  const journalMode = String(db.pragma("journal_mode", { simple: true }));
  return {
    pageSize,
    pageCount,
    freePages,
    databaseBytes: pageSize * pageCount,
    autoVacuum: mode === 2 ? "incremental" : mode === 1 ? "full" : "none",
    journalMode,
  };
}

/** Whether the database has no tables, indexes or views yet. */
export function isEmptyDatabase(db: Database): boolean {
  return (db.prepare("SELECT count(*) AS n FROM main.sqlite_schema").get() as { n: number }).n === 0;
}

/** Free bytes for an unprivileged user on the filesystem holding `path`. */
export function freeDiskBytes(path: string): number {
  const stats = statfsSync(dirname(path));
  return Number(stats.bavail) * Number(stats.bsize);
}

/** Sets `auto_vacuum = INCREMENTAL` and rewrites the file with VACUUM so that it takes effect. */
export function convertToIncremental(db: Database): void {
  db.pragma("auto_vacuum = INCREMENTAL");
  db.exec("VACUUM");
}

/**
 * Gives free pages back to the filesystem with `PRAGMA incremental_vacuum(N)` in steps sized to `targetMs`
 * (each step is one short write transaction), pausing between steps. Returns the pages released.
 */
export async function incrementalVacuum(db: Database, targetMs: number, signal: AbortSignal, hooks: { onTransaction?(ms: number): void; afterBatch?(): void } = {}): Promise<number> {
  const sizer = new BatchSizer(targetMs, { initial: 512, min: 16, max: 1_000_000 });
  const start = db.pragma("freelist_count", { simple: true }) as number;
  let left = start;
  while (left > 0) {
    throwIfAborted(signal);
    const started = performance.now();
    db.pragma(`incremental_vacuum(${Math.min(left, sizer.size)})`);
    const took = performance.now() - started;
    hooks.onTransaction?.(took);
    sizer.record(took);
    hooks.afterBatch?.();
    const now = db.pragma("freelist_count", { simple: true }) as number;
    if (now >= left) break; // nothing released (another connection holds pages?): stop rather than spin
    left = now;
    await sleep(pauseAfter(took, targetMs));
  }
  return start - left;
}

/**
 * In WAL mode: copies the log into the database (PASSIVE, not blocking writers), then truncates it (TRUNCATE). The
 * TRUNCATE step blocks new writers while it waits for readers, so it waits at most `waitMs` and otherwise reports
 * `busy` (the next pass tries again).
 */
export function checkpoint(db: Database, waitMs: number): { busy: boolean } {
  db.pragma("wal_checkpoint(PASSIVE)");
  const previous = db.pragma("busy_timeout", { simple: true }) as number;
  db.pragma(`busy_timeout = ${Math.round(waitMs)}`);
  try {
    const [row] = db.pragma("wal_checkpoint(TRUNCATE)") as { busy: number }[];
    return { busy: (row?.busy ?? 0) !== 0 };
  } finally {
    db.pragma(`busy_timeout = ${previous}`);
  }
}
