import { parseOptions, type Hook, type HookIdentity, type RedisClient, type ResourceFigure, type RunContext, type RunReport } from "@reclaim/core";
import type { Pool } from "pg";
import { Registry } from "prom-client";
import { ensureArchiveTable, ensurePartition, insertRows, inTransaction, listPartitions, partitionBounds, partitionName, writeBatch, type ArchiveRow, type ArchiveTarget, type WriteTurn } from "./_archive.ts";
import { archiveStats } from "./_archive_totals.ts";
import { offloadMetrics } from "./_metrics.ts";
import { classify, globToRegExp, indexMember } from "./_record.ts";
import { applyRetention, type RetentionResult } from "./_retention.ts";
import { loadScripts, type ScriptRunner } from "./_redis_io.ts";
import { redisOffloadOptionsSchema, type OffloadSource, type RedisOffloadConfig, type RedisOffloadOptions } from "./options.ts";

/**
 * Hook type, and default instance name.
 *
 * @example
 * ```ts
 * runner.status().hook === REDIS_OFFLOAD_HOOK;
 * ```
 */
export const REDIS_OFFLOAD_HOOK = "redis-offload";

/** A client, or a getter called inside each pass (the `reclaim` command's shared connections). */
export type StoreGetter<T> = T | (() => Promise<T>);

/** A batch that was committed to the archive and is about to be compare-and-deleted from Redis. */
export interface ArchivedBatch {
  kind: string;
  keys: readonly string[];
}

/** Options of {@link createRedisOffloadHook}: the config block plus runtime objects. */
export interface RedisOffloadHookOptions extends RedisOffloadConfig, HookIdentity {
  /** The Redis holding the records (one server; a Cluster is refused at the first pass). */
  redis: StoreGetter<RedisClient>;
  /** The Postgres holding the archive. */
  postgres: StoreGetter<Pool>;
  /**
   * Called after each batch is committed to Postgres and before it is deleted from Redis (errors are logged and
   * ignored). @default none
   */
  onArchived?: (batch: ArchivedBatch) => void | Promise<void>;
}

/** What one pass did for one source (in a dry run: what it would do). */
export interface SourceResult {
  match: string;
  kind: string;
  /** Keys the scan returned. */
  scanned: number;
  /** Records still inside `hotFor` (left alone). */
  hot: number;
  /** Records past `hotFor`: archived and deleted, or (dry run) that would be. */
  due: number;
  /** Rows newly written to the archive (a row already there from an earlier, interrupted pass is not counted). */
  archived: number;
  /** Records deleted from Redis. */
  deleted: number;
  /** Archived records left in Redis because they changed between the read and the delete. */
  skippedChanged: number;
  /** Hashes and JSON strings without a readable time (never touched). */
  undatable: number;
  /** Keys of another type, strings that are not JSON, or content `jsonb` cannot hold (never touched). */
  other: number;
  /** Records not in `index` while `onlyIndexed` is set (never touched). */
  notIndexed: number;
  /** Records left for a later pass because their partition could not be created or Postgres refused the row. */
  deferred: number;
  /** Seconds past `hotFor` of the oldest record still in Redis after the pass (0 when none is overdue). */
  lagSeconds: number;
}

/** What one pass reports (`status().lastRun.report`, `reclaim run redis-offload` output). */
export interface RedisOffloadReport extends RunReport {
  dryRun: boolean;
  sources: SourceResult[];
  /** Archive retention (null in a dry run). */
  retention: RetentionResult | null;
  /** DDL steps that failed and were skipped (partition creation, drops). */
  failedSteps: string[];
}

/** Per kind, as of the end of the last pass that wrote (`status().details`). */
export interface OffloadKindStatus {
  /** Rows in the archive. */
  archiveRows: number;
  /** Payload bytes in the archive (`pg_column_size` of the `jsonb`). */
  archiveBytes: number;
  /** How long past `hotFor` the oldest record still in Redis was (0: none overdue). */
  lagSeconds: number;
}

/** `status().details` of the offload hook: per kind figures, and the console's resource figures. */
export interface RedisOffloadDetails extends Record<string, unknown> {
  kinds: Record<string, OffloadKindStatus>;
  /** For each kind: archive rows, archive payload bytes, offload lag (empty before the first pass). */
  resources: ResourceFigure[];
}

/** The offload hook. */
export interface RedisOffloadHook extends Hook<RedisOffloadReport> {
  readonly options: RedisOffloadOptions;
  status(): RedisOffloadDetails;
}

/** A record past `hotFor`, as read: what goes to the archive and what the compare-and-delete checks. */
type DueRow = ArchiveRow & { expected: Array<string | Buffer>; member: string; bytes: number };

