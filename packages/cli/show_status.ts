import { formatSize, type RunnerStatus } from "@reclaim/core";
import type { Io } from "./io.ts";

/**
 * `reclaim status [--url U] [--json]`: reads a running daemon's `/status` and prints one row per hook instance
 * (type, state, last outcome and when, duration, next pass, totals), or the JSON as it is. Exit 1 when the daemon
 * cannot be reached, 2 for a bad URL.
 *
 * @example
 * ```ts
 * await showStatus({ url: "http://127.0.0.1:9464" }, io);
 * ```
 */
export async function showStatus(flags: { url?: string; json?: boolean }, io: Io): Promise<number> {
  const base = flags.url ?? `http://${io.env.RECLAIM_HOST || "127.0.0.1"}:${io.env.RECLAIM_PORT || "9464"}`;
  if (!URL.canParse(base) || !/^https?:$/.test(new URL(base).protocol)) {
    io.stderr(`reclaim: --url must be an http(s) URL such as http://127.0.0.1:9464: current value is ${JSON.stringify(base)}\n`);
    return 2;
  }
  const url = new URL("/status", base);
  let body: { hooks: RunnerStatus[]; version?: string; config?: string };
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
    if (!response.ok) throw new Error(`answered ${response.status}`);
    body = (await response.json()) as typeof body;
  } catch (err) {
    const reason = (err as Error & { cause?: Error }).cause?.message ?? (err as Error).message;
    io.stderr(`reclaim: cannot read ${url.href}: ${reason}\n`);
    return 1;
  }
  if (flags.json) {
    io.stdout(`${JSON.stringify(body, null, 2)}\n`);
    return 0;
  }
  io.stdout(`${formatStatusTable(body.hooks, Date.now())}\n`);
  return 0;
}

/**
 * One aligned row per hook instance, for a terminal.
 *
 * @example
 * ```ts
 * formatStatusTable(status.hooks, Date.now());
 * // HOOK     TYPE   STATE      LAST     WHEN     TOOK   NEXT     REMOVED  RECLAIMED
 * // logs-db  sqlite-compactor  scheduled  success  12s ago  40 ms  in 59m   1200     3.2 MiB
 * ```
 */
export function formatStatusTable(hooks: readonly RunnerStatus[], now: number): string {
  const header = ["HOOK", "TYPE", "STATE", "LAST", "WHEN", "TOOK", "NEXT", "REMOVED", "RECLAIMED", "ERROR"];
  const rows = hooks.map((hook) => [
    hook.hook,
    hook.type ?? hook.hook,
    hook.dryRun ? `${hook.state} (dry run)` : hook.state,
    hook.lastRun?.outcome ?? "—",
    hook.lastRun ? relative(Date.parse(hook.lastRun.startedAt), now) : "—",
    hook.lastRun ? `${hook.lastRun.durationMs} ms` : "—",
    hook.nextRunAt ? relative(Date.parse(hook.nextRunAt), now) : "—",
    String(hook.totals.removed),
    formatSize(hook.totals.reclaimedBytes),
    hook.lastRun?.error ?? "",
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  const line = (cells: string[]) => cells.map((cell, column) => cell.padEnd(widths[column]!)).join("  ").trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

function relative(at: number, now: number): string {
  const seconds = Math.round((at - now) / 1000);
  const span = Math.abs(seconds);
  const text = span < 120 ? `${span}s` : span < 7_200 ? `${Math.round(span / 60)}m` : span < 172_800 ? `${Math.round(span / 3_600)}h` : `${Math.round(span / 86_400)}d`;
  return seconds < 0 ? `${text} ago` : `in ${text}`;
}
