/**
 * Adapts a batch size so that each write transaction takes about half of `targetMs` (leaving room for the noise of a
 * shared disk): after each batch the size is scaled by (target / 2) / elapsed, growing at most 1.5x and shrinking at
 * most 4x per step, and kept within [min, max].
 */
export class BatchSizer {
  readonly #targetMs: number;
  readonly #min: number;
  readonly #max: number;
  #size: number;

  constructor(targetMs: number, options: { initial?: number; min?: number; max?: number } = {}) {
    this.#targetMs = targetMs;
    this.#min = options.min ?? 16;
    this.#max = options.max ?? 200_000;
    this.#size = Math.min(this.#max, Math.max(this.#min, options.initial ?? 64));
  }

  /** The size to use for the next batch. */
  get size(): number {
    return this.#size;
  }

  /** Records how long a batch of the current size took. */
  record(elapsedMs: number): void {
    const factor = Math.min(1.5, Math.max(0.25, (this.#targetMs * 0.5) / Math.max(elapsedMs, 0.1)));
    this.#size = Math.min(this.#max, Math.max(this.#min, Math.round(this.#size * factor)));
  }
}

/**
 * How long to leave the write lock free after a write transaction of `elapsedMs`: half as long (at least 1 ms, at
 * most half the target). A writer in another process that waited through the transaction is retrying with
 * SQLite's busy-handler steps (1, 2, 5, 10, 15, 20, 25 ms...), so a gap that long lets it in.
 */
export function pauseAfter(elapsedMs: number, targetMs: number): number {
  return Math.max(1, Math.min(targetMs / 2, Math.ceil(elapsedMs / 2)));
}
