import { availableParallelism } from "node:os";
import type { Worker } from "node:worker_threads";
import { AbortedError, startModuleWorker } from "@reclaim/core";
import type { DeleteResult, DeleteTask, TreeResult, TreeTask, WalkMode, WalkResult } from "./_tree_tasks.ts";

/** Tasks in flight per worker, so a worker never waits for the calling thread. */
const IN_FLIGHT_PER_WORKER = 2;
/** Entries a walk task lists before it hands its unvisited directories back (balance vs. messages). */
const WALK_BUDGET = 4096;
/** Directories handed out per walk task at most. */
const WALK_DIRS_PER_TASK = 64;
/** Subtrees per delete task at most; fewer near the end, so both threads finish together. */
const DELETE_TREES_PER_TASK = 16;

/**
 * Worker threads of a pass: one per core, at most 4.
 *
 * @example
 * ```ts
 * await using pool = new TreePool(defaultTreeThreads());
 * ```
 */
export function defaultTreeThreads(): number {
  return Math.max(1, Math.min(4, availableParallelism()));
}

/** What a walk of several trees found, per group. */
export type WalkTotals = Omit<WalkResult, "op" | "group" | "dirs">;

interface Slot {
  worker: Worker;
  busy: number;
}

/**
 * The worker threads (`_tree_worker.ts`) of one pass, started on first use and shared by its walks and deletions.
 * The calling thread hands out directories (walks: a few dozen per message, each walked depth first until a budget of
 * entries, the rest handed back) or subtrees (deletions), so both cores work until the end.
 *
 * @example
 * ```ts
 * await using pool = new TreePool(2);
 * const totals = await pool.walk("measure", [{ group: 0, dir }], { dev, mounts: [], artifacts: [] });
 * ```
 */
export class TreePool implements AsyncDisposable {
  readonly threads: number;
  #slots: Slot[] | null = null;
  #sink: ((slot: Slot, result: TreeResult) => void) | null = null;
  #failure: ((err: Error) => void) | null = null;
  #broken: Error | null = null;
  #closing = false;

  constructor(threads: number = defaultTreeThreads()) {
    this.threads = Math.max(1, Math.floor(threads));
  }

  /**
   * Walks trees in `mode`; every directory of a group is on the device `dev`. Returns the totals per group (groups
   * with nothing found have zeroed totals).
   */
  async walk(
    mode: WalkMode,
    roots: ReadonlyArray<{ group: number; dir: string }>,
    context: { dev: number; mounts: string[] | null; artifacts: readonly string[] },
    signal?: AbortSignal,
  ): Promise<Map<number, WalkTotals>> {
    const totals = new Map<number, WalkTotals>();
    for (const { group } of roots) totals.set(group, { files: 0, size: 0, bytes: 0, newestMs: null, newestPath: null, artifacts: [], hazard: null, errors: [] });
    const queue: Array<[group: number, dir: string]> = roots.map((r) => [r.group, r.dir]);
    const artifacts = [...context.artifacts];
    const next = (): TreeTask | null => {
      const last = queue.at(-1);
      if (last === undefined) return null;
      const group = last[0];
      const dirs: string[] = [];
      while (dirs.length < WALK_DIRS_PER_TASK && queue.length > 0 && queue.at(-1)![0] === group) dirs.push(queue.pop()![1]);
      return { op: "walk", mode, group, dirs, dev: context.dev, mounts: context.mounts, artifacts, budget: WALK_BUDGET };
    };
    await this.#run(next, (result) => {
      const r = result as WalkResult;
      const into = totals.get(r.group)!;
      into.files += r.files;
      into.size += r.size;
      into.bytes += r.bytes;
      if (r.newestMs !== null && (into.newestMs === null || r.newestMs > into.newestMs)) {
        into.newestMs = r.newestMs;
        into.newestPath = r.newestPath;
      }
      into.artifacts.push(...r.artifacts);
      into.hazard ??= r.hazard;
      for (const e of r.errors) if (into.errors.length < 20) into.errors.push(e);
      for (const dir of r.dirs) queue.push([r.group, dir]);
    }, signal);
    return totals;
  }

  /**
   * Deletes subtrees (each `[tag, dir, ino, mountId]`: entered only if `dir` is still that directory on that mount) on
   * the device `dev`; `onResult` gets each task's result as it comes.
   */
  async remove(trees: ReadonlyArray<DeleteTask["trees"][number]>, dev: number, onResult: (result: DeleteResult) => void, signal?: AbortSignal): Promise<void> {
    let at = 0;
    const next = (): TreeTask | null => {
      if (at >= trees.length) return null;
      const take = Math.max(1, Math.min(DELETE_TREES_PER_TASK, Math.floor((trees.length - at) / (this.threads * 8))));
      const batch = trees.slice(at, at + take);
      at += take;
      return { op: "delete", trees: batch, dev };
    };
    await this.#run(next, (result) => onResult(result as DeleteResult), signal);
  }

  async #run(next: () => TreeTask | null, onResult: (result: TreeResult) => void, signal?: AbortSignal): Promise<void> {
    if (this.#broken) throw this.#broken;
    if (this.#sink) throw new Error("TreePool runs one walk or deletion at a time");
    const slots = this.#start();
    try {
      await new Promise<void>((resolve, reject) => {
        let inFlight = 0;
        let stopped: Error | null = null;
        const fill = () => {
          if (stopped === null && signal?.aborted) stopped = new AbortedError();
          if (stopped === null) {
            for (const slot of slots) {
              while (slot.busy < IN_FLIGHT_PER_WORKER) {
                const task = next();
                if (task === null) break;
                slot.busy++;
                inFlight++;
                slot.worker.postMessage(task);
              }
            }
          }
          // Stop only once nothing is in flight: a result that comes later must not land in the next run.
          if (inFlight === 0) {
            if (stopped) reject(stopped);
            else resolve();
          }
        };
        this.#sink = (slot, result) => {
          slot.busy--;
          inFlight--;
          if (stopped === null) {
            try {
              onResult(result);
            } catch (err) {
              stopped = err as Error;
            }
          }
          fill();
        };
        this.#failure = (err) => {
          this.#broken ??= err;
          reject(err);
        };
        fill();
      });
    } finally {
      this.#sink = null;
      this.#failure = null;
    }
  }

  #start(): Slot[] {
    if (this.#slots) return this.#slots;
    const slots: Slot[] = [];
    for (let i = 0; i < this.threads; i++) {
      const slot: Slot = { worker: startModuleWorker(import.meta.url, "_tree_worker"), busy: 0 };
      slot.worker.on("message", (result: TreeResult) => this.#sink?.(slot, result));
      slot.worker.on("error", (err) => this.#fail(new Error(`worktrees worker thread failed: ${err.message}`, { cause: err })));
      slot.worker.on("exit", (code) => {
        if (!this.#closing) this.#fail(new Error(`worktrees worker thread exited with code ${code}`));
      });
      slots.push(slot);
    }
    return (this.#slots = slots);
  }

  #fail(err: Error): void {
    this.#broken ??= err;
    this.#failure?.(err);
  }

  /** Stops the worker threads. */
  async close(): Promise<void> {
    this.#closing = true;
    const slots = this.#slots ?? [];
    this.#slots = null;
    await Promise.all(slots.map((slot) => slot.worker.terminate()));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