/** A Postgres error of class 22 (data exception: a value the column refuses), as opposed to a lock or a lost server. */
function isDataError(err: unknown): boolean {
  return String((err as { code?: string }).code ?? "").startsWith("22");
}

async function resolveStore<T>(store: StoreGetter<T>): Promise<T> {
  return typeof store === "function" ? (store as () => Promise<T>)() : store;
}

/**
 * Creates the Redis → Postgres offload: each pass scans every source's keys, copies the records past `hotFor` to a
 * partitioned archive table (batches: pipelined atomic reads, one multi-row `INSERT ... ON CONFLICT DO NOTHING`,
 * commit), and only then deletes each record from Redis with a Lua compare-and-delete that leaves it alone when it
 * changed since it was read (it is archived again by a later pass). Then archive retention by kind. Throws an option
 * error for bad options.
 *
 * @example
 * ```ts
 * const hook = createRedisOffloadHook({
 *   sources: [{ match: "worker:completion:*", kind: "completed", timeField: "completed_at", hotFor: "7d", archiveFor: "90d" }],
 *   redis, postgres: pool, registry,
 * });
 * await createRunner(hook, { registry }).runOnce();
 * ```
 */
export function createRedisOffloadHook(input: RedisOffloadHookOptions): RedisOffloadHook {
  const { registry, name = REDIS_OFFLOAD_HOOK, redis, postgres, onArchived, ...config } = input;
  const options = parseOptions(REDIS_OFFLOAD_HOOK, redisOffloadOptionsSchema, config) as RedisOffloadOptions;
  const kinds = [...new Set(options.sources.map((source) => source.kind))];
  const metrics = offloadMetrics(registry ?? new Registry(), name, kinds);
  const target: ArchiveTarget = { schema: options.schema, table: options.table, partition: options.partition, lockTimeout: options.lockTimeout };
  const windows = new Map(options.sources.map((source) => [source.kind, source.archiveFor]));
  const kindStatus = new Map<string, OffloadKindStatus>();

  return {
    name,
    type: REDIS_OFFLOAD_HOOK,
    status(): RedisOffloadDetails {
      const resources: ResourceFigure[] = [];
      for (const [kind, entry] of kindStatus) {
        resources.push(
          { label: `archive rows (${kind})`, value: entry.archiveRows, unit: "count" },
          { label: `archive payload (${kind})`, value: entry.archiveBytes, unit: "bytes" },
          { label: `offload lag past hotFor (${kind})`, value: entry.lagSeconds, unit: "seconds" },
        );
      }
      return { kinds: Object.fromEntries([...kindStatus].map(([kind, entry]) => [kind, { ...entry }])), resources };
    },
    spanName: "offload redis",
    kind: "record",
    options,
    async run(ctx: RunContext): Promise<RedisOffloadReport> {
      const now = ctx.now();
      const client = await resolveStore(redis);
      if (client.constructor.name === "Cluster") throw new Error("redis-offload does not support Redis Cluster yet: point it at one server");
      const failedSteps: string[] = [];
      let pool: Pool | undefined;
      const known = new Set<string>();
      if (!ctx.dryRun) {
        pool = await resolveStore(postgres);
        await ensureArchiveTable(pool, target);
        for (const partition of (await listPartitions(pool, target)).keys()) known.add(partition);
        let from = partitionBounds(options.partition, now).from;
        for (let i = 0; i <= options.partitionsAhead; i++) {
          await makePartition(pool, from);
          from = partitionBounds(options.partition, from).to;
        }
      }
      async function makePartition(db: Pool, from: number): Promise<boolean> {
        const wanted = partitionName(target, from);
        if (known.has(wanted)) return true;
        try {
          known.add(await ensurePartition(db, target, from));
          return true;
        } catch (err) {
          failedSteps.push(`create ${wanted}: ${(err as Error).message}`);
          return false;
        }
      }

      const sources: SourceResult[] = [];
      let reclaimed = 0;
      for (const source of options.sources) {
        sources.push(await offloadSource(source));
      }

      async function offloadSource(source: OffloadSource): Promise<SourceResult> {
        const result: SourceResult = {
          match: source.match, kind: source.kind, scanned: 0, hot: 0, due: 0, archived: 0, deleted: 0, skippedChanged: 0,
          undatable: 0, other: 0, notIndexed: 0, deferred: 0, lagSeconds: 0,
        };
        const pattern = globToRegExp(source.match);
        const cutoff = now - source.hotFor;
        let oldestLeft = Infinity;
        let pending: string[] = [];
        let cursor = "0";
        const scripts: ScriptRunner = await loadScripts(client, source.index, source.onlyIndexed);
        // Up to `concurrency` batches in flight: one reads from Redis while another is written and a third deleted.
        // Batches never share a record, so each record's guarantee holds whatever the interleaving. Their Postgres
        // writes take turns: COPYs into one table at once contend for its index pages and cost Postgres more CPU
        // than they save (measured: +50 % with two at once). Only the statement takes a turn: a commit waits for
        // the disk, and the next batch's COPY runs meanwhile.
        const inFlight = new Set<Promise<void>>();
        let writeTurn: Promise<unknown> = Promise.resolve();
        const inTurn: WriteTurn = <T>(write: () => Promise<T>): Promise<T> => {
          const turn = writeTurn.then(write);
          writeTurn = turn.catch(() => undefined);
          return turn;
        };
        let failure: unknown;
        const launch = async (keys: string[]) => {
          while (inFlight.size >= options.concurrency) await Promise.race(inFlight);
          if (failure !== undefined) throw failure;
          const running: Promise<void> = batch(keys)
            .catch((err: unknown) => {
              failure ??= err;
            })
            .finally(() => inFlight.delete(running));
          inFlight.add(running);
        };
        try {
          do {
            ctx.signal.throwIfAborted();
            const [next, keys] = (await client.scan(cursor, "MATCH", source.match, "COUNT", Math.max(100, options.batchSize))) as [string, string[]];
            cursor = next;
            result.scanned += keys.length;
            pending.push(...keys);
            while (pending.length >= options.batchSize) {
              await launch(pending.slice(0, options.batchSize));
              pending = pending.slice(options.batchSize);
            }
          } while (cursor !== "0");
          if (pending.length > 0) await launch(pending);
        } finally {
          await Promise.all(inFlight);
        }
        if (failure !== undefined) throw failure;
        result.lagSeconds = oldestLeft === Infinity ? 0 : Math.max(0, (cutoff - oldestLeft) / 1000);
        return result;

        async function batch(keys: string[]): Promise<void> {
          ctx.signal.throwIfAborted();
          // Index members only matter with an index (a regular expression per key otherwise wasted).
          const members = source.index === undefined ? keys : keys.map((key) => indexMember(pattern, key));
          const replies = await scripts.read(keys, members);
          const due: DueRow[] = [];
          replies.forEach(({ type, content, inIndex }, i) => {
            const record = classify(type, content, source.timeField);
            if (record.state === "gone") return;
            if (record.state === "other") return void result.other++;
            if (record.state === "undatable") return void result.undatable++;
            if (record.time >= cutoff) return void result.hot++;
            if (source.onlyIndexed && !inIndex) return void result.notIndexed++;
            result.due++;
            const key = keys[i]!;
            due.push({ key, kind: source.kind, redisType: record.redisType, payload: record.payload, time: record.time, digest: record.digest, expected: record.expected, member: members[i]!, bytes: record.bytes });
          });
          if (due.length === 0) return;
          if (ctx.dryRun || !pool) {
            for (const row of due) oldestLeft = Math.min(oldestLeft, row.time);
            return;
          }
          // Partitions for the batch; rows whose partition cannot be made now wait for a later pass.
          const ready: DueRow[] = [];
          const partitionOk = new Map<number, boolean>();
          for (const row of due) {
            const from = partitionBounds(options.partition, row.time).from;
            let ok = partitionOk.get(from);
            if (ok === undefined) partitionOk.set(from, (ok = await makePartition(pool, from)));
            if (ok) ready.push(row);
            else {
              result.deferred++;
              oldestLeft = Math.min(oldestLeft, row.time);
            }
          }
          // In key order: Postgres inserts into the primary key's index along neighbouring pages, not all over it.
          ready.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
          const committed = await archive(pool, ready);
          if (committed.length === 0) return;
          if (onArchived) {
            try {
              await onArchived({ kind: source.kind, keys: committed.map((row) => row.key) });
            } catch (err) {
              ctx.log.warn({ err }, "onArchived callback failed");
            }
          }
          // Compare-and-delete in bounded atomic scripts, pipelined.
          const outcomes = await scripts.compareAndDelete(committed);
          let deleted = 0;
          let changed = 0;
          let bytes = 0;
          outcomes.forEach((outcome, i) => {
            const row = committed[i]!;
            if (outcome === "deleted") {
              deleted++;
              bytes += row.bytes + Buffer.byteLength(row.key);
            } else if (outcome === "changed") {
              changed++;
              oldestLeft = Math.min(oldestLeft, row.time);
            } // gone already (expired or deleted by the service): archived, nothing to delete
          });
          result.deleted += deleted;
          result.skippedChanged += changed;
          reclaimed += bytes;
          metrics.deleted(source.kind, deleted);
          metrics.skippedChanged(source.kind, changed);
        }

        /**
         * Writes rows in one statement (atomic and committed when it returns: one round trip); on a data error, row by
         * row in one transaction with savepoints, so one bad row defers only itself.
         */
        async function archive(db: Pool, rows: DueRow[]): Promise<DueRow[]> {
          if (rows.length === 0) return rows;
          try {
            const inserted = await writeBatch(db, target, rows, inTurn);
            result.archived += inserted;
            metrics.archived(source.kind, inserted);
            return rows;
          } catch (err) {
            metrics.writeFailures(source.kind, 1);
            if (!isDataError(err)) throw err;
          }
          // Row by row, each under a savepoint, in one transaction: a row Postgres refuses waits (deferred). The
          // statements take their turn, the commit does not (as in writeBatch).
          const { kept, inserted } = await inTransaction(db, target, (conn) => inTurn(async () => {
            const kept: DueRow[] = [];
            let inserted = 0;
            for (const row of rows) {
              await conn.query("SAVEPOINT r");
              try {
                inserted += await insertRows(conn, target, [row]);
                await conn.query("RELEASE SAVEPOINT r");
                kept.push(row);
              } catch (err) {
                await conn.query("ROLLBACK TO SAVEPOINT r");
                metrics.writeFailures(source.kind, 1);
                if (!isDataError(err)) throw err;
                result.deferred++;
                oldestLeft = Math.min(oldestLeft, row.time);
              }
            }
            return { kept, inserted };
          }));
          result.archived += inserted;
          metrics.archived(source.kind, inserted);
          return kept;
        }
      }
      let retention: RetentionResult | null = null;
      if (!ctx.dryRun && pool) {
        retention = await applyRetention(pool, target, windows, now, options.retentionBatch, ctx.signal);
        failedSteps.push(...retention.failedSteps);
        for (const [kind, rows] of Object.entries(retention.rowsDeleted)) metrics.retentionRows(kind, rows);
        metrics.partitionsDropped(retention.partitionsDropped.length);
        const stats = await archiveStats(pool, target);
        for (const kind of new Set([...kinds, ...stats.keys()])) {
          const entry = stats.get(kind) ?? { rows: 0, bytes: 0 };
          metrics.archive(kind, entry.rows, entry.bytes);
          if (kinds.includes(kind)) kindStatus.set(kind, { archiveRows: entry.rows, archiveBytes: entry.bytes, lagSeconds: 0 });
        }
      }
      metrics.ddlFailures(failedSteps.length);
      for (const kind of kinds) {
        const ofKind = sources.filter((s) => s.kind === kind);
        metrics.undatable(kind, ofKind.reduce((sum, s) => sum + s.undatable, 0));
        const lagSeconds = Math.max(0, ...ofKind.map((s) => s.lagSeconds));
        metrics.lag(kind, lagSeconds);
        const known = kindStatus.get(kind);
        if (known && !ctx.dryRun) known.lagSeconds = lagSeconds;
      }

      const removedByKind: Record<string, number> = {};
      for (const s of sources) removedByKind[s.kind] = (removedByKind[s.kind] ?? 0) + (ctx.dryRun ? s.due : s.deleted);
      const total = (field: keyof SourceResult) => sources.reduce((sum, s) => sum + (s[field] as number), 0);
      ctx.span.setAttributes({
        "db.system.name": "redis",
        "reclaim.offload.scanned": total("scanned"),
        "reclaim.offload.due": total("due"),
        "reclaim.offload.archived": total("archived"),
        "reclaim.offload.deleted": total("deleted"),
        "reclaim.offload.skipped_changed": total("skippedChanged"),
        "reclaim.offload.undatable": total("undatable"),
        "reclaim.offload.deferred": total("deferred"),
        "reclaim.offload.failed_steps": failedSteps.length,
      });
      ctx.log.info(
        {
          dryRun: ctx.dryRun,
          sources: sources.map((s) => ({ kind: s.kind, match: s.match, due: s.due, archived: s.archived, deleted: s.deleted, skippedChanged: s.skippedChanged, undatable: s.undatable, deferred: s.deferred, lagSeconds: s.lagSeconds })),
          retention: retention && { partitionsDropped: retention.partitionsDropped.length, rowsDeleted: retention.rowsDeleted },
          failedSteps,
        },
        ctx.dryRun ? "offload dry run: records that would be archived and deleted, per source" : "offload pass: records archived and deleted, per source",
      );
      return {
        removed: ctx.dryRun ? total("due") : total("deleted"),
        reclaimedBytes: reclaimed,
        removedByKind,
        dryRun: ctx.dryRun,
        sources,
        retention,
        failedSteps,
      };
    },
  };
}
