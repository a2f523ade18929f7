import type { Hook, HookIdentity, ResourceFigure, RunReport } from "@reclaim/core";
import { parseOptions } from "@reclaim/core";
import type { Pool } from "pg";
import { Registry } from "prom-client";
import type { z } from "zod";
import { cdnUrlsMetrics } from "./_metrics.ts";
import { ensureProgressTable, finishProgress, loadProgress, progressRelation } from "./_progress.ts";
import { candidatePattern, groupByTable, resolveColumns, type ColumnTarget } from "./_sql.ts";
import { replicaLagOf, snapshotXmin, sweepTable, type SweepResult } from "./_engine.ts";
import { CDN_URLS_HOOK, cdnUrlsOptions, type CdnUrlsOptions } from "./options.ts";
import { storedPathRewriter } from "./urls.ts";

/** Options of {@link createCdnUrlsHook}: the config block plus the instance identity and the Postgres pool. */
export type CdnUrlsHookOptions = z.input<typeof cdnUrlsOptions> &
  HookIdentity & {
    /** The pool, or a getter called inside each pass (the `reclaim` command passes `env.postgres`). */
    postgres: Pool | (() => Promise<Pool>);
    /** Replica lag probe in ms. @default max `replay_lag` of `pg_stat_replication` */
    replicaLag?: () => Promise<number>;
  };

/** One column's line of a pass report. */
export interface CdnUrlsColumnPass {
  column: string;
  /** Rows walked by key. */
  scanned: number;
  /** Rows read: those holding a host, on the first pass, then only those also written since the previous pass. */
  examined: number;
  /** Rows changed (dry run: would change). */
  rows: number;
  /** String values changed. */
  values: number;
  retries: number;
  /** Whether the pass only looked at rows written since the previous pass. */
  incremental: boolean;
}

/** What one pass of the hook reports. */
export interface CdnUrlsReport extends RunReport {
  columns: CdnUrlsColumnPass[];
  /** Per table: values still holding an old host after the pass. */
  remaining: Record<string, number>;
}

