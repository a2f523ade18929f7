import type { Pool } from "pg";
import { candidatePattern, resolveColumns, type ColumnTarget } from "./_sql.ts";
import { replicaLagOf, sweepColumn } from "./_engine.ts";
import { cdnUrlsOptions } from "./options.ts";
import { storedPathRewriter, toPublicUrl } from "./urls.ts";

/** Per column: how many rows and values still hold one of the old hosts. */
export interface VerifyColumn {
  column: string;
  table: string;
  scanned: number;
  /** Rows still holding an old host. */
  rows: number;
  /** String values still holding an old host. */
  values: number;
}

/** One URL that did not answer 200 to HEAD. */
export interface UrlProblem {
  path: string;
  url: string;
  /** The status, or the network error's message. */
  status: number | string;
}

/** Result of {@link checkStoredUrls}. */
export interface UrlCheck {
  checked: number;
  failed: UrlProblem[];
}

/**
 * Counts, per configured column, the rows and values that still hold one of the old hosts (read-only keyset
 * batches). Zero everywhere means the backfill is complete.
 *
 * @example
 * ```ts
 * const columns = await verifyCdnUrls(pool, options);
 * const clean = columns.every((column) => column.rows === 0);
 * ```
 */
export async function verifyCdnUrls(pool: Pool, input: unknown, run: { signal?: AbortSignal } = {}): Promise<VerifyColumn[]> {
  const options = cdnUrlsOptions.parse(input);
  const targets = await resolveColumns(pool, options.columns);
  const rewrite = storedPathRewriter({ hosts: options.hosts });
  const out: VerifyColumn[] = [];
  for (const target of targets) {
    const result = await sweepColumn(pool, target, {
      mode: "read",
      rewrite,
      pattern: candidatePattern(options.hosts, target.kind),
      from: null,
      batchTarget: options.batchTarget,
      initialBatchSize: options.initialBatchSize,
      maxBatchSize: options.maxBatchSize,
      pause: 0,
      lockTimeout: options.lockTimeout,
      statementTimeout: options.statementTimeout,
      replicaLagCheck: options.replicaLagCheck,
      replicaLag: () => replicaLagOf(pool),
      signal: run.signal,
    });
    out.push({ column: target.label, table: target.table, scanned: result.scanned, rows: result.rewritten, values: result.values });
  }
  return out;
}

/** Stored paths found in a column (text: the value; json: every string value starting with one `/`), up to `limit`. */
async function samplePaths(pool: Pool, target: ColumnTarget, limit: number): Promise<string[]> {
  if (target.kind === "text") {
    const { rows } = await pool.query<{ v: string }>(
      `SELECT ${target.col} AS v FROM ${target.relation} WHERE ${target.col} LIKE '/%' AND ${target.col} NOT LIKE '//%' ORDER BY random() LIMIT $1`,
      [limit],
    );
    return rows.map((row) => row.v);
  }
  const { rows } = await pool.query<{ v: string }>(
    `SELECT ${target.col}::text AS v FROM ${target.relation} WHERE ${target.col}::text ~ '"/[^/"]' ORDER BY random() LIMIT $1`,
    [limit],
  );
  const paths: string[] = [];
  const collect = (value: unknown): void => {
    if (typeof value === "string") {
      if (value.startsWith("/") && !value.startsWith("//")) paths.push(value);
    } else if (Array.isArray(value)) value.forEach(collect);
    else if (value && typeof value === "object") Object.values(value).forEach(collect);
  };
  for (const row of rows) collect(JSON.parse(row.v));
  return paths.slice(0, limit);
}

/**
 * Sends `HEAD` for a sample of the stored paths of every configured column, joined to `base`, and reports each
 * one that does not answer 200 (4 requests at a time, `timeout` each).
 *
 * @example
 * ```ts
 * const { failed } = await checkStoredUrls(pool, options, "https://cdn.example.ai", { sample: 20 });
 * ```
 */
export async function checkStoredUrls(pool: Pool, input: unknown, base: string, run: { sample?: number; timeout?: number } = {}): Promise<UrlCheck> {
  const options = cdnUrlsOptions.parse(input);
  const targets = await resolveColumns(pool, options.columns);
  const sample = run.sample ?? 20;
  const paths = new Set<string>();
  for (const target of targets) for (const path of await samplePaths(pool, target, sample)) paths.add(path);
  const queue = [...paths];
  const failed: UrlProblem[] = [];
  const worker = async () => {
    for (let path = queue.shift(); path !== undefined; path = queue.shift()) {
      const url = toPublicUrl(path, { base });
      try {
        const response = await fetch(url, { method: "HEAD", redirect: "follow", signal: AbortSignal.timeout(run.timeout ?? 10_000) });
        if (response.status !== 200) failed.push({ path, url, status: response.status });
      } catch (err) {
        failed.push({ path, url, status: (err as Error).message });
      }
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  return { checked: paths.size, failed };
}
