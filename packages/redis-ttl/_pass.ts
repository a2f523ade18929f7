import { setTimeout as sleep } from "node:timers/promises";
import { AbortedError, throwIfAborted, type RunContext } from "@reclaim/core";
import type { RedisTtlMetrics } from "./_metrics.ts";
import { compilePattern, type KeyPattern } from "./_pattern.ts";
import type { RedisClient } from "./_redis.ts";
import type { RedisTtlReport } from "./_report.ts";
import type { ResolvedRedisTtlOptions } from "./options.ts";

/** The options' patterns, compiled once per hook. */
export interface Compiled {
  policies: Array<{ pattern: KeyPattern; rule: ResolvedRedisTtlOptions["policies"][number] }>;
  streams: Array<{ pattern: KeyPattern; rule: ResolvedRedisTtlOptions["streams"][number] }>;
  orphans: Array<{ pattern: KeyPattern; rule: ResolvedRedisTtlOptions["orphans"][number] }>;
  /** The one glob every scan rule shares, passed to SCAN MATCH; undefined when rules differ. */
  scanMatch: string | undefined;
  /** Whether any rule needs the keyspace scan at all. */
  needsScan: boolean;
}

/** Compiles the options' patterns and finds the one SCAN MATCH glob they share, if any. */
export function compile(options: ResolvedRedisTtlOptions): Compiled {
  const policies = options.policies.map((rule) => ({ pattern: compilePattern(rule.match), rule }));
  const streams = options.streams.map((rule) => ({ pattern: compilePattern(rule.match), rule }));
  const orphans = options.orphans.map((rule) => ({ pattern: compilePattern(rule.match), rule }));
  const scanned = [...policies, ...streams.filter((s) => !s.pattern.literal), ...orphans];
  // Every `match` is already a Redis glob (a literal stream key is trimmed by name, not found by the scan).
  const globs = new Set(scanned.map((s) => s.rule.match));
  return { policies, streams, orphans, scanMatch: globs.size === 1 ? [...globs][0] : undefined, needsScan: scanned.length > 0 };
}

/**
 * One pass: its report, and what every step shares — the budget, the pause between batches, the per-key error count
 * and the dry run's samples. The steps (`_streams.ts`, `_indexes.ts`, `_keyspace.ts`, `_policies.ts`, `_orphans.ts`)
 * work on it; `finish()` turns the report into metrics, span attributes and the pass's log line.
 */
export class Pass {
  readonly report: RedisTtlReport;
  readonly client: RedisClient;
  readonly options: ResolvedRedisTtlOptions;
  readonly compiled: Compiled;
  readonly metrics: RedisTtlMetrics;
  readonly ctx: RunContext;
  readonly labels: { hook: string };
  readonly markerPrefix: string;
  readonly #startedAt = performance.now();
  /** Keys and members read in this pass (the key budget). */
  read = 0;

  constructor(client: RedisClient, options: ResolvedRedisTtlOptions, compiled: Compiled, metrics: RedisTtlMetrics, ctx: RunContext, name: string, prefix: string) {
    this.client = client;
    this.options = options;
    this.compiled = compiled;
    this.metrics = metrics;
    this.ctx = ctx;
    this.labels = { hook: name };
    this.markerPrefix = `${prefix}orphan:`;
    this.report = {
      removed: 0,
      reclaimedBytes: 0,
      dryRun: ctx.dryRun,
      scanned: 0,
      cycle: 0,
      cycleComplete: false,
      budgetExhausted: false,
      policies: options.policies.map((p) => ({ match: p.match, mode: p.mode, ttlMs: p.ttl, matched: 0, withoutTtl: 0, changed: 0, ...(ctx.dryRun ? { keys: [] } : {}) })),
      streams: { entries: 0, streams: 0, ...(ctx.dryRun ? { keys: [] } : {}) },
      indexes: options.indexes.map((i) => ({ key: i.key, type: "none", scanned: 0, removed: 0, ...(ctx.dryRun ? { members: [] } : {}) })),
      orphans: options.orphans.map((o) => ({ match: o.match, parent: o.parent, orphaned: 0, pending: 0, deleted: 0, ...(ctx.dryRun ? { keys: [] } : {}) })),
      maxmemoryPolicy: null,
      usedMemoryBytes: null,
      keyErrors: 0,
    };
  }

