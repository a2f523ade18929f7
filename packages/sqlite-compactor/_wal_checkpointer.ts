import type { Database } from "better-sqlite3";

/**
 * Frames the log may gather between two of the pass's checkpoints: a quarter of SQLite's default
 * `wal_autocheckpoint` (1,000 pages), so a service's own commit never finds a log long enough to checkpoint it
 * itself (in its write transaction, while its callers wait).
 */
export const CHECKPOINT_FRAMES = 256;
/** At most this many batches between two checkpoints. */
const MAX_EVERY = 64;

/**
 * In WAL mode, copies the pass's pages from the log into the database (`wal_checkpoint(PASSIVE)`: never blocks a
 * writer) every few batches: as many as add up to about {@link CHECKPOINT_FRAMES} frames, learnt from the log
 * size each checkpoint reports. A checkpoint after every batch (as before) cost two fsyncs per batch: traced under
 * CPU contention, 25 s of a 66 s pass; pages a few batches rewrite (the free-page list, the b-tree's inner pages,
 * page 1) are now copied once.
 *
 * @example
 * ```ts
 * const checkpointer = new WalCheckpointer(db);
 * for (const batch of batches) { run(batch); checkpointer.afterBatch(); }
 * ```
 */
export class WalCheckpointer {
  readonly #db: Database;
  readonly #frames: number;
  #every = 1;
  #since = 0;

  /** `frames`: see {@link CHECKPOINT_FRAMES}; 0 checkpoints after every batch. */
  constructor(db: Database, frames: number = CHECKPOINT_FRAMES) {
    this.#db = db;
    this.#frames = frames;
  }

  /** Batches between two checkpoints, as last learnt. */
  get every(): number {
    return this.#every;
  }

  /** Call after each write transaction, outside it: checkpoints when enough batches have gone by. */
  afterBatch(): void {
    if (++this.#since < this.#every) return;
    const [row] = this.#db.pragma("wal_checkpoint(PASSIVE)") as { log: number }[];
    // The log's frames since it last restarted: this pass's batches since the last checkpoint and the service's
    // commits (more, when a reader kept the log from restarting: then checkpoints come sooner, never later).
    const perBatch = Math.max(1, row?.log ?? 0) / this.#since;
    this.#every = Math.max(1, Math.min(MAX_EVERY, Math.floor(this.#frames / perBatch)));
    this.#since = 0;
  }
}
