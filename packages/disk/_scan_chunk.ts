/*
 * The per-file work of every disk walk: lstat each name of a chunk, sort out what is not a regular file on the
 * root's filesystem, then one function per mode: delete (age sweep), collect (pressure sweep) or count (audit).
 * Runs on the calling thread and, through `_scan_worker.ts`, on worker threads: it is an ordinary module, but
 * everything it imports is loaded by every worker at every walk, so keep to Node's own modules and small private
 * files (`@reclaim/core` pulls in pino, prom-client and zod: that start-up would show in every sweep).
 */
import { unlinkSync } from "node:fs";
import type { ChunkConfig, ScanMode } from "./_scan_config.ts";
import { ATIME, BIRTHTIME, BLOCKS, CTIME, DEV, MODE, MTIME, SIZE, statReader, type StatReader } from "@reclaim/core/stat_array";

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
  /** Age mode: root-relative paths of deleted files that JSON stores reference. */
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

/** A walk's settings made ready for the per-file loop. */
interface Walk {
  config: ChunkConfig;
  reader: StatReader;
  /** Offset of the chosen timestamp in the stat array. */
  timestampAt: number;
  protectName: RegExp[];
  protectPath: RegExp[];
  referenced: Set<string> | null;
}

/** Where the chunk's files are: their directory with a trailing slash, and its root-relative form ("" in the root). */
interface ChunkPlace {
  prefix: string;
  relPrefix: string;
}

const S_IFMT = 0o170000, S_IFDIR = 0o040000, S_IFREG = 0o100000, S_IFLNK = 0o120000;
const TIMESTAMP_AT = { mtime: MTIME, ctime: CTIME, atime: ATIME, birthtime: BIRTHTIME } as const;
const BY_MODE: Record<ScanMode, (walk: Walk, task: ChunkTask) => ChunkResult> = { age: ageChunk, collect: collectChunk, audit: auditChunk };

/**
 * Builds the function that processes one chunk of a walk in `config.mode`.
 *
 * @example
 * ```ts
 * const run = makeChunkProcessor(chunkConfig("audit", { root, rootDev }));
 * const result = run({ dir: `${root}/images`, names: ["a.png"] });
 * ```
 */
export function makeChunkProcessor(config: ChunkConfig): ChunkProcessor {
  const walk: Walk = {
    config,
    reader: statReader(config.portableStat),
    timestampAt: TIMESTAMP_AT[config.timestamp],
    protectName: config.protectName.map(([source, flags]) => new RegExp(source, flags)),
    protectPath: config.protectPath.map(([source, flags]) => new RegExp(source, flags)),
    referenced: config.referenced ? new Set(config.referenced) : null,
  };
  const byMode = BY_MODE[config.mode];
  return Object.assign((task: ChunkTask) => byMode(walk, task), { viaBinding: walk.reader.viaBinding });
}