  /** True once the pass has read its key budget or used its time budget. */
  overBudget(): boolean {
    const over = this.read >= this.options.budget.keys || performance.now() - this.#startedAt >= this.options.budget.time;
    if (over) this.report.budgetExhausted = true;
    return over;
  }

  /** The pause between batches; throws AbortedError when the runner stops. */
  async pause(): Promise<void> {
    throwIfAborted(this.ctx.signal);
    if (this.options.pause <= 0) return;
    try {
      await sleep(this.options.pause, undefined, { signal: this.ctx.signal });
    } catch {
      throw new AbortedError();
    }
  }

  /** Counts a per-key reply error (WRONGTYPE, MOVED, ...); true when there was one: the key is skipped. */
  keyError(err: Error | null): boolean {
    if (err === null) return false;
    this.report.keyErrors++;
    this.metrics.keyErrors.inc(this.labels);
    return true;
  }

  /** Dry run: keeps `key` in `list` while it holds fewer than `dryRunKeys`. */
  sample(list: string[] | undefined, key: string): void {
    if (list && list.length < this.options.dryRunKeys) list.push(key);
  }

  finish(): RedisTtlReport {
    const r = this.report;
    const indexRemoved = r.indexes.reduce((n, i) => n + i.removed, 0);
    const orphansDeleted = r.orphans.reduce((n, o) => n + o.deleted, 0);
    r.removed = r.streams.entries + indexRemoved + orphansDeleted;
    r.removedByKind = { stream_entry: r.streams.entries, index_member: indexRemoved, orphan: orphansDeleted };
    if (!r.dryRun) {
      this.metrics.streamTrimmed.inc(this.labels, r.streams.entries);
      for (const p of r.policies) this.metrics.ttlsSet.inc({ ...this.labels, policy: p.match }, p.changed);
    }
    const ttlsSet = r.policies.reduce((n, p) => n + p.changed, 0);
    const withoutTtl = r.policies.reduce((n, p) => n + p.withoutTtl, 0);
    const orphansPending = r.orphans.reduce((n, o) => n + o.pending, 0);
    this.ctx.span.setAttributes({
      "reclaim.redis.scanned": r.scanned,
      "reclaim.redis.ttls_set": ttlsSet,
      "reclaim.redis.without_ttl": withoutTtl,
      "reclaim.redis.stream_entries_trimmed": r.streams.entries,
      "reclaim.redis.index_members_removed": indexRemoved,
      "reclaim.redis.orphans_deleted": orphansDeleted,
      "reclaim.redis.orphans_pending": orphansPending,
      "reclaim.redis.cycle": r.cycle,
      "reclaim.redis.cycle_complete": r.cycleComplete,
      "reclaim.redis.budget_exhausted": r.budgetExhausted,
      "reclaim.redis.key_errors": r.keyErrors,
      ...(r.maxmemoryPolicy !== null ? { "reclaim.redis.maxmemory_policy": r.maxmemoryPolicy } : {}),
    });
    this.ctx.log.info(
      {
        dryRun: r.dryRun,
        scanned: r.scanned,
        ttlsSet,
        withoutTtl,
        streamEntriesTrimmed: r.streams.entries,
        indexMembersRemoved: indexRemoved,
        orphansDeleted,
        orphansPending,
        keyErrors: r.keyErrors,
        cycle: r.cycle,
        cycleComplete: r.cycleComplete,
        budgetExhausted: r.budgetExhausted,
      },
      r.dryRun ? "redis pass (dry run): what would change" : "redis pass",
    );
    return r;
  }
}
