import { lstat, realpath } from "node:fs/promises";
import { formatSize, type Logger } from "@reclaim/core";
import { defaultScanThreads, scanTrees } from "./_scan.ts";
import { chunkConfig } from "./_scan_config.ts";

/** Options of {@link auditDir}. */
export interface AuditOptions {
  /** How many of the largest files to list. @default 10 */
  top?: number;
  /** Worker threads besides the calling thread (which works too); 0 walks on the calling thread alone. @default min(3, available cores - 1) */
  threads?: number;
  signal?: AbortSignal;
}

/** What fills a folder. */
export interface AuditResult {
  /** Real path of the audited folder. */
  root: string;
  /** Sum of the apparent sizes (`st_size`) of the regular files. */
  totalBytes: number;
  files: number;
  directories: number;
  /** Bytes and files per top-level entry of the root, largest first; `.` holds the files directly in the root. */
  byFolder: Array<{ name: string; bytes: number; files: number }>;
  /** The largest files, root-relative, largest first. */
  largest: Array<{ path: string; bytes: number }>;
  /** Entries not counted: symlinks (never followed), other filesystems (mounts inside the root), errors. */
  skipped: { symlinks: number; otherFilesystems: number; errors: number };
  durationMs: number;
}

/**
 * Walks `root` (never following symlinks, staying on its filesystem) and reports total bytes, file count, bytes
 * per top-level folder and the `top` largest files. Parallel over worker threads like the sweeps.
 *
 * @example
 * ```ts
 * const audit = await auditDir("/app/.data", { top: 10 });
 * console.log(formatAudit(audit));
 * ```
 */
export async function auditDir(root: string, options: AuditOptions = {}): Promise<AuditResult> {
  const started = performance.now();
  const top = options.top ?? 10;
  const realRoot = await realpath(root);
  const rootStat = await lstat(realRoot);
  if (!rootStat.isDirectory()) throw Object.assign(new Error(`${root} is not a directory`), { code: "ENOTDIR" });
  const groups = new Map<string, { bytes: number; files: number }>();
  let largest: Array<[string, number]> = [];
  const totals = await scanTrees(
    [realRoot],
    chunkConfig("audit", { root: realRoot, rootDev: rootStat.dev, top }),
    {
      threads: options.threads ?? defaultScanThreads(),
      signal: options.signal,
      onResult(result) {
        for (const [name, [bytes, files]] of Object.entries(result.groups ?? {})) {
          const group = groups.get(name);
          if (group) {
            group.bytes += bytes;
            group.files += files;
          } else groups.set(name, { bytes, files });
        }
        if (result.largest && result.largest.length > 0) {
          largest = largest.concat(result.largest).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, top);
        }
      },
    },
  );
  return {
    root: realRoot,
    totalBytes: totals.bytes,
    files: totals.files,
    directories: totals.directories,
    byFolder: [...groups].map(([name, g]) => ({ name, bytes: g.bytes, files: g.files })).sort((a, b) => b.bytes - a.bytes || (a.name < b.name ? -1 : 1)),
    largest: largest.map(([path, bytes]) => ({ path, bytes })),
    skipped: { symlinks: totals.skipped.symlink, otherFilesystems: totals.skipped.otherFilesystem, errors: totals.errors },
    durationMs: Math.round(performance.now() - started),
  };
}

/**
 * Renders an audit as a plain-text table for people (sizes in KiB/MiB/GiB).
 *
 * @example
 * ```ts
 * console.log(formatAudit(await auditDir(".data")));
 * // /app/.data: 1.2 GiB in 48210 files
 * //
 * // FOLDER        SIZE      FILES  SHARE
 * // images     900.0 MiB   40211  73.2%
 * // ...
 * ```
 */
export function formatAudit(result: AuditResult): string {
  const lines = [`${result.root}: ${formatSize(result.totalBytes)} in ${result.files} files`, ""];
  const share = (bytes: number): string => (result.totalBytes > 0 ? `${((bytes / result.totalBytes) * 100).toFixed(1)}%` : "-");
  lines.push(
    ...table(
      ["FOLDER", "SIZE", "FILES", "SHARE"],
      result.byFolder.map((g) => [g.name, formatSize(g.bytes), String(g.files), share(g.bytes)]),
    ),
  );
  if (result.largest.length > 0) {
    lines.push("", ...table(["LARGEST FILES", "SIZE"], result.largest.map((f) => [f.path, formatSize(f.bytes)])));
  }
  const { symlinks, otherFilesystems, errors } = result.skipped;
  if (symlinks + otherFilesystems + errors > 0) {
    lines.push("", `not counted: ${symlinks} symlinks (not followed), ${otherFilesystems} entries on other filesystems, ${errors} errors`);
  }
  return lines.join("\n");
}

/** Left-aligns the first column, right-aligns the others. */
function table(header: string[], rows: string[][]): string[] {
  const all = [header, ...rows];
  const widths = header.map((_, col) => Math.max(...all.map((row) => (row[col] ?? "").length)));
  return all.map((row) => row.map((cell, col) => (col === 0 ? cell.padEnd(widths[col]!) : cell.padStart(widths[col]!))).join("  ").trimEnd());
}

/**
 * Audits `root` and logs one structured `disk-audit` line (what the daemon does at start, so the logs say what
 * fills the disk after every restart). Never throws: a failed audit is logged as a warning and returns `undefined`.
 *
 * @example
 * ```ts
 * await logDiskAudit("/app/.data", logger, { top: 10 });
 * // {"level":30,"event":"disk-audit","root":"/app/.data","totalBytes":...,"byFolder":[...],"largest":[...],"msg":"disk-audit"}
 * ```
 */
export async function logDiskAudit(root: string, logger: Logger, options: AuditOptions = {}): Promise<AuditResult | undefined> {
  try {
    const result = await auditDir(root, options);
    logger.info(
      {
        event: "disk-audit",
        root: result.root,
        totalBytes: result.totalBytes,
        files: result.files,
        byFolder: result.byFolder,
        largest: result.largest,
        skipped: result.skipped,
        durationMs: result.durationMs,
      },
      "disk-audit",
    );
    return result;
  } catch (err) {
    logger.warn({ event: "disk-audit", root, err }, "disk-audit failed");
    return undefined;
  }
}
