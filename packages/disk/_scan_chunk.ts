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
  /** Use `lstatSync` even where the fs binding's stat array is available (tests compare the two). @default false */
  portableStat?: boolean;
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

/** Processes one chunk; `viaBinding` says whether it stats through the fs binding's array (else `lstatSync`). */
export type ChunkProcessor = ((task: ChunkTask) => ChunkResult) & { viaBinding: boolean };

/**
 * Builds the function that processes one chunk. Self-contained: shipped to worker threads as source.
 *
 * @example
 * ```ts
 * const run = makeChunkProcessor(config, fs);
 * const result = run({ dir: "/data/images", names: ["a.png"] });
 * ```
 */
export function makeChunkProcessor(config: ChunkConfig, fs: typeof NodeFs): ChunkProcessor {
  const protectName = config.protectName.map(([source, flags]) => new RegExp(source, flags));
  const protectPath = config.protectPath.map(([source, flags]) => new RegExp(source, flags));
  const referenced = config.referenced ? new Set(config.referenced) : null;
  const { mode, rootLength, rootDev, cutoff, recentAfter, timestamp, dryRun, tempMarker, top } = config;

  // lstat without a Stats object per file. Node's own `lstatSync` calls the fs binding, which fills a shared
  // Float64Array (dev, mode, nlink, uid, gid, rdev, blksize, ino, size, blocks, then seconds and nanoseconds of
  // atime, mtime, ctime, birthtime), and then builds a Stats object with four Dates from it: a third of the CPU
  // time per file. We read the array directly when the binding is there and agrees with `lstatSync` on a probe;
  // otherwise (another Node, the permission model) we copy `lstatSync`'s result into an array of the same layout.
  // Returns undefined for a vanished file; throws other errors like `lstatSync`.
  const DEV = 0, MODE = 1, SIZE = 8, BLOCKS = 9, ATIME = 10, MTIME = 12, CTIME = 14, BIRTHTIME = 16;
  const fromTimespec = (st: Float64Array, at: number): number => (st[at] as number) * 1000 + (st[at + 1] as number) / 1e6;
  const copy = new Float64Array(18);
  const viaStats = (path: string): Float64Array | undefined => {
    const st = fs.lstatSync(path, { throwIfNoEntry: false, bigint: false });
    if (st === undefined) return undefined;
    copy[DEV] = st.dev;
    copy[MODE] = st.mode;
    copy[SIZE] = st.size;
    copy[BLOCKS] = st.blocks;
    copy[ATIME] = st.atimeMs;
    copy[MTIME] = st.mtimeMs;
    copy[CTIME] = st.ctimeMs;
    copy[BIRTHTIME] = st.birthtimeMs;
    return copy;
  };
  /** Statted path to the chosen timestamp in epoch ms, exactly as Node computes `mtimeMs` & co. */
  let msOf = (st: Float64Array, at: number): number => st[at] as number;
  let statOf: (path: string) => Float64Array | undefined = viaStats;
  try {
    const proc = process as unknown as { permission?: unknown; binding?: (name: string) => { lstat?: unknown } };
    const binding = !config.portableStat && proc.permission === undefined && typeof proc.binding === "function" ? proc.binding("fs") : undefined;
    const lstat = binding?.lstat as ((path: string, bigint: false, req: undefined, throwIfNoEntry: boolean) => Float64Array | undefined) | undefined;
    if (typeof lstat === "function") {
      const direct = (path: string): Float64Array | undefined => lstat.call(binding, path, false, undefined, false);
      const expected = fs.lstatSync("/");
      const got = direct("/");
      if (
        got instanceof Float64Array &&
        got[DEV] === expected.dev &&
        got[MODE] === expected.mode &&
        got[7] === expected.ino &&
        got[SIZE] === expected.size &&
        fromTimespec(got, MTIME) === expected.mtimeMs &&
        direct(`/reclaim-probe-missing-${Math.random()}/x`) === undefined
      ) {
        statOf = direct;
        msOf = fromTimespec;
      }
    }
  } catch {
    statOf = viaStats;
    msOf = (st, at) => st[at] as number;
  }
  const S_IFMT = 0o170000, S_IFDIR = 0o040000, S_IFREG = 0o100000, S_IFLNK = 0o120000;

  const processChunk = (task: ChunkTask): ChunkResult => {
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
    // Root-relative prefix of the chunk's files ("" in the root itself) and, for the audit, their top-level group.
    const relPrefix = task.dir.length > rootLength ? prefix.slice(rootLength + 1) : "";
    const group = relPrefix === "" ? "." : relPrefix.slice(0, relPrefix.indexOf("/"));
    const largest = result.largest as Array<[string, number]>;
    let groupBytes = 0;
    let groupFiles = 0;
    const names = task.names;
    for (let i = 0; i < names.length; i++) {
      const name = names[i] as string;
      const path = prefix + name;
      let st: Float64Array | undefined;
      try {
        st = statOf(path);
      } catch (err) {
        result.errors++;
        if (result.errorSamples.length < 5) result.errorSamples.push(`lstat ${path}: ${(err as Error).message}`);
        continue;
      }
      if (st === undefined) {
        skipped.vanished++;
        continue;
      }
      if (st[DEV] !== rootDev) {
        skipped.otherFilesystem++;
        continue;
      }
      const type = (st[MODE] as number) & S_IFMT;
      if (type === S_IFDIR) {
        result.dirs.push(path);
        continue;
      }
      if (type === S_IFLNK) {
        skipped.symlink++;
        continue;
      }
      if (type !== S_IFREG) {
        skipped.special++;
        continue;
      }
      const size = st[SIZE] as number;
      if (mode === "audit") {
        groupBytes += size;
        groupFiles++;
        if (largest.length < top || size > (largest[largest.length - 1] as [string, number])[1]) {
          let at = largest.length;
          while (at > 0 && (largest[at - 1] as [string, number])[1] < size) at--;
          largest.splice(at, 0, [relPrefix + name, size]);
          if (largest.length > top) largest.pop();
        }
        continue;
      }
      const mtime = msOf(st, MTIME);
      if (name.includes(tempMarker)) {
        skipped.temp++;
        continue;
      }
      if (mtime > recentAfter) {
        skipped.recent++;
        continue;
      }
      let ts = mtime;
      if (timestamp === 1) ts = msOf(st, CTIME);
      else if (timestamp === 2) ts = msOf(st, ATIME);
      else if (timestamp === 3) {
        const birth = msOf(st, BIRTHTIME);
        if (birth > 0) ts = birth;
      }
      if (!(ts < cutoff)) {
        skipped.tooYoung++;
        continue;
      }
      let isProtected = false;
      for (let p = 0; p < protectName.length && !isProtected; p++) isProtected = (protectName[p] as RegExp).test(name);
      for (let p = 0; p < protectPath.length && !isProtected; p++) isProtected = (protectPath[p] as RegExp).test(relPrefix + name);
      if (isProtected) {
        skipped.protected++;
        continue;
      }
      if (mode === "collect") {
        const candidates = result.candidates as NonNullable<ChunkResult["candidates"]>;
        candidates.paths.push(path);
        candidates.ts.push(ts);
        candidates.alloc.push((st[BLOCKS] as number) * 512);
        candidates.size.push(size);
        candidates.mtime.push(mtime);
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
      result.bytes += size;
      if (referenced !== null && referenced.has(relPrefix + name)) result.deletedReferenced.push(relPrefix + name);
    }
    if (mode === "audit" && groupFiles > 0) {
      (result.groups as Record<string, [number, number]>)[group] = [groupBytes, groupFiles];
      result.files = groupFiles;
      result.bytes = groupBytes;
    }
    return result;
  };
  return Object.assign(processChunk, { viaBinding: statOf !== viaStats });
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
