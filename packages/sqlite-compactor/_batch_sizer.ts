/** How many recent batches the cost estimates look back over. */
const COST_WINDOW = 4;
/** Batches after a preempted one during which the contended CPU budget applies. */
const CONTENTION_MEMORY = 32;
/**
 * CPU time a write transaction may use while the compactor is being preempted (the CPU is contended): about what
 * Linux's scheduler lets a task that has just woken up run before another runnable task can take the CPU (EEVDF's
 * base slice is 0.75 ms x (1 + log2 cores), 1.5–3 ms). A transaction that needs more is preempted while it holds the
 * write lock, and waits behind every other runnable task each time: on the 2-core machine with two busy processes
 * beside it, 23 ms of CPU took 430 ms (11 preemptions) while the writer waited.
 */
export const CONTENDED_CPU_MS = 1.5;

/** How one write transaction went. */
export interface TransactionTiming {
  /** Wall-clock duration: how long the write lock was held. */
  ms: number;
  /** CPU time of this process meanwhile. */
  cpuMs: number;
  /** Whether the process was preempted meanwhile (an involuntary context switch): the CPU is contended. */
  preempted: boolean;
}

/**
 * Runs a synchronous statement and times it: wall clock, CPU and preemption (`getrusage`).
 *
 * @example
 * ```ts
 * const { value, timing } = timeTransaction(() => remove.run(window));
 * sizer.record(timing.ms, timing);
 * ```
 */
export function timeTransaction<T>(fn: () => T): { value: T; timing: TransactionTiming } {
  const before = process.resourceUsage();
  const started = performance.now();
  const value = fn();
  const ms = performance.now() - started;
  const after = process.resourceUsage();
  const cpuMs = (after.userCPUTime + after.systemCPUTime - before.userCPUTime - before.systemCPUTime) / 1000;
  return { value, timing: { ms, cpuMs, preempted: after.involuntaryContextSwitches > before.involuntaryContextSwitches } };
}

/**
 * Adapts a batch size so that each write transaction takes about half of `targetMs` of wall-clock time (leaving room
 * for the noise of a shared disk) and, while the CPU is contended, at most {@link CONTENDED_CPU_MS} of CPU time.
 *
 * The wall clock alone cannot size batches on a busy machine: the scheduler stretches a transaction by however long
 * the process waits for the CPU, so the cost it measures is noise, and a batch sized after an unpreempted one holds
 * the lock through several preemptions. CPU time is what the batch costs; kept within one scheduler slice, the
 * transaction usually ends before the process can be preempted. On an idle machine (no preemption seen for
 * {@link CONTENTION_MEMORY} batches) the CPU budget is half the target, as for the wall clock.
 *
 * Each cost (per unit: row, page) is the highest of the last few batches' — one fast batch among slow ones does not
 * make the next batch big, and a cost that jumps between batches (cold pages, a busy disk) is met by batches already
 * sized for it. The size grows at most 1.5x per batch and shrinks at once, within [min, max].
 */
export class BatchSizer {
  readonly #targetMs: number;
  readonly #min: number;
  readonly #max: number;
  readonly #wallCosts: number[] = [];
  readonly #cpuCosts: number[] = [];
  #contended = 0;
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

  /** Whether the last batches saw the process preempted (the contended CPU budget applies). */
  get contended(): boolean {
    return this.#contended > 0;
  }

  /**
   * Records how long a batch of the current size took: wall-clock ms and, when known, its CPU time and whether it
   * was preempted (from {@link timeTransaction}).
   */
  record(elapsedMs: number, cpu: { cpuMs: number; preempted: boolean } = { cpuMs: elapsedMs, preempted: false }): void {
    push(this.#wallCosts, Math.max(elapsedMs, 0.1) / this.#size);
    push(this.#cpuCosts, Math.max(cpu.cpuMs, 0.01) / this.#size);
    this.#contended = cpu.preempted ? CONTENTION_MEMORY : Math.max(0, this.#contended - 1);
    const half = this.#targetMs * 0.5;
    const cpuBudget = this.#contended > 0 ? Math.min(half, CONTENDED_CPU_MS) : half;
    const fits = Math.min(half / Math.max(...this.#wallCosts), cpuBudget / Math.max(...this.#cpuCosts));
    this.#size = Math.min(this.#max, Math.max(this.#min, Math.round(Math.min(fits, this.#size * 1.5))));
  }
}

function push(window: number[], cost: number): void {
  window.push(cost);
  if (window.length > COST_WINDOW) window.shift();
}

/**
 * SQLite's default busy handler (`busy_timeout`, what a service's connection normally uses): the ms it sleeps
 * between tries of a locked database, and the total waited before each sleep (`sqliteDefaultBusyCallback`).
 */
const BUSY_DELAYS = [1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100];
const BUSY_TOTALS = [0, 1, 3, 8, 18, 33, 53, 78, 103, 128, 178, 228];

/**
 * How long to leave the write lock free after a write transaction of `elapsedMs`, so that a writer in another process
 * that waited through it tries again within the gap. Such a writer sleeps on SQLite's busy-handler schedule (1, 2, 5,
 * 10, 15, 20, 25 ms ...): after a wait of `elapsedMs` it may be at the start of a sleep as long as the step that wait
 * falls in, so the gap must be at least that step (plus a fifth and 1 ms for its wake-up), or the writer misses it,
 * sleeps again, longer, and can miss the next gap too. At most `targetMs`.
 *
 * @example
 * ```ts
 * pauseAfter(2, 50);  // 4 ms: a writer that waited 2 ms sleeps 2 ms at most before its next try
 * pauseAfter(25, 50); // 19 ms: after 18 ms of waiting it sleeps 15 ms
 * ```
 */
export function pauseAfter(elapsedMs: number, targetMs: number): number {
  let step = BUSY_DELAYS.length - 1;
  while (step > 0 && (BUSY_TOTALS[step] as number) > elapsedMs) step--;
  return Math.max(1, Math.min(targetMs, Math.ceil((BUSY_DELAYS[step] as number) * 1.2) + 1));
}
