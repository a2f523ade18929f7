import type { WorktreeResult, WorktreesReport } from "./clean_worktrees.ts";

/**
 * Bytes the way the seed writes them: decimal units, no space, whole numbers from 10 up (`107GB`, `229MB`, `3.4GB`).
 *
 * @example
 * ```ts
 * formatBytes(107e9); // "107GB"
 * ```
 */
export function formatBytes(bytes: number): string {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = bytes;
  let index = 0;
  while (Math.abs(value) >= 1000 && index < units.length - 1) {
    value /= 1000;
    index++;
  }
  return `${index === 0 || value >= 10 ? Math.round(value) : value.toFixed(1)}${units[index]}`;
}

function day(isoTime: string | null): string {
  return isoTime === null ? "never" : isoTime.slice(0, 10);
}

function line(w: WorktreeResult): string {
  const branch = w.branch ?? "(detached)";
  const head = `  ${w.path}  [${branch}]  last activity ${day(w.lastActivity)}`;
  const bytes = `${formatBytes(w.artifactBytesBefore)} → ${formatBytes(w.artifactBytesAfter)}`;
  const lines = [];
  switch (w.state) {
    case "cleaned":
      lines.push(`${head}  cleaned: artifacts ${bytes}`);
      break;
    case "would-clean":
      lines.push(`${head}  would clean: artifacts ${formatBytes(w.artifactBytesBefore)} → ${formatBytes(w.artifacts.filter((a) => a.action === "kept").reduce((s, a) => s + a.bytes, 0))}`);
      break;
    case "broken":
      lines.push(`  ${w.path}  [${branch}]  broken: ${w.reason ?? ""}`);
      break;
    default:
      // active and idle reasons start with their state already ("active: last activity ...")
      lines.push(`${head}  ${w.state === "skipped" ? "skipped: " : ""}${w.reason ?? w.state}  (artifacts ${formatBytes(w.artifactBytesBefore)})`);
  }
  for (const a of w.artifacts) {
    if (a.action === "kept" && (w.state === "cleaned" || w.state === "would-clean" || w.state === "idle")) lines.push(`      kept ${a.path} (${formatBytes(a.bytes)}): ${a.reason ?? ""}`);
  }
  return lines.join("\n");
}

/**
 * The readable report: per repository, one line per worktree (branch, last activity, artifact bytes before → after,
 * or why it was skipped), the artifact folders kept in idle worktrees and why, then the totals line of the seed
 * (`107GB → 34GB`) with the bytes removed and what `statfs` saw come back.
 *
 * @example
 * ```ts
 * process.stdout.write(formatWorktreesReport(report, { dryRun: false }));
 * ```
 */
export function formatWorktreesReport(report: WorktreesReport, options: { dryRun?: boolean } = {}): string {
  const out: string[] = [];
  for (const repo of report.repos) {
    out.push(`${repo.repo}${options.dryRun ? " (dry run: nothing touched)" : ""}`);
    if (repo.error) out.push(`  error: ${repo.error}`);
    for (const w of repo.worktrees) out.push(line(w));
    if (repo.worktrees.length === 0 && !repo.error) out.push("  no linked worktrees");
    const after = options.dryRun
      ? repo.totalBytesBefore - repo.worktrees.flatMap((w) => w.artifacts).filter((a) => a.action === "would-remove").reduce((s, a) => s + a.bytes, 0)
      : repo.totalBytesAfter;
    out.push(`  worktrees: ${formatBytes(repo.totalBytesBefore)} → ${formatBytes(after)}${options.dryRun ? " (would be)" : ""}`);
  }
  const verb = options.dryRun ? "would remove" : "removed";
  out.push(
    `${report.idle} idle, ${report.active} active, ${report.protected} protected, ${report.broken} broken; ` +
      `${verb} ${report.removedByKind?.artifact ?? 0} artifact folder(s), ${formatBytes(report.reclaimedBytes)}` +
      (options.dryRun ? "" : `; statfs: ${formatBytes(report.freedBytes)} freed`) +
      (report.finishedTrash.folders > 0 ? `; finished ${report.finishedTrash.folders} folder(s) an interrupted pass left in the trash` : ""),
  );
  for (const err of report.errors) out.push(`error: ${err}`);
  return `${out.join("\n")}\n`;
}
