/*
 * The per-file work of every disk walk: lstat each name of a chunk, apply the safety rules, then delete (age
 * sweep), collect (pressure sweep) or count (audit). It runs on worker threads, so `makeChunkProcessor` and
 * `chunkWorkerMain` are shipped to them as source text (`Function.prototype.toString`): they must stay
 * self-contained — no imports, no references to anything outside their own bodies except globals.
 */
import type * as NodeFs from "node:fs";

/** What a walk does with each eligible file. */
export type ScanMode = "age" | "collect" | "audit";

/** Per-walk settings, identical on every thread. Numbers are epoch milliseconds. */
export interface ChunkConfig {
  mode: ScanMode;
  /** Length of the real root path; `path.slice(rootLength + 1)` is the root-relative path. */
  rootLength: number;
  /** `st_dev` of the root: anything on another filesystem is skipped and never descended. */
  rootDev: number;
  /** Files whose chosen timestamp is before this are eligible (age and collect modes). */
  cutoff: number;
  /** Files modified (mtime) after this are still being written: skipped. */
  recentAfter: number;
  /** 0 mtime, 1 ctime, 2 atime, 3 birthtime (mtime where the filesystem has no birth time). */
  timestamp: 0 | 1 | 2 | 3;
  dryRun: boolean;
  /** Protect globs compiled to regular expressions: tested on the base name. */
  protectName: Array<[source: string, flags: string]>;
  /** Protect globs with a slash: tested on the root-relative path. */
  protectPath: Array<[source: string, flags: string]>;
  /** Names containing this are reclaim temp files: skipped. */
  tempMarker: string;
  /** Root-relative paths referenced from JSON stores: deleting one is reported back (age mode). */
  referenced: string[] | null;
  /** How many largest files each chunk reports (audit mode). */
  top: number;
}

/** A batch of names in one directory. */
export interface ChunkTask {
  dir: string;
  names: string[];
}

/** Why files were left alone. */
export interface SkipCounts {
  symlink: number;
  otherFilesystem: number;
  protected: number;
  recent: number;
  temp: number;
  vanished: number;
  tooYoung: number;
  special: number;
}

/** What one chunk found and did. */
export interface ChunkResult {
  /** Subdirectories on the root's filesystem, to be walked next. */
  dirs: string[];
  /** Files deleted (age), collected (collect) or counted (audit). */
  files: number;
  /** Their apparent size (`st_size`). */
  bytes: number;
  skipped: SkipCounts;
  errors: number;
  errorSamples: string[];
  /** Root-relative paths of deleted files that JSON stores reference (age mode). */
  deletedReferenced: string[];
  /** Collect mode: candidates as parallel arrays. */
  candidates: { paths: string[]; ts: number[]; alloc: number[]; size: number[]; mtime: number[] } | null;
  /** Audit mode: bytes and files per top-level entry (`.` for files directly in the root). */
  groups: Record<string, [bytes: number, files: number]> | null;
  /** Audit mode: the largest files of the chunk, root-relative, largest first. */
  largest: Array<[path: string, bytes: number]> | null;
}

/**
 * Builds the function that processes one chunk. Self-contained: shipped to worker threads as source.
 *
 * @example
 * ```ts
 * const run = makeChunkProcessor(config, fs);
 * const result = run({ dir: "/data/images", names: ["a.png"] });
 * ```
 */
