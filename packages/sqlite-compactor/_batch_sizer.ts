/** How many recent batches the cost estimate looks back over. */
const COST_WINDOW = 4;

/**
 * Adapts a batch size so that each write transaction takes about half of `targetMs` (leaving room for the noise of a
 * shared disk). The cost of one unit (row, page) is estimated as the highest of the last few batches' — one fast
 * batch among slow ones does not make the next batch big, and a cost that jumps between batches (cold pages, a
 * busy disk) is met by batches already sized for it. The size grows at most 1.5x per batch and shrinks at once to
 * what a slow batch's cost allows, within [min, max].
 */
export class BatchSizer {
  readonly #targetMs: number;
  readonly #min: number;
  readonly #max: number;
  readonly #costs: number[] = [];
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
    this.#costs.push(Math.max(elapsedMs, 0.1) / this.#size);
    if (this.#costs.length > COST_WINDOW) this.#costs.shift();
    const fits = (this.#targetMs * 0.5) / Math.max(...this.#costs);
    this.#size = Math.min(this.#max, Math.max(this.#min, Math.round(Math.min(fits, this.#size * 1.5))));
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