async function remainingRows(pool: Pool, target: ColumnTarget, hosts: readonly string[]): Promise<number> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN READ ONLY");
    await client.query("SET LOCAL statement_timeout = 60000");
    const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${target.relation} WHERE ${target.col}::text ~* $1`, [candidatePattern(hosts, target.kind)]);
    await client.query("COMMIT");
    return Number(rows[0]?.n ?? 0);
  } catch (err) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

/**
 * The scheduled side of the backfill: each pass strips the CDN hosts from rows added or changed since the previous
 * pass (the first pass walks every row), in the same short keyset batches as the backfill, so a writer that still
 * stores full URLs cannot undo it. Rows written since are found by their `xmin`: the pass remembers the oldest
 * transaction still running when it started (in the progress table) and next time looks only at newer rows.
 * Metrics: values rewritten and values still holding old hosts, by table. Span `rewrite cdn-urls`.
 *
 * @example
 * ```ts
 * const hook = createCdnUrlsHook({ hosts: ["cdn.example.ai"], columns: [{ table: "flat_file", column: "url" }], postgres: pool, registry });
 * createRunner(hook, { interval: 600_000, registry, lock: postgresLock(pool) }).start();
 * ```
 */
export function createCdnUrlsHook(options: CdnUrlsHookOptions): Hook<CdnUrlsReport> & { readonly options: Readonly<CdnUrlsOptions> } {
  const { name = CDN_URLS_HOOK, registry = new Registry(), postgres, replicaLag, ...rest } = options;
  const resolved = Object.freeze(parseOptions(CDN_URLS_HOOK, cdnUrlsOptions, rest));
  const metrics = cdnUrlsMetrics(registry, name);
  for (const column of resolved.columns) metrics.table(column.table);
  const rewrite = storedPathRewriter({ hosts: resolved.hosts });
  const job = `hook:${name}`;
  const relation = progressRelation(resolved.progressTable);
  // What the console draws: values rewritten by this process's passes, and what the last pass left, by table.
  const seen = { rewritten: 0, remaining: undefined as Record<string, number> | undefined };
  return {
    name,
    type: CDN_URLS_HOOK,
    spanName: "rewrite cdn-urls",
    kind: "url",
    options: resolved,
    async run(ctx) {
      const pool = typeof postgres === "function" ? await postgres() : postgres;
      ctx.span.setAttribute("db.system.name", "postgresql");
      const targets = await resolveColumns(pool, resolved.columns);
      if (!ctx.dryRun) await ensureProgressTable(pool, relation);
      const progress = ctx.dryRun ? new Map() : await loadProgress(pool, relation, job);
      const columns: CdnUrlsColumnPass[] = [];
      let values = 0;
      for (const group of groupByTable(targets)) {
        // a table's columns are walked together, from the oldest of their last passes (none: every row)
        const saved = group.map((target) => (progress.get(target.label)?.sinceXid ?? null) as number | null);
        const since = saved.some((xid) => xid === null) ? null : Math.min(...(saved as number[]));
        const passStart = await snapshotXmin(pool);
        const results = await sweepTable(pool, group, {
          mode: ctx.dryRun ? "read" : "write",
          rewrite,
          patterns: group.map((target) => candidatePattern(resolved.hosts, target.kind)),
          from: null,
          sinceXid: since,
          batchTarget: resolved.batchTarget,
          initialBatchSize: resolved.initialBatchSize,
          maxBatchSize: resolved.maxBatchSize,
          pause: resolved.pause,
          lockTimeout: resolved.lockTimeout,
          statementTimeout: resolved.statementTimeout,
          maxReplicaLag: resolved.maxReplicaLag,
          replicaLagCheck: resolved.replicaLagCheck,
          replicaLag: replicaLag ?? (() => replicaLagOf(pool)),
          signal: ctx.signal,
        });
        if (!ctx.dryRun) {
          for (const target of group) await finishProgress(pool, relation, job, target.label, passStart);
          metrics.retries(results[0]?.retries ?? 0);
        }
        group.forEach((target, i) => {
          const result = results[i] as SweepResult;
          if (!ctx.dryRun) metrics.rewritten(target.table, result.values);
          values += result.values;
          columns.push({ column: target.label, scanned: result.scanned, examined: result.candidates, rows: result.rewritten, values: result.values, retries: result.retries, incremental: since !== null });
          if (result.values > 0) ctx.log.info({ column: target.label, rows: result.rewritten, values: result.values, dryRun: ctx.dryRun }, "stripped CDN hosts");
        });
      }
      const remaining: Record<string, number> = {};
      for (const target of targets) remaining[target.table] = (remaining[target.table] ?? 0) + (await remainingRows(pool, target, resolved.hosts));
      for (const [table, count] of Object.entries(remaining)) metrics.remaining(table, count);
      if (!ctx.dryRun) {
        seen.rewritten += values;
        seen.remaining = remaining;
      }
      ctx.span.setAttributes({
        "reclaim.cdn_urls.values_rewritten": values,
        "reclaim.cdn_urls.rows_scanned": columns.reduce((sum, column) => sum + column.scanned, 0),
        "reclaim.cdn_urls.remaining": Object.values(remaining).reduce((sum, count) => sum + count, 0),
        "reclaim.dry_run": ctx.dryRun,
      });
      return { removed: values, reclaimedBytes: 0, removedByKind: { url: values }, columns, remaining };
    },
    status() {
      if (!seen.remaining) return { rewritten: seen.rewritten, remaining: null, resources: [] };
      const left = Object.values(seen.remaining).reduce((sum, count) => sum + count, 0);
      const resources: ResourceFigure[] = [
        { label: "values rewritten since start", value: seen.rewritten, unit: "count", max: seen.rewritten + left },
        ...Object.entries(seen.remaining).map(([table, count]): ResourceFigure => ({ label: `${table}: values still on old hosts`, value: count, unit: "count" })),
      ];
      return { rewritten: seen.rewritten, remaining: seen.remaining, resources };
    },
  };
}