export function makeChunkProcessor(config: ChunkConfig, fs: typeof NodeFs): (task: ChunkTask) => ChunkResult {
  const protectName = config.protectName.map(([source, flags]) => new RegExp(source, flags));
  const protectPath = config.protectPath.map(([source, flags]) => new RegExp(source, flags));
  const referenced = config.referenced ? new Set(config.referenced) : null;
  const { mode, rootLength, rootDev, cutoff, recentAfter, timestamp, dryRun, tempMarker, top } = config;
  const lstatOptions = { throwIfNoEntry: false, bigint: false } as const;

  return function processChunk(task: ChunkTask): ChunkResult {
    const skipped = { symlink: 0, otherFilesystem: 0, protected: 0, recent: 0, temp: 0, vanished: 0, tooYoung: 0, special: 0 };
    const result: ChunkResult = {
      dirs: [],
      files: 0,
      bytes: 0,
      skipped,
      errors: 0,
      errorSamples: [],
      deletedReferenced: [],
      candidates: mode === "collect" ? { paths: [], ts: [], alloc: [], size: [], mtime: [] } : null,
      groups: mode === "audit" ? {} : null,
      largest: mode === "audit" ? [] : null,
    };
    const prefix = task.dir + "/";
    const names = task.names;
    for (let i = 0; i < names.length; i++) {
      const name = names[i] as string;
      const path = prefix + name;
      let st: NodeFs.Stats | undefined;
      try {
        st = fs.lstatSync(path, lstatOptions);
      } catch (err) {
        result.errors++;
        if (result.errorSamples.length < 5) result.errorSamples.push(`lstat ${path}: ${(err as Error).message}`);
        continue;
      }
      if (st === undefined) {
        skipped.vanished++;
        continue;
      }
      if (st.dev !== rootDev) {
        skipped.otherFilesystem++;
        continue;
      }
      if (st.isDirectory()) {
        result.dirs.push(path);
        continue;
      }
      if (st.isSymbolicLink()) {
        skipped.symlink++;
        continue;
      }
      if (!st.isFile()) {
        skipped.special++;
        continue;
      }
      if (mode === "audit") {
        const rel = path.slice(rootLength + 1);
        const slash = rel.indexOf("/");
        const group = slash < 0 ? "." : rel.slice(0, slash);
        const groups = result.groups as Record<string, [number, number]>;
        const entry = groups[group];
        if (entry) {
          entry[0] += st.size;
          entry[1]++;
        } else groups[group] = [st.size, 1];
        result.files++;
        result.bytes += st.size;
        const largest = result.largest as Array<[string, number]>;
        if (largest.length < top || st.size > (largest[largest.length - 1] as [string, number])[1]) {
          let at = largest.length;
          while (at > 0 && (largest[at - 1] as [string, number])[1] < st.size) at--;
          largest.splice(at, 0, [rel, st.size]);
          if (largest.length > top) largest.pop();
        }
        continue;
      }
      if (name.includes(tempMarker)) {
        skipped.temp++;
        continue;
      }
      if (st.mtimeMs > recentAfter) {
        skipped.recent++;
        continue;
      }
      const ts = timestamp === 0 ? st.mtimeMs : timestamp === 1 ? st.ctimeMs : timestamp === 2 ? st.atimeMs : st.birthtimeMs > 0 ? st.birthtimeMs : st.mtimeMs;
      if (!(ts < cutoff)) {
        skipped.tooYoung++;
        continue;
      }
      let isProtected = false;
      for (let p = 0; p < protectName.length && !isProtected; p++) isProtected = (protectName[p] as RegExp).test(name);
      if (!isProtected && protectPath.length > 0) {
        const rel = path.slice(rootLength + 1);
        for (let p = 0; p < protectPath.length && !isProtected; p++) isProtected = (protectPath[p] as RegExp).test(rel);
      }
      if (isProtected) {
        skipped.protected++;
        continue;
      }
      if (mode === "collect") {
        const candidates = result.candidates as NonNullable<ChunkResult["candidates"]>;
        candidates.paths.push(path);
        candidates.ts.push(ts);
        candidates.alloc.push(st.blocks * 512);
        candidates.size.push(st.size);
        candidates.mtime.push(st.mtimeMs);
        continue;
      }
      if (!dryRun) {
        try {
          fs.unlinkSync(path);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === "ENOENT") {
            skipped.vanished++;
          } else {
            result.errors++;
            if (result.errorSamples.length < 5) result.errorSamples.push(`unlink ${path}: ${(err as Error).message}`);
          }
          continue;
        }
      }
      result.files++;
      result.bytes += st.size;
      if (referenced !== null) {
        const rel = path.slice(rootLength + 1);
        if (referenced.has(rel)) result.deletedReferenced.push(rel);
      }
    }
    return result;
  };
}

/**
 * Entry point of a scan worker thread: builds the processor from `workerData` and answers each chunk message.
 * Self-contained: shipped as source.
 *
 * @example
 * ```ts
 * new Worker(`${makeChunkProcessor}\n(${chunkWorkerMain})()`, { eval: true, workerData: config });
 * ```
 */
export function chunkWorkerMain(): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const threads = require("node:worker_threads") as typeof import("node:worker_threads");
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const handle = makeChunkProcessor(threads.workerData as ChunkConfig, require("node:fs") as typeof NodeFs);
  const port = threads.parentPort as import("node:worker_threads").MessagePort;
  port.on("message", (task: ChunkTask) => port.postMessage(handle(task)));
}

/** The source text a scan worker runs. */
export const CHUNK_WORKER_SOURCE: string = `"use strict";\n${makeChunkProcessor.toString()}\n(${chunkWorkerMain.toString()})();\n`;
