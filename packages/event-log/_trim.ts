import { type FileHandle, open, stat } from "node:fs/promises";
import { createTempFile, removeStaleTemps, throwIfAborted } from "@reclaim/core";
import { archiveHead, pruneArchives } from "./_archive.ts";
import { acquireRotateLock, clearStaleLockState, lockDirFor, pauseAppenders } from "./_lock.ts";
import { copyRange, planTail } from "./_tail_reader.ts";
import { EventLogError } from "./errors.ts";
import type { TrimResult } from "./trim_log.ts";

const CHUNK = 1 << 20;

/** Resolved settings of one trim. */
export interface TrimSettings {
  maxBytes: number;
  keepLines: number;
  archiveKeep: number | null;
  dryRun: boolean;
  drainTimeout: number;
  signal: AbortSignal | undefined;
  /** Read/copy buffer size (small values let tests cross chunk boundaries). @default 1 MiB */
  chunkSize?: number;
}

/** Points inside a trim where tests stop (or kill) the trimmer. Not part of the public API. */
export type TrimPhase = "locked" | "archived" | "copied" | "paused" | "renamed" | "resumed";

/**
 * One trim of `path` (see `trimToLastLines` for the contract). `onPhase` is awaited at each {@link TrimPhase}.
 */
export async function trimLog(path: string, settings: TrimSettings, onPhase?: (phase: TrimPhase) => void | Promise<void>): Promise<TrimResult> {
  const result: TrimResult = {
    outcome: "missing",
    bytesBefore: 0,
    bytesAfter: 0,
    keptBytes: 0,
    linesKept: 0,
    salvagedBytes: 0,
    reclaimedBytes: 0,
    archive: null,
    removedArchives: [],
    removedTemps: 0,
  };
  const size = await sizeOf(path);
  if (size === null) return result;
  result.bytesBefore = result.bytesAfter = size;
  if (settings.dryRun) {
    if (size <= settings.maxBytes) return { ...result, outcome: "under-limit" };
    const handle = await open(path, "r");
    try {
      const plan = await planTail(handle, size, settings.keepLines, settings.maxBytes, Buffer.allocUnsafe(settings.chunkSize ?? CHUNK));
      return { ...result, outcome: "would-rotate", bytesAfter: size - plan.start, keptBytes: size - plan.start, linesKept: plan.linesKept, reclaimedBytes: plan.start };
    } finally {
      await handle.close();
    }
  }

  const lockDir = lockDirFor(path);
  const release = await acquireRotateLock(lockDir);
  if (!release) return { ...result, outcome: "locked" };
  try {
    await onPhase?.("locked");
    await clearStaleLockState(lockDir);
    // Temp files of earlier trims whose writer is gone (core's rule: judged by the writer's identity, PID reuse included).
    result.removedTemps = (await removeStaleTemps(path)) + (await removeStaleTemps(`${path}.gz`));
    let handle: FileHandle;
    try {
      handle = await open(path, "r");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return { ...result, outcome: "missing", bytesBefore: 0, bytesAfter: 0 };
      throw err;
    }
    try {
      return await trimOpen(path, handle, settings, result, lockDir, onPhase);
    } finally {
      await handle.close();
    }
  } finally {
    await release();
  }
}

async function trimOpen(
  path: string,
  handle: FileHandle,
  settings: TrimSettings,
  result: TrimResult,
  lockDir: string,
  onPhase: ((phase: TrimPhase) => void | Promise<void>) | undefined,
): Promise<TrimResult> {
  const before = await handle.stat();
  const size = before.size;
  result.bytesBefore = result.bytesAfter = size;
  if (size <= settings.maxBytes) return { ...result, outcome: "under-limit" };
  const buffer = Buffer.allocUnsafe(settings.chunkSize ?? CHUNK);
  const plan = await planTail(handle, size, settings.keepLines, settings.maxBytes, buffer);
  throwIfAbortedMaybe(settings.signal);
  if (settings.archiveKeep !== null && plan.start > 0) {
    result.archive = await archiveHead(handle, plan.start, path, settings.signal);
    await onPhase?.("archived");
  }

  await using temp = await createTempFile(path, { like: before });
  await copyRange(handle, temp.handle, plan.start, size, buffer);
  await temp.sync();
  await onPhase?.("copied");
  throwIfAbortedMaybe(settings.signal);

  const resume = await pauseAppenders(lockDir, settings.drainTimeout);
  try {
    await onPhase?.("paused");
    // No appender writes now. Carry over what reached the file since the snapshot, then swap.
    const current = await stat(path).catch(() => null);
    const now = await handle.stat();
    if (!current || current.ino !== before.ino || current.dev !== before.dev || now.size < size) {
      throw new EventLogError("RECLAIM_ERR_EVENT_LOG_REPLACED", `${path} was replaced or truncated by another program during the trim; left as it is`);
    }
    if (now.size > size) await copyRange(handle, temp.handle, size, now.size, buffer);
    result.salvagedBytes = now.size - size;
    // fsync, rename over the log, fsync the folder.
    await temp.commit(path, { onRenamed: () => onPhase?.("renamed") });
  } finally {
    await resume();
  }
  // The new file is in place and appenders write again. What is left is the kernel releasing the old file
  // when its last descriptor (ours) closes: that takes time in proportion to its size, but holds nobody up.
  await onPhase?.("resumed");
  result.keptBytes = size - plan.start;
  result.linesKept = plan.linesKept;
  result.bytesAfter = result.keptBytes + result.salvagedBytes;
  result.reclaimedBytes = plan.start;
  result.outcome = "rotated";
  if (settings.archiveKeep !== null) result.removedArchives = await pruneArchives(path, settings.archiveKeep);
  return result;
}

function throwIfAbortedMaybe(signal: AbortSignal | undefined): void {
  if (signal) throwIfAborted(signal);
}

async function sizeOf(path: string): Promise<number | null> {
  try {
    return (await stat(path)).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
}
