/*
 * What a disk walk does and by which rules: the one place a walk's settings are built (`chunkConfig`). The result is
 * plain data, the same on the calling thread and on every worker thread (it travels as `workerData`).
 */
import { TEMP_MARKER } from "@reclaim/core";

/** What a walk does with each eligible file: delete it (age sweep), collect it (pressure sweep) or count it (audit). */
export type ScanMode = "age" | "collect" | "audit";

/** Which timestamp makes a file old (`birthtime` falls back to mtime where the filesystem has none). */
export type TimestampField = "mtime" | "ctime" | "atime" | "birthtime";

/** Protect globs compiled to regular expressions (`source`, `flags`), as `compileProtect()` gives them. */
export interface ProtectPatterns {
  /** Tested on the file's name. */
  protectName: ReadonlyArray<readonly [source: string, flags: string]>;
  /** Tested on the root-relative path. */
  protectPath: ReadonlyArray<readonly [source: string, flags: string]>;
}

/** Per-walk settings, identical on every thread (plain data: it is cloned into the workers). Times are epoch ms. */
export interface ChunkConfig {
  mode: ScanMode;
  /** Real path of the root; `path.slice(root.length + 1)` is the root-relative path. */
  root: string;
  /** `st_dev` of the root: anything on another filesystem is skipped and never descended. */
  rootDev: number;
  /** Age and collect: files whose chosen timestamp is before this are eligible. */
  cutoff: number;
  /** Age and collect: files modified (mtime) after this are still being written, and skipped. */
  recentAfter: number;
  timestamp: TimestampField;
  /** Age: report what would be deleted, delete nothing. */
  dryRun: boolean;
  protectName: Array<[source: string, flags: string]>;
  protectPath: Array<[source: string, flags: string]>;
  /** Names containing this are reclaim temp files: skipped. */
  tempMarker: string;
  /** Age: root-relative paths referenced from JSON stores; deleting one is reported back. */
  referenced: string[] | null;
  /** Audit: how many largest files each chunk reports. */
  top: number;
  /** Use `lstatSync` even where the fs binding's stat array is available (tests compare the two). */
  portableStat: boolean;
}

/** Where a walk runs and which rules apply; {@link chunkConfig} derives the rest. */
export interface WalkSettings {
  /** Real path of the root (no symlink in it). */
  root: string;
  /** `st_dev` of the root. */
  rootDev: number;
  /** When the pass started, epoch ms. @default Date.now() */
  now?: number | undefined;
  /** Age and collect: only files whose timestamp is more than this many ms old are eligible. @default 0 */
  minAge?: number | undefined;
  /** Age and collect: files modified within this many ms are never taken. @default 0 */
  recentlyModified?: number | undefined;
  /** @default "mtime" */
  timestamp?: TimestampField | undefined;
  /** @default nothing protected */
  protect?: ProtectPatterns | undefined;
  /** @default false */
  dryRun?: boolean | undefined;
  /** Age: root-relative paths referenced from JSON stores. @default null */
  referenced?: Iterable<string> | null | undefined;
  /** Audit: largest files to report. @default 10 */
  top?: number | undefined;
  /** @default false */
  portableStat?: boolean | undefined;
}

/**
 * Builds the settings of one walk in `mode` from where it runs and the rules that apply (the same object goes to
 * every thread of the walk).
 *
 * @example
 * ```ts
 * const config = chunkConfig("age", { root: plan.root, rootDev: plan.rootDev, now, minAge: 7 * 86_400_000, recentlyModified: 60_000 });
 * await scanTrees(plan.mediaDirs, config, { threads: 1 });
 * ```
 */
export function chunkConfig(mode: ScanMode, settings: WalkSettings): ChunkConfig {
  const now = settings.now ?? Date.now();
  const protect = settings.protect ?? { protectName: [], protectPath: [] };
  return {
    mode,
    root: settings.root,
    rootDev: settings.rootDev,
    cutoff: now - (settings.minAge ?? 0),
    recentAfter: now - (settings.recentlyModified ?? 0),
    timestamp: settings.timestamp ?? "mtime",
    dryRun: settings.dryRun ?? false,
    protectName: protect.protectName.map(([source, flags]) => [source, flags]),
    protectPath: protect.protectPath.map(([source, flags]) => [source, flags]),
    tempMarker: TEMP_MARKER,
    referenced: settings.referenced ? [...settings.referenced] : null,
    top: settings.top ?? 10,
    portableStat: settings.portableStat ?? false,
  };
}
