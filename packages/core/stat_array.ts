/*
 * lstat without a Stats object per file. Node's own `lstatSync` calls the fs binding, which fills a shared
 * Float64Array (dev, mode, nlink, uid, gid, rdev, blksize, ino, size, blocks, then seconds and nanoseconds of atime,
 * mtime, ctime, birthtime), and then builds a Stats object with four Dates from it: a third of the CPU time per file
 * of a walk. We read the array directly when the binding is there and agrees with `lstatSync` on a probe; otherwise
 * (another Node, the permission model, `process.binding` gone) `lstatSync`'s result is copied into an array of the
 * same layout. Loaded by walk and delete worker threads (`@reclaim/disk`, `@reclaim/worktrees`) through its own entry,
 * `@reclaim/core/stat_array`, so a worker does not load the rest of core (pino, prom-client, zod): keep its imports
 * to Node's own modules.
 *
 * @module
 */
import { lstatSync } from "node:fs";

/** Offsets in the stat array. */
export const DEV = 0, MODE = 1, INO = 7, SIZE = 8, BLOCKS = 9, ATIME = 10, MTIME = 12, CTIME = 14, BIRTHTIME = 16;

/** An `lstat` that fills a shared array (valid until the next call) and the reading of its timestamps. */
export interface StatReader {
  /** The stat array of `path`, or undefined when it does not exist; throws other errors like `lstatSync`. */
  stat(path: string): Float64Array | undefined;
  /** A timestamp (`ATIME`, `MTIME`, `CTIME`, `BIRTHTIME`) in epoch ms, exactly as Node computes `mtimeMs` & co. */
  ms(st: Float64Array, at: number): number;
  /** Whether `stat` reads the fs binding's array (else `lstatSync`). */
  viaBinding: boolean;
}

type BindingLstat = (path: string, bigint: false, req: undefined, throwIfNoEntry: boolean) => Float64Array | undefined;

/**
 * The fastest `lstat` this Node offers that gives the same answers as `lstatSync` (`portable` forces `lstatSync`).
 *
 * @example
 * ```ts
 * const reader = statReader(false);
 * const st = reader.stat("/data/images/a.png");
 * if (st && reader.ms(st, MTIME) < cutoff) unlinkSync("/data/images/a.png");
 * ```
 */
export function statReader(portable: boolean): StatReader {
  return (portable ? undefined : bindingReader()) ?? portableReader();
}

/**
 * `lstatSync(path)` copied into a stat array (`into`, or a new one): the portable reader's way, and the way for a path
 * given as bytes (a name that is not UTF-8), which the binding's reader does not take.
 */
export function lstatArray(path: string | Buffer, into: Float64Array = new Float64Array(18)): Float64Array | undefined {
  const st = lstatSync(path, { throwIfNoEntry: false, bigint: false });
  if (st === undefined) return undefined;
  into[DEV] = st.dev;
  into[MODE] = st.mode;
  into[INO] = st.ino;
  into[SIZE] = st.size;
  into[BLOCKS] = st.blocks;
  into[ATIME] = st.atimeMs;
  into[MTIME] = st.mtimeMs;
  into[CTIME] = st.ctimeMs;
  into[BIRTHTIME] = st.birthtimeMs;
  return into;
}

function portableReader(): StatReader {
  const copy = new Float64Array(18);
  return {
    stat: (path) => lstatArray(path, copy),
    ms: (st, at) => st[at] as number,
    viaBinding: false,
  };
}

function bindingReader(): StatReader | undefined {
  const fromTimespec = (st: Float64Array, at: number): number => (st[at] as number) * 1000 + (st[at + 1] as number) / 1e6;
  try {
    const proc = process as unknown as { permission?: unknown; binding?: (name: string) => { lstat?: unknown } };
    if (proc.permission !== undefined || typeof proc.binding !== "function") return undefined;
    const binding = proc.binding("fs");
    const lstat = binding.lstat as BindingLstat | undefined;
    if (typeof lstat !== "function") return undefined;
    const stat = (path: string): Float64Array | undefined => lstat.call(binding, path, false, undefined, false);
    const expected = lstatSync("/");
    const got = stat("/");
    const agrees =
      got instanceof Float64Array &&
      got[DEV] === expected.dev &&
      got[MODE] === expected.mode &&
      got[INO] === expected.ino &&
      got[SIZE] === expected.size &&
      fromTimespec(got, MTIME) === expected.mtimeMs &&
      stat(`/reclaim-probe-missing-${Math.random()}/x`) === undefined;
    return agrees ? { stat, ms: fromTimespec, viaBinding: true } : undefined;
  } catch {
    return undefined;
  }
}
