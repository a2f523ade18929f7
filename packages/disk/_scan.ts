import { lstatSync, opendirSync, readdirSync, realpathSync } from "node:fs";
import { setImmediate as yieldToLoop } from "node:timers/promises";
import { availableParallelism } from "node:os";
import type { Worker } from "node:worker_threads";
import { startModuleWorker, throwIfAborted } from "@reclaim/core";
import type { ChunkConfig } from "./_scan_config.ts";
import { makeChunkProcessor, type ChunkResult, type ChunkTask, type SkipCounts } from "./_scan_chunk.ts";

/** Names per chunk handed to a thread: big enough to amortise a message, small enough to balance. */
const CHUNK_SIZE = 512;
/** Chunks in flight per worker, so a worker never waits for the walker. */
const IN_FLIGHT_PER_WORKER = 3;
/**
 * Directories whose `st_size` is below this are listed in one `readdirSync` (about 4x cheaper per entry than
 * `opendir`); bigger ones are streamed with `opendir`, so no more than roughly 200,000-400,000 names are held at
 * once (tmpfs reports 20 bytes per entry, ext4 at least 12).
 */
const STREAM_DIRECTORY_BYTES = 4 * 1024 * 1024;

/**
 * Starts a worker thread of a walk: `_scan_worker.js` beside this file in `dist`, `_scan_worker.ts` (through core's
 * test loader) when running from the sources, as {@link startModuleWorker} does.
 *
 * @example
 * ```ts
 * const worker = startScanWorker(chunkConfig("audit", { root, rootDev }));
 * worker.postMessage({ dir: `${root}/images`, names: ["a.png"] });
 * ```
 */
export function startScanWorker(config: ChunkConfig): Worker {
  return startModuleWorker(import.meta.url, "_scan_worker", { workerData: config });
}

/** Totals of one walk. */
export interface ScanTotals {
  files: number;
  bytes: number;
  skipped: SkipCounts & { movedDirectory: number };
  errors: number;
  errorSamples: string[];
  directories: number;
}

/** How to walk. */
export interface ScanOptions {
  /** Worker threads besides the calling thread, which lists directories and takes a chunk whenever every worker is busy; 0 walks on the calling thread alone. */
  threads: number;
  signal?: AbortSignal | undefined;
  /** Directories at least this big (`st_size`) are streamed with `opendir`. @default 4 MiB */
  streamDirectoryBytes?: number;
  /** Called with each chunk's result (on the calling thread). */
  onResult?: ((result: ChunkResult) => void) | undefined;
}

/**
 * Worker threads a walk uses by default: one per core besides the calling thread (which works too), at most 3;
 * none on a single core. Two cores give the calling thread plus one worker, which measured faster than two
 * workers (less start-up, fewer messages; see README).
 *
 * @example
 * ```ts
 * await scanTrees([realRoot], config, { threads: options.threads ?? defaultScanThreads() });
 * ```
 */
export function defaultScanThreads(): number {
  return Math.max(0, Math.min(3, availableParallelism() - 1));
}

/**
 * Walks the trees under `startDirs` (real, absolute paths on the root's filesystem) and applies `config.mode` to
 * every regular file. The calling thread lists directories and hands names to worker threads in chunks; the
 * workers lstat, check and delete/collect/count, and the calling thread processes a chunk itself whenever every
 * worker already has its fill. Directories are listed only when their real path is the path
 * the walk reached them by (a directory swapped for a symlink mid-walk is skipped).
 */
