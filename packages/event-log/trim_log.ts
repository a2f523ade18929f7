import { resolve } from "node:path";
import { parseOptions } from "@reclaim/core";
import { trimLog } from "./_trim.ts";
import { eventLogOptions } from "./event_log_options.ts";

/** Options of {@link trimToLastLines}. Sizes in bytes, durations in ms. */
export interface TrimOptions {
  /** Trim only when the file is larger than this. @default 52428800 (50 MiB) */
  maxBytes?: number;
  /** Complete lines to keep (never more than `maxBytes` bytes). @default 10000 */
  keepLines?: number;
  /** Gzip the trimmed-away head beside the log and keep the newest `keep` archives. @default undefined (no archive) */
  archive?: { keep: number };
  /** Report what a trim would do and touch nothing. @default false */
  dryRun?: boolean;
  /** Stops the trim between steps (never between the final size check and the rename). */
  signal?: AbortSignal;
  /** How long to wait for appenders to step aside before giving up with `RECLAIM_ERR_EVENT_LOG_BUSY`. @default 10000 */
  drainTimeout?: number;
}

/**
 * How a trim ended: `missing` (no file), `under-limit`, `rotated`, `would-rotate` (dry run), or `locked`
 * (another live trimmer is working on this log).
 */
export type TrimOutcome = "missing" | "under-limit" | "rotated" | "would-rotate" | "locked";

/** What {@link trimToLastLines} did. Sizes in bytes. */
export interface TrimResult {
  outcome: TrimOutcome;
  /** Size of the file when the trim took its snapshot. */
  bytesBefore: number;
  /** Size of the new file: kept bytes plus salvaged bytes (equal to `bytesBefore` when nothing was done). */
  bytesAfter: number;
  /** Bytes of the snapshot that were kept (its last `linesKept` lines and an unterminated last line, if any). */
  keptBytes: number;
  /** Complete lines kept from the snapshot. */
  linesKept: number;
  /** Bytes appended after the snapshot and carried over into the new file. */
  salvagedBytes: number;
  /** Bytes of the snapshot dropped (`bytesBefore - keptBytes`). */
  reclaimedBytes: number;
  /** Path of the archive written by this trim, if any. */
  archive: string | null;
  /** Archives removed because more than `archive.keep` existed. */
  removedArchives: string[];
  /** Temporary files of earlier, interrupted trims that were removed. */
  removedTemps: number;
}

/**
 * When `path` is larger than `maxBytes`, replaces it by its longest suffix that starts at a line boundary and
 * holds at most `keepLines` complete lines and at most `maxBytes` bytes, working on bytes (CRLF, invalid UTF-8
 * and an unterminated last line are kept exactly). Reads only that suffix, backwards. The new content is written
 * to a temporary file beside the log, fsynced, and renamed over it (then the folder is fsynced), so a kill at any
 * instant leaves the old file or the new one. Lines that `openEventLog()` appenders write meanwhile are carried
 * over: none is lost or doubled.
 *
 * @example
 * ```ts
 * const result = await trimToLastLines("/data/events.jsonl", { maxBytes: 50 * 1024 ** 2, keepLines: 10_000 });
 * if (result.outcome === "rotated") console.log(`${result.bytesBefore} -> ${result.bytesAfter} bytes`);
 * ```
 */
export async function trimToLastLines(path: string, options: TrimOptions = {}): Promise<TrimResult> {
  const parsed = parseOptions("event-log", eventLogOptions, {
    path,
    ...(options.maxBytes === undefined ? {} : { maxBytes: options.maxBytes }),
    ...(options.keepLines === undefined ? {} : { keepLines: options.keepLines }),
    ...(options.drainTimeout === undefined ? {} : { drainTimeout: options.drainTimeout }),
    ...(options.archive === undefined ? {} : { archive: { enabled: true, keep: options.archive.keep } }),
  });
  return trimLog(resolve(path), {
    maxBytes: parsed.maxBytes,
    keepLines: parsed.keepLines,
    archiveKeep: parsed.archive.enabled ? parsed.archive.keep : null,
    dryRun: options.dryRun ?? false,
    drainTimeout: parsed.drainTimeout,
    signal: options.signal,
  });
}