/** Age sweep: deletes every eligible file (unless a dry run), noting those the JSON stores reference. */
function ageChunk(walk: Walk, task: ChunkTask): ChunkResult {
  const result = emptyResult();
  const place = placeOf(walk, task);
  const { dryRun } = walk.config;
  for (const name of task.names) {
    const path = place.prefix + name;
    const st = regularFile(walk, path, result);
    if (st === undefined || eligibleTimestamp(walk, st, name, place, result.skipped) === undefined) continue;
    const size = st[SIZE] as number;
    if (!dryRun) {
      try {
        unlinkSync(path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") result.skipped.vanished++;
        else fail(result, `unlink ${path}`, err);
        continue;
      }
    }
    result.files++;
    result.bytes += size;
    if (walk.referenced !== null && walk.referenced.has(place.relPrefix + name)) result.deletedReferenced.push(place.relPrefix + name);
  }
  return result;
}

/** Pressure sweep: collects every eligible file (path, timestamp, allocated and apparent size, mtime). */
function collectChunk(walk: Walk, task: ChunkTask): ChunkResult {
  const result = emptyResult();
  const candidates = { paths: [] as string[], ts: [] as number[], alloc: [] as number[], size: [] as number[], mtime: [] as number[] };
  result.candidates = candidates;
  const place = placeOf(walk, task);
  for (const name of task.names) {
    const path = place.prefix + name;
    const st = regularFile(walk, path, result);
    if (st === undefined) continue;
    const ts = eligibleTimestamp(walk, st, name, place, result.skipped);
    if (ts === undefined) continue;
    candidates.paths.push(path);
    candidates.ts.push(ts);
    candidates.alloc.push((st[BLOCKS] as number) * 512);
    candidates.size.push(st[SIZE] as number);
    candidates.mtime.push(walk.reader.ms(st, MTIME));
  }
  return result;
}

/** Audit: counts every regular file, by top-level folder, and keeps the chunk's `top` largest. */
function auditChunk(walk: Walk, task: ChunkTask): ChunkResult {
  const result = emptyResult();
  const largest: Array<[string, number]> = [];
  result.largest = largest;
  result.groups = {};
  const place = placeOf(walk, task);
  const { top } = walk.config;
  for (const name of task.names) {
    const st = regularFile(walk, place.prefix + name, result);
    if (st === undefined) continue;
    const size = st[SIZE] as number;
    result.files++;
    result.bytes += size;
    if (largest.length < top || size > (largest[largest.length - 1] as [string, number])[1]) {
      let at = largest.length;
      while (at > 0 && (largest[at - 1] as [string, number])[1] < size) at--;
      largest.splice(at, 0, [place.relPrefix + name, size]);
      if (largest.length > top) largest.pop();
    }
  }
  // Every file of a chunk is in one directory, so in one top-level group.
  if (result.files > 0) {
    const group = place.relPrefix === "" ? "." : place.relPrefix.slice(0, place.relPrefix.indexOf("/"));
    result.groups[group] = [result.bytes, result.files];
  }
  return result;
}

/**
 * The stat array of `path` when it is a regular file on the root's filesystem; otherwise undefined, after queueing a
 * directory in `result.dirs` or counting why the entry was left alone.
 */
function regularFile(walk: Walk, path: string, result: ChunkResult): Float64Array | undefined {
  let st: Float64Array | undefined;
  try {
    st = walk.reader.stat(path);
  } catch (err) {
    fail(result, `lstat ${path}`, err);
    return undefined;
  }
  if (st === undefined) {
    result.skipped.vanished++;
    return undefined;
  }
  if (st[DEV] !== walk.config.rootDev) {
    result.skipped.otherFilesystem++;
    return undefined;
  }
  const type = (st[MODE] as number) & S_IFMT;
  if (type === S_IFREG) return st;
  if (type === S_IFDIR) result.dirs.push(path);
  else if (type === S_IFLNK) result.skipped.symlink++;
  else result.skipped.special++;
  return undefined;
}

/**
 * The chosen timestamp of a regular file the sweeps may take, or undefined after counting why not: a reclaim temp
 * file, modified within `recentlyModified`, not older than the cut-off, or protected.
 */
function eligibleTimestamp(walk: Walk, st: Float64Array, name: string, place: ChunkPlace, skipped: SkipCounts): number | undefined {
  const { config, reader } = walk;
  if (name.includes(config.tempMarker)) {
    skipped.temp++;
    return undefined;
  }
  const mtime = reader.ms(st, MTIME);
  if (mtime > config.recentAfter) {
    skipped.recent++;
    return undefined;
  }
  let ts = mtime;
  if (walk.timestampAt !== MTIME) {
    const chosen = reader.ms(st, walk.timestampAt);
    // No birth time on this filesystem (0): mtime stands in.
    if (walk.timestampAt !== BIRTHTIME || chosen > 0) ts = chosen;
  }
  if (!(ts < config.cutoff)) {
    skipped.tooYoung++;
    return undefined;
  }
  if (isProtected(walk, name, place)) {
    skipped.protected++;
    return undefined;
  }
  return ts;
}

function isProtected(walk: Walk, name: string, place: ChunkPlace): boolean {
  for (const re of walk.protectName) if (re.test(name)) return true;
  if (walk.protectPath.length === 0) return false;
  const rel = place.relPrefix + name;
  for (const re of walk.protectPath) if (re.test(rel)) return true;
  return false;
}

function placeOf(walk: Walk, task: ChunkTask): ChunkPlace {
  const prefix = `${task.dir}/`;
  const rootLength = walk.config.root.length;
  return { prefix, relPrefix: task.dir.length > rootLength ? prefix.slice(rootLength + 1) : "" };
}

function emptyResult(): ChunkResult {
  return {
    dirs: [],
    files: 0,
    bytes: 0,
    skipped: { symlink: 0, otherFilesystem: 0, protected: 0, recent: 0, temp: 0, vanished: 0, tooYoung: 0, special: 0 },
    errors: 0,
    errorSamples: [],
    deletedReferenced: [],
    candidates: null,
    groups: null,
    largest: null,
  };
}

function fail(result: ChunkResult, what: string, err: unknown): void {
  result.errors++;
  if (result.errorSamples.length < 5) result.errorSamples.push(`${what}: ${(err as Error).message}`);
}
