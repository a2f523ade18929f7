/**
 * Adapts a batch size to a target duration: the next size is what the slowest of the last few batches' cost per
 * row allows in the target, growing at most 1.5x per batch; a batch that timed out halves it.
 */
export class BatchSizer {
  readonly #targetMs: number;
  readonly #max: number;
  readonly #costs: number[] = [];
  #size: number;

  constructor(targetMs: number, initial: number, max: number) {
    this.#targetMs = targetMs;
    this.#max = Math.max(1, max);
    this.#size = Math.min(this.#max, Math.max(1, initial));
  }

  /** Rows in the next batch. */
  get size(): number {
    return this.#size;
  }

  /** Records how long a batch of `rows` rows took. */
  record(rows: number, elapsedMs: number): void {
    if (rows <= 0) return;
    this.#costs.push(Math.max(elapsedMs, 0.05) / rows);
    if (this.#costs.length > 4) this.#costs.shift();
    const fits = this.#targetMs / Math.max(...this.#costs);
    this.#size = Math.min(this.#max, Math.max(1, Math.round(Math.min(fits, this.#size * 1.5))));
  }

  /** After a timeout: half the size (at least 1), and forget the cheap costs that led to it. */
  shrink(): void {
    this.#size = Math.max(1, Math.floor(this.#size / 2));
    this.#costs.length = 0;
  }
}
