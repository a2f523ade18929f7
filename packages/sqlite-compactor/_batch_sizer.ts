/**
 * Adapts a batch size so that each write transaction takes about `targetMs`: after each batch the size is scaled by
 * target / elapsed, at most doubling and at least halving per step, and kept within [min, max].
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
    this.#size = Math.min(this.#max, Math.max(this.#min, options.initial ?? 256));
  }

  /** The size to use for the next batch. */
  get size(): number {
    return this.#size;
  }

  /** Records how long a batch of the current size took. */
  record(elapsedMs: number): void {
    const factor = Math.min(2, Math.max(0.5, (this.#targetMs * 0.8) / Math.max(elapsedMs, 0.1)));
    this.#size = Math.min(this.#max, Math.max(this.#min, Math.round(this.#size * factor)));
  }
}