export async function scanTrees(startDirs: readonly string[], config: ChunkConfig, options: ScanOptions): Promise<ScanTotals> {
  const totals: ScanTotals = {
    files: 0,
    bytes: 0,
    skipped: { symlink: 0, otherFilesystem: 0, protected: 0, recent: 0, temp: 0, vanished: 0, tooYoung: 0, special: 0, movedDirectory: 0 },
    errors: 0,
    errorSamples: [],
    directories: 0,
  };
  const stack = [...startDirs];
  const absorb = (result: ChunkResult): void => {
    totals.files += result.files;
    totals.bytes += result.bytes;
    for (const key of Object.keys(result.skipped) as Array<keyof SkipCounts>) totals.skipped[key] += result.skipped[key];
    totals.errors += result.errors;
    for (const sample of result.errorSamples) if (totals.errorSamples.length < 5) totals.errorSamples.push(sample);
    for (const dir of result.dirs) stack.push(dir);
    options.onResult?.(result);
  };
  const pool = options.threads > 0 ? new ScanPool(options.threads, config, absorb) : null;
  const local = makeChunkProcessor(config);
  let sinceYield = 0;
  const submit = async (task: ChunkTask): Promise<void> => {
    if (options.signal) throwIfAborted(options.signal);
    if (pool) {
      if (pool.hasRoom()) return pool.submit(task);
      // Every worker has its fill: the calling thread takes this chunk itself rather than wait, then lets the
      // event loop deliver the workers' results (and an abort).
      absorb(local(task));
      await yieldToLoop();
      return;
    }
    absorb(local(task));
    if (++sinceYield === 32) {
      sinceYield = 0;
      await yieldToLoop();
    }
  };
  const fail = (message: string): void => {
    totals.errors++;
    if (totals.errorSamples.length < 5) totals.errorSamples.push(message);
  };
  try {
    for (;;) {
      if (options.signal) throwIfAborted(options.signal);
      const dir = stack.pop();
      if (dir === undefined) {
        if (!pool || pool.pending === 0) break;
        await pool.next();
        continue;
      }
      let size: number;
      try {
        const st = lstatSync(dir);
        if (!st.isDirectory() || st.dev !== config.rootDev || realpathSync.native(dir) !== dir) {
          totals.skipped.movedDirectory++;
          continue;
        }
        size = st.size;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "ENOENT" || code === "ENOTDIR") totals.skipped.vanished++;
        else fail(`lstat ${dir}: ${(err as Error).message}`);
        continue;
      }
      totals.directories++;
      try {
        if (size < (options.streamDirectoryBytes ?? STREAM_DIRECTORY_BYTES)) {
          const names = readdirSync(dir);
          for (let start = 0; start < names.length; start += CHUNK_SIZE) await submit({ dir, names: names.slice(start, start + CHUNK_SIZE) });
        } else {
          const handle = opendirSync(dir, { bufferSize: 1024 });
          try {
            let names: string[] = [];
            for (let entry = handle.readSync(); entry !== null; entry = handle.readSync()) {
              names.push(entry.name);
              if (names.length === CHUNK_SIZE) {
                await submit({ dir, names });
                names = [];
              }
            }
            if (names.length > 0) await submit({ dir, names });
          } finally {
            handle.closeSync();
          }
        }
      } catch (err) {
        if ((err as { code?: string }).code === "RECLAIM_ERR_ABORTED" || pool?.failed) throw err;
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "ENOENT" || code === "ENOTDIR") totals.skipped.vanished++;
        else fail(`readdir ${dir}: ${(err as Error).message}`);
      }
    }
  } finally {
    await pool?.close();
  }
  return totals;
}

interface PoolWorker {
  worker: Worker;
  inFlight: number;
}

class ScanPool {
  readonly #workers: PoolWorker[] = [];
  #waiters: Array<() => void> = [];
  #error: Error | null = null;
  #closing = false;
  pending = 0;

  /** A worker failed: the walk must stop. */
  get failed(): boolean {
    return this.#error !== null;
  }

  constructor(threads: number, config: ChunkConfig, onResult: (result: ChunkResult) => void) {
    for (let i = 0; i < threads; i++) {
      const slot: PoolWorker = { worker: startScanWorker(config), inFlight: 0 };
      slot.worker.on("message", (result: ChunkResult) => {
        slot.inFlight--;
        this.pending--;
        try {
          onResult(result);
        } catch (err) {
          this.#error ??= err as Error;
        }
        this.#wake();
      });
      slot.worker.on("error", (err) => {
        this.#error ??= new Error(`disk scan worker failed: ${err.message}`, { cause: err });
        this.#wake();
      });
      slot.worker.on("exit", (code) => {
        if (!this.#closing) this.#error ??= new Error(`disk scan worker exited with code ${code}`);
        this.#wake();
      });
      this.#workers.push(slot);
    }
  }

  /** True when some worker could take a chunk now. */
  hasRoom(): boolean {
    for (const slot of this.#workers) if (slot.inFlight < IN_FLIGHT_PER_WORKER) return true;
    return false;
  }

  /** Hands a chunk to the least busy worker, waiting while every worker is full. */
  async submit(task: ChunkTask): Promise<void> {
    for (;;) {
      if (this.#error) throw this.#error;
      let best: PoolWorker | undefined;
      for (const slot of this.#workers) if (slot.inFlight < IN_FLIGHT_PER_WORKER && (!best || slot.inFlight < best.inFlight)) best = slot;
      if (best) {
        best.inFlight++;
        this.pending++;
        best.worker.postMessage(task);
        return;
      }
      await this.next();
    }
  }

  /** Resolves after the next result (or failure). */
  async next(): Promise<void> {
    if (this.#error) throw this.#error;
    await new Promise<void>((resolve) => this.#waiters.push(resolve));
    if (this.#error) throw this.#error;
  }

  async close(): Promise<void> {
    this.#closing = true;
    while (this.pending > 0 && !this.#error) await this.next().catch(() => undefined);
    await Promise.all(this.#workers.map((slot) => slot.worker.terminate()));
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}
