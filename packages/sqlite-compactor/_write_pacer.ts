import { setTimeout as sleep } from "node:timers/promises";
import { throwIfAborted } from "@reclaim/core";
import type { Database } from "better-sqlite3";
import { pauseAfter, timeTransaction, type TransactionTiming } from "./_batch_sizer.ts";

/** How often the pacer tries to take a write lock another connection holds. */
const RETRY_MS = 1;

/**
 * Runs a pass's write transactions on the main database one at a time, each as `BEGIN IMMEDIATE ... COMMIT`:
 *
 * - it starts only after the gap the previous one calls for ({@link pauseAfter}: as long as a writer that waited
 *   through it may sleep in SQLite's busy handler), and always right after a sleep, on a fresh scheduler slice;
 * - the write lock is taken by trying without waiting (`busy_timeout = 0`) every millisecond, asleep in between,
 *   for at most `busyTimeoutMs` (then the `SQLITE_BUSY` error fails the pass, as SQLite's own busy handler would).
 *   SQLite's busy handler sleeps ever longer (up to 100 ms) and blocks the event loop meanwhile; next to a service
 *   that writes all the time with a rollback journal (each commit holds the lock through fsyncs and leaves it free
 *   for a millisecond or two) it caught a free moment so rarely that a 4,000-row pass took minutes;
 * - the timing returned (and given to the batch sizer) covers only the time the lock was held: statements and
 *   commit. The wait for the lock is not the batch's cost; counted as such (as before), it shrank every batch to
 *   the minimum and stretched the pause after it.
 *
 * @example
 * ```ts
 * const pacer = new WritePacer(db, { targetMs: 50, busyTimeoutMs: 5000 });
 * const { value, timing } = await pacer.transaction(() => remove.run(window).changes, signal);
 * ```
 */
export class WritePacer {
  readonly #db: Database;
  readonly #targetMs: number;
  readonly #busyTimeoutMs: number;
  #freeUntil = 0;

  constructor(db: Database, options: { targetMs: number; busyTimeoutMs: number }) {
    this.#db = db;
    this.#targetMs = options.targetMs;
    this.#busyTimeoutMs = options.busyTimeoutMs;
  }

  /** Runs `fn` in one write transaction on the main database; returns its value and how long the lock was held. */
  async transaction<T>(fn: () => T, signal: AbortSignal): Promise<{ value: T; timing: TransactionTiming }> {
    await sleep(Math.max(1, this.#freeUntil - performance.now()));
    const deadline = performance.now() + this.#busyTimeoutMs;
    while (!this.#tryBegin(performance.now() >= deadline)) {
      throwIfAborted(signal);
      await sleep(RETRY_MS);
    }
    try {
      const result = timeTransaction(() => {
        const value = fn();
        this.#db.exec("COMMIT");
        return value;
      });
      this.#freeUntil = performance.now() + pauseAfter(result.timing.ms, this.#targetMs);
      return result;
    } finally {
      if (this.#db.inTransaction) this.#db.exec("ROLLBACK");
    }
  }

  /** BEGIN IMMEDIATE without waiting: false when another connection holds the lock, unless `last` (then it throws). */
  #tryBegin(last: boolean): boolean {
    const db = this.#db;
    db.pragma("busy_timeout = 0");
    try {
      db.exec("BEGIN IMMEDIATE");
      return true;
    } catch (err) {
      if (last || !isBusy(err)) throw err;
      return false;
    } finally {
      db.pragma(`busy_timeout = ${Math.round(this.#busyTimeoutMs)}`);
    }
  }
}

function isBusy(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && code.startsWith("SQLITE_BUSY");
}
