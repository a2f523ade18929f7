import { statfsSync } from "node:fs";
import { dirname } from "node:path";
import { throwIfAborted } from "@reclaim/core";
import type { Database } from "better-sqlite3";
import { BatchSizer } from "./_batch_sizer.ts";
import type { WritePacer } from "./_write_pacer.ts";
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

/** Callbacks of {@link IncrementalVacuum.release}. */
export interface VacuumHooks {
  /** Called with each write transaction's duration in ms. */
  onTransaction?(ms: number): void;
  /** Called after each step, outside any transaction (the pass checkpoints the WAL there). */
  afterBatch?(): void;
}

/**
 * Gives free pages back to the filesystem with `PRAGMA incremental_vacuum(N)` in steps sized to `targetMs` (each
 * step is one short write transaction of the pass's {@link WritePacer}, which spaces it among the deletes). One
 * instance serves a whole pass, so that the step size learnt on one call carries over to the next.
 *
 * Each page a step releases costs SQLite a walk of the free-page list (to take the file's last page out of it, or to
 * find a free page low enough to move a live last page into), so a step's cost grows with the length of that list:
 * with ~375,000 free pages (1.5 GB) a page cost ~0.15 ms and steps of the same size varied several-fold. The pass
 * therefore releases pages while it deletes, keeping the list short (see runPass).
 */
export class IncrementalVacuum {
  readonly #pacer: WritePacer;
  readonly #sizer: BatchSizer;
  /** Pages released so far. */
  released = 0;

  constructor(targetMs: number, pacer: WritePacer) {
    this.#pacer = pacer;
    this.#sizer = new BatchSizer(targetMs, { initial: 64, min: 16, max: 1_000_000 });
  }

  /**
   * Releases every free page of the main database; returns how many this call released. `freePages`: the free-page
   * count if just read (inside the last write transaction), saving a read.
   */
  async release(db: Database, signal: AbortSignal, hooks: VacuumHooks = {}, freePages?: number): Promise<number> {
    let left = freePages ?? (db.pragma("freelist_count", { simple: true }) as number);
    let released = 0;
    while (left > 0) {
      const step = Math.min(left, this.#sizer.size);
      // The count after the step is read inside its transaction: no second lock to wait for.
      const { value: now, timing } = await this.#pacer.transaction(() => {
        db.pragma(`incremental_vacuum(${step})`);
        return db.pragma("freelist_count", { simple: true }) as number;
      }, signal);
      hooks.onTransaction?.(timing.ms);
      this.#sizer.record(timing.ms, timing);
      hooks.afterBatch?.();
      if (now >= left) break; // nothing released (another connection holds pages?): stop rather than spin
      released += left - now;
      left = now;
    }
    this.released += released;
    return released;
  }
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
