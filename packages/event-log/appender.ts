import { closeSync, fstatSync, mkdirSync, openSync, statSync, writeSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { lockDirFor, WriterFlag } from "./_lock.ts";
import { EventLogError } from "./errors.ts";

/** Options of {@link openEventLog}. */
export interface AppenderOptions {
  /** Mode of the log file when the appender creates it. @default 0o644 */
  mode?: number;
  /** Largest batch of queued lines written with one `write(2)`. @default 1048576 (1 MiB) */
  maxBatchBytes?: number;
  /**
   * How long (ms) a batch waits while a trimmer has paused appenders before it fails with
   * `RECLAIM_ERR_EVENT_LOG_PAUSED` (nothing written; later appends try again). A trimmer pauses appenders only
   * while it swaps the file, and a pause whose owner cannot be checked (another host or pid namespace) counts as
   * stale after 60 s, so the default waits that out rather than fail. @default 60000
   */
  pauseTimeout?: number;
}

/** A rotation-aware appender to an event log. Created by {@link openEventLog}. */
export interface EventLog extends AsyncDisposable {
  /** Absolute path of the log. */
  readonly path: string;
  /** How many times the appender found the log rotated (or removed) and reopened it. */
  readonly reopens: number;
  /** Appends one line (a `\n` is added when missing); resolves once it is in the file. */
  append(line: string | Uint8Array): Promise<void>;
  /** Appends `JSON.stringify(value)` as one line. */
  appendJson(value: unknown): Promise<void>;
  /** Resolves when every line appended so far is in the file. */
  flush(): Promise<void>;
  /** Flushes, then closes the file. Appending afterwards throws. Idempotent. */
  close(): Promise<void>;
}

interface Pending {
  data: Buffer;
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * Opens (creating if needed) an append-only event log for writing lines that survive trims by
 * `createEventLogHook()` / `trimToLastLines()`: each batch of lines goes out in one `O_APPEND` write, never while
 * a trimmer is swapping the file, and always to the file currently at `path` (after a rotation the appender
 * reopens). Any number of appenders, in any number of processes on one host, can share a log. A batch that waits
 * longer than `pauseTimeout` for a trimmer's pause to end fails with `EventLogError` `RECLAIM_ERR_EVENT_LOG_PAUSED`
 * (nothing written); it never waits forever.
 *
 * @example
 * ```ts
 * await using log = await openEventLog("/app/.data/events.jsonl");
 * await log.appendJson({ at: new Date().toISOString(), type: "post.published", id: 42 });
 * ```
 */
export async function openEventLog(path: string, options: AppenderOptions = {}): Promise<EventLog> {
  const pauseTimeout = options.pauseTimeout ?? 60_000;
  if (!(pauseTimeout >= 0 && pauseTimeout <= 2 ** 31 - 1)) {
    throw new RangeError(`Cannot open event log as 'pauseTimeout' must be between 0 and ${2 ** 31 - 1} ms: current value is ${pauseTimeout}`);
  }
  const log = new EventLogAppender(resolve(path), options.mode ?? 0o644, options.maxBatchBytes ?? 1 << 20, pauseTimeout);
  await log.append(Buffer.alloc(0)); // opens (creates) the file now, so that errors show here
  return log;
}

class EventLogAppender implements EventLog {
  readonly path: string;
  readonly #mode: number;
  readonly #maxBatchBytes: number;
  readonly #pauseTimeout: number;
  readonly #flag: WriterFlag;
  #fd: number | undefined;
  #ino = 0;
  #dev = 0;
  #reopens = 0;
  #queue: Pending[] = [];
  #draining: Promise<void> | undefined;
  #closed = false;

  constructor(path: string, mode: number, maxBatchBytes: number, pauseTimeout: number) {
    this.path = path;
    this.#mode = mode;
    this.#maxBatchBytes = maxBatchBytes;
    this.#pauseTimeout = pauseTimeout;
    this.#flag = new WriterFlag(lockDirFor(path));
    mkdirSync(dirname(path), { recursive: true });
  }

  get reopens(): number {
    return this.#reopens;
  }

  append(line: string | Uint8Array): Promise<void> {
    if (this.#closed) return Promise.reject(new Error(`the event log ${this.path} is closed`));
    let data = typeof line === "string" ? Buffer.from(line, "utf8") : Buffer.from(line);
    if (data.length > 0 && data[data.length - 1] !== 0x0a) data = Buffer.concat([data, NEWLINE]);
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ data, resolve, reject });
      this.#kick();
    });
  }

  #kick(): void {
    if (this.#draining) return;
    this.#draining = this.#drain().finally(() => {
      this.#draining = undefined;
      // Lines queued after the drain loop saw an empty queue, but before this callback ran.
      if (this.#queue.length > 0) this.#kick();
    });
  }

  appendJson(value: unknown): Promise<void> {
    return this.append(JSON.stringify(value));
  }

  async flush(): Promise<void> {
    while (this.#draining) await this.#draining;
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.flush();
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #drain(): Promise<void> {
    await null; // let the appends of this tick join the batch
    while (this.#queue.length > 0) {
      const batch: Pending[] = [];
      let bytes = 0;
      while (this.#queue.length > 0 && (batch.length === 0 || bytes + this.#queue[0]!.data.length <= this.#maxBatchBytes)) {
        const next = this.#queue.shift()!;
        batch.push(next);
        bytes += next.data.length;
      }
      try {
        await this.#write(batch.length === 1 ? batch[0]!.data : Buffer.concat(batch.map((p) => p.data), bytes));
        for (const pending of batch) pending.resolve();
      } catch (err) {
        for (const pending of batch) pending.reject(err);
      }
    }
  }

  async #write(data: Buffer): Promise<void> {
    const deadline = Date.now() + this.#pauseTimeout;
    for (let wait = 0; ; wait = Math.min(wait + 1, 10)) {
      const pausedBy = this.#flag.enter();
      if (pausedBy === null) {
        try {
          this.#openCurrent();
          for (let written = 0; written < data.length; ) written += writeSync(this.#fd!, data, written, data.length - written);
        } finally {
          this.#flag.leave();
        }
        return;
      }
      if (Date.now() >= deadline) {
        throw new EventLogError(
          "RECLAIM_ERR_EVENT_LOG_PAUSED",
          `cannot append to ${this.path}: appenders have been paused by ${pausedBy} for over ${this.#pauseTimeout} ms; nothing was written. ` +
            `If no trimmer is running, remove ${this.#flag.pausePath}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }

  /** Makes `#fd` the file now at `path`: a trim renames a new file over it (and no trim runs while we hold the flag). */
  #openCurrent(): void {
    if (this.#fd !== undefined) {
      let current;
      try {
        current = statSync(this.path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      }
      if (current && current.ino === this.#ino && current.dev === this.#dev) return;
      closeSync(this.#fd);
      this.#fd = undefined;
      this.#reopens++;
    }
    const fd = openSync(this.path, "a", this.#mode);
    const info = fstatSync(fd);
    this.#fd = fd;
    this.#ino = info.ino;
    this.#dev = info.dev;
  }
}

const NEWLINE = Buffer.from("\n");
