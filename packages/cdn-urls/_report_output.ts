import { createRequire } from "node:module";
import type { Writable } from "node:stream";
import type cliProgressModule from "cli-progress";
import type { BackfillProgress, BackfillReport } from "./backfill.ts";
import type { VerifyColumn } from "./verify.ts";

/** Formats rows as a plain table with aligned columns. */
export function formatTable(header: readonly string[], rows: ReadonlyArray<readonly (string | number)[]>): string {
  const cells = [header, ...rows.map((row) => row.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? "").length)));
  return cells.map((row) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join("  ").trimEnd()).join("\n") + "\n";
}

/** The summary table at the end of a backfill or dry run (with samples of before → after in a dry run). */
export function formatBackfill(report: BackfillReport): string {
  const table = formatTable(
    ["column", "kind", "scanned", report.dryRun ? "would change" : "rewritten", "values", "total", "batches", "retries", "seconds"],
    report.columns.map((c) => [c.column, c.kind, c.scanned, c.rewritten, c.values, c.rewrittenTotal, c.batches, c.retries, (c.durationMs / 1000).toFixed(1)]),
  );
  let out = table;
  if (report.dryRun) {
    for (const column of report.columns) {
      if (column.samples.length === 0) continue;
      out += `\n${column.column}:\n`;
      for (const sample of column.samples) out += `  ${sample.key}: ${sample.before}\n  ${" ".repeat(sample.key.length)}  → ${sample.after}\n`;
    }
    out += "\ndry run: nothing was changed\n";
  }
  return out;
}

/** The verify table. */
export function formatVerify(columns: readonly VerifyColumn[]): string {
  return formatTable(["column", "scanned", "rows with old hosts", "values"], columns.map((c) => [c.column, c.scanned, c.rows, c.values]));
}

/** Reports progress: a bar on a terminal (cli-progress), else a log line at most every `intervalMs`. */
export interface ProgressReporter {
  update(progress: BackfillProgress): void;
  stop(): void;
}

/**
 * A progress bar (rows done, estimated total, rate, ETA) drawn by cli-progress on `stream` when `tty`, otherwise
 * one line per column start and at most one every `intervalMs` through `log`.
 */
export function progressReporter(options: { tty: boolean; stream: Writable; log: (line: string) => void; intervalMs?: number; now?: () => number }): ProgressReporter {
  const now = options.now ?? Date.now;
  if (options.tty) {
    // Loaded on a terminal only (~7 MiB resident otherwise spent by every process with the hook).
    const cliProgress = createRequire(import.meta.url)("cli-progress") as typeof cliProgressModule;
    const bar = new cliProgress.SingleBar(
      {
        stream: options.stream,
        format: "{column} |{bar}| {value}/{total} rows | {rewritten} rewritten | {rate} rows/s | ETA {eta_formatted}",
        hideCursor: true,
        noTTYOutput: true,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
    let column: string | undefined;
    let started = now();
    return {
      update(progress) {
        const payload = { column: progress.column, rewritten: progress.rewritten, rate: Math.round(progress.done / Math.max(0.001, (now() - started) / 1000)) };
        const total = Math.max(progress.estimated, progress.done, 1);
        if (column !== progress.column) {
          if (column !== undefined) bar.stop();
          column = progress.column;
          started = now();
          bar.start(total, progress.done, { ...payload, rate: 0 });
        } else {
          bar.setTotal(total);
          bar.update(progress.done, payload);
        }
      },
      stop: () => bar.stop(),
    };
  }
  let last = 0;
  let column: string | undefined;
  let started = now();
  return {
    update(progress) {
      const t = now();
      if (column === progress.column && t - last < (options.intervalMs ?? 2_000)) return;
      if (column !== progress.column) started = t;
      column = progress.column;
      last = t;
      const rate = Math.round(progress.done / Math.max(0.001, (t - started) / 1000));
      const pct = progress.estimated > 0 ? ` (~${Math.min(100, Math.round((100 * progress.done) / progress.estimated))} %)` : "";
      options.log(`cdn-urls: ${progress.column}: ${progress.done} of ~${Math.round(progress.estimated)} rows${pct}, ${progress.rewritten} rewritten, ${rate} rows/s, batch ${progress.batchSize}\n`);
    },
    stop() {},
  };
}
