import { lstatSync, unlinkSync } from "node:fs";
import { setImmediate as yieldToLoop } from "node:timers/promises";
import { throwIfAborted } from "@reclaim/core";
import { readDiskUsage, type DiskUsage } from "./disk_usage.ts";
import { OldestSelection } from "./_oldest_selection.ts";
import { scanTrees, type ScanTotals } from "./_scan.ts";
import type { ChunkConfig } from "./_scan_config.ts";

/** Inputs of one pressure sweep. */
export interface PressureInput {
  root: string;
  rootDev: number;
  mediaDirs: readonly string[];
  /** Collect-mode scan settings (cutoff = now - pressure.minAge). */
  config: ChunkConfig;
  threads: number;
  signal: AbortSignal;
  dryRun: boolean;
  low: number;
  /** Most files selected per round; a round re-walks when more are needed. */
  batchLimit: number;
  /** Root-relative paths referenced by JSON stores (to report which were deleted). */
  referenced: ReadonlySet<string> | null;
  usage: DiskUsage;
}

/** What a pressure sweep did. */
export interface PressureOutcome {
  removed: number;
  bytes: number;
  rounds: number;
  usedRatioBefore: number;
  usedRatioAfter: number;
  /** True when usage ended at or below the low watermark (in a dry run: when the estimate says it would). */
  reachedLow: boolean;
  /** Why usage is still above the low watermark. */
  reason?: string;
  /** Eligible files left alone by the last round's walk, by reason. */
  skipped: ScanTotals["skipped"];
  errors: number;
  errorSamples: string[];
  deletedReferenced: string[];
}

const MAX_ROUNDS = 20;

/** Bytes to free so that usage drops to `low`. */
export function bytesToFree(usage: DiskUsage, low: number): number {
  return Math.max(0, Math.ceil(usage.usedBytes - low * (usage.usedBytes + usage.freeBytes)));
}

/**
 * Deletes the oldest eligible files until `statfs` says usage is at or below `low`, or nothing eligible is left.
 * Each round walks the media folders keeping only the oldest files that cover the bytes still to free (bounded
 * by `batchLimit`), then deletes them oldest first, re-checking each file (still a regular file, same mtime)
 * right before unlinking and re-reading `statfs` whenever the estimate says the target is met.
 */
export async function relievePressure(input: PressureInput): Promise<PressureOutcome> {
  const outcome: PressureOutcome = {
    removed: 0,
    bytes: 0,
    rounds: 0,
    usedRatioBefore: input.usage.usedRatio,
    usedRatioAfter: input.usage.usedRatio,
    reachedLow: false,
    skipped: emptySkips(),
    errors: 0,
    errorSamples: [],
    deletedReferenced: [],
  };
  let usage = input.usage;
  const rootLength = input.root.length;
  while (outcome.rounds < MAX_ROUNDS) {
    const target = bytesToFree(usage, input.low);
    if (target === 0) {
      outcome.reachedLow = true;
      break;
    }
    outcome.rounds++;
    const selection = new OldestSelection(input.batchLimit, target);
    const totals = await scanTrees(input.mediaDirs, input.config, {
      threads: input.threads,
      signal: input.signal,
      onResult(result) {
        const c = result.candidates;
        if (!c) return;
        for (let i = 0; i < c.paths.length; i++) selection.offer(c.paths[i]!, c.ts[i]!, c.alloc[i]!, c.size[i]!, c.mtime[i]!);
      },
    });
    outcome.skipped = totals.skipped;
    outcome.errors += totals.errors;
    outcome.errorSamples.push(...totals.errorSamples.slice(0, 5 - outcome.errorSamples.length));
    const leftOut = selection.leftOut;
    const batch = selection.drainOldestFirst();
    if (batch.length === 0) {
      outcome.reason = `no eligible file left: ${describeSkips(totals.skipped)}`;
      break;
    }
    let freed = 0;
    let needed = target;
    let removedThisRound = 0;
    let done = false;
    for (let i = 0; i < batch.length; i++) {
      if (i % 256 === 255) {
        throwIfAborted(input.signal);
        await yieldToLoop();
      }
      const file = batch[i]!;
      const st = lstatSync(file.path, { throwIfNoEntry: false });
      if (st === undefined || !st.isFile() || st.dev !== input.rootDev || st.mtimeMs !== file.mtime) continue;
      if (!input.dryRun) {
        try {
          unlinkSync(file.path);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== "ENOENT") {
            outcome.errors++;
            if (outcome.errorSamples.length < 5) outcome.errorSamples.push(`unlink ${file.path}: ${(err as Error).message}`);
          }
          continue;
        }
      }
      removedThisRound++;
      outcome.removed++;
      outcome.bytes += file.size;
      freed += file.alloc;
      const rel = file.path.slice(rootLength + 1);
      if (input.referenced?.has(rel)) outcome.deletedReferenced.push(rel);
      if (freed >= needed) {
        if (input.dryRun) {
          done = true;
          break;
        }
        usage = readDiskUsage(input.root);
        needed = bytesToFree(usage, input.low);
        freed = 0;
        if (needed === 0) {
          done = true;
          break;
        }
      }
    }
    if (input.dryRun) {
      outcome.reachedLow = done;
      if (!done) outcome.reason = `dry run: the eligible files would not free enough (${describeSkips(totals.skipped)})`;
      break;
    }
    usage = readDiskUsage(input.root);
    if (done || bytesToFree(usage, input.low) === 0) {
      outcome.reachedLow = true;
      break;
    }
    if (removedThisRound === 0) {
      outcome.reason = "no selected file could be deleted (they changed or vanished, or unlink failed)";
      break;
    }
    if (leftOut === 0) {
      outcome.reason = `deleted every eligible file and usage is still above the low watermark: ${describeSkips(totals.skipped)}`;
      break;
    }
  }
  if (outcome.rounds >= MAX_ROUNDS && !outcome.reachedLow) outcome.reason ??= `gave up after ${MAX_ROUNDS} rounds (space is being written as fast as it is freed, or deleted files are still open)`;
  outcome.usedRatioAfter = input.dryRun ? usage.usedRatio : readDiskUsage(input.root).usedRatio;
  return outcome;
}

function emptySkips(): ScanTotals["skipped"] {
  return { symlink: 0, otherFilesystem: 0, protected: 0, recent: 0, temp: 0, vanished: 0, tooYoung: 0, special: 0, movedDirectory: 0 };
}

/** "3 younger than pressure.minAge, 2 protected" — the non-zero reasons files were left. */
export function describeSkips(skipped: ScanTotals["skipped"]): string {
  const labels: Record<keyof ScanTotals["skipped"], string> = {
    tooYoung: "younger than pressure.minAge",
    protected: "protected",
    recent: "modified within recentlyModified",
    symlink: "symlinks",
    otherFilesystem: "on another filesystem",
    temp: "reclaim temp files",
    special: "not regular files",
    vanished: "vanished",
    movedDirectory: "directories moved mid-walk",
  };
  const parts = (Object.keys(labels) as Array<keyof typeof labels>).filter((key) => skipped[key] > 0).map((key) => `${skipped[key]} ${labels[key]}`);
  return parts.length > 0 ? parts.join(", ") : "no files in the media folders";
}
