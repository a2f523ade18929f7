import { AbortedError, parseOptions, type Hook, type ResourceFigure } from "@reclaim/core";
import { Registry } from "prom-client";
import { cleanIndexes } from "./_indexes.ts";
import { scanKeyspace } from "./_keyspace.ts";
import { readMemory, type RedisMemory } from "./_memory.ts";
import { redisTtlMetrics } from "./_metrics.ts";
import { compile, Pass } from "./_pass.ts";
import { masters, resolveClient } from "./_redis.ts";
import type { RedisTtlReport } from "./_report.ts";
import { freshState, loadState, ownedPrefix, saveState, type ScanState } from "./_state.ts";
import { trimLiteralStreams } from "./_streams.ts";
import { REDIS_TTL_HOOK, redisTtlOptions, type RedisTtlHookOptions, type ResolvedRedisTtlOptions } from "./options.ts";

export type { IndexReport, OrphanReport, PolicyReport, RedisTtlReport } from "./_report.ts";

/** A redis-ttl hook: a {@link Hook} with its resolved options. */
export interface RedisTtlHook extends Hook<RedisTtlReport> {
  readonly options: Readonly<ResolvedRedisTtlOptions>;
}

/**
 * Creates the hook that keeps a Redis bounded: TTLs by key pattern (`PEXPIRE NX` / `LT`: a TTL is never lengthened,
 * a key that matches no policy is never touched), stream trimming (`XTRIM MAXLEN|MINID ~ ... LIMIT`), removal of
 * index members whose record is gone, and deletion of keys whose parent has been gone for `minAge`. Work is bounded:
 * `SCAN COUNT` batches on every master, one pipeline per batch, a pause between batches, and a per-pass budget of
 * keys and time; the scan position is kept in Redis and the next pass goes on from it.
 *
 * @example
 * ```ts
 * import { createRunner } from "@reclaim/core";
 * const hook = createRedisTtlHook({
 *   redis: new Redis(process.env.REDIS_URL!),
 *   policies: [{ match: "worker:heartbeat:*", ttl: "5m" }, { match: "machine:*", ttl: "1h", mode: "cap" }],
 *   streams: [{ match: "events:*", maxLen: 10_000 }],
 *   indexes: [{ key: "jobs:completed", record: "worker:completion:{member}" }],
 *   orphans: [{ match: "job:*:meta", parent: "job:{1}", minAge: "1h" }],
 *   registry,
 * });
 * createRunner(hook, { interval: 300_000, registry, logger }).start();
 * ```
 */
export function createRedisTtlHook(options: RedisTtlHookOptions): RedisTtlHook {
  const { redis, name: instance, registry, ...serialisable } = options;
  const name = instance ?? REDIS_TTL_HOOK;
  const resolved = parseOptions(name, redisTtlOptions, serialisable);
  if (redis === undefined || redis === null) throw new TypeError(`Cannot create ${name} hook as 'redis' is required (a client or a getter)`);
  const metrics = redisTtlMetrics(registry ?? new Registry());
  const compiled = compile(resolved);
  const prefix = ownedPrefix(name);
  const stateKey = `${prefix}scan`;
  const labels = { hook: name };
  const memo: {
    warnedPolicy: string | undefined;
    /** What the last pass read of Redis's memory (used, maxmemory, policy). */
    memory: RedisMemory | undefined;
    dryState: ScanState | undefined;
    last: { cycle: number; completedAt: string; withoutTtl: Record<string, number> } | undefined;
  } = { warnedPolicy: undefined, memory: undefined, dryState: undefined, last: undefined };
  for (const p of resolved.policies) metrics.ttlsSet.inc({ ...labels, policy: p.match }, 0);
  for (const counter of [metrics.scanned, metrics.streamTrimmed, metrics.indexRemoved, metrics.orphansDeleted, metrics.cycles, metrics.keyErrors]) counter.inc(labels, 0);

  return {
    name,
    type: REDIS_TTL_HOOK,
    spanName: "expire redis",
    kind: "key",
    options: resolved,
    async run(ctx) {
      const client = await resolveClient(redis);
      const pass = new Pass(client, resolved, compiled, metrics, ctx, name, prefix);
      ctx.span.setAttributes({ "db.system.name": "redis", "reclaim.redis.dry_run": ctx.dryRun });

      const memory = await readMemory(client);
      pass.report.maxmemoryPolicy = memory.policy;
      pass.report.usedMemoryBytes = memory.used;
      if (memory.used !== null) metrics.usedMemory.set(labels, memory.used);
      if (memory.max !== null) metrics.maxMemory.set(labels, memory.max);
      memo.memory = memory;
      const volatile = memory.policy === null ? -1 : memory.policy.startsWith("volatile-") ? 1 : 0;
      metrics.volatileEviction.set(labels, volatile);
      if (volatile === 1 && memo.warnedPolicy !== memory.policy) {
        memo.warnedPolicy = memory.policy ?? undefined;
        ctx.log.warn(
          { maxmemoryPolicy: memory.policy },
          "maxmemory-policy is volatile-*: keys this hook gives a TTL become candidates for eviction under memory pressure",
        );
      } else if (volatile === -1 && memo.warnedPolicy !== "unknown") {
        memo.warnedPolicy = "unknown";
        ctx.log.info("cannot read maxmemory-policy (CONFIG and INFO refused): eviction risk of added TTLs unknown");
      }

      const state = ctx.dryRun
        ? (memo.dryState ??= freshState(0, resolved.policies.length, ctx.now()))
        : await loadState(client, stateKey, resolved.policies.length, ctx.now());
      // The position is written at most once a second (and when a master or index is finished, and at the end of
      // the pass): a pass that dies redoes at most a second of batches, which is harmless (every step is idempotent).
      let savedAt = Number.NEGATIVE_INFINITY;
      const save = async (force = false): Promise<void> => {
        if (ctx.dryRun || (!force && performance.now() - savedAt < 1_000)) return;
        savedAt = performance.now();
        await saveState(client, stateKey, state);
      };
      pass.report.cycle = state.cycle;

      const nodes = compiled.needsScan ? await masters(client) : [];
      try {
        await trimLiteralStreams(pass);
        await cleanIndexes(pass, state, save);
        await scanKeyspace(pass, nodes, state, save, memory.runIds);
      } catch (err) {
        // Stopped between batches (the runner is stopping): keep the position reached. A broken connection cannot
        // save; the next pass goes on from the last position written.
        if (err instanceof AbortedError) await save(true);
        throw err;
      }

      const ids = nodes.map((n) => n.id);
      const complete = ids.every((id) => state.doneNodes.includes(id)) && resolved.indexes.every((i) => state.doneIndexes.includes(i.key));
      if (!complete) await save(true);
      if (complete) {
        pass.report.cycleComplete = true;
        resolved.policies.forEach((p, i) => metrics.withoutTtl.set({ ...labels, policy: p.match }, state.withoutTtl[i] ?? 0));
        metrics.cycles.inc(labels);
        const next = freshState(state.cycle + 1, resolved.policies.length, ctx.now());
        if (ctx.dryRun) memo.dryState = next;
        else await saveState(client, stateKey, next);
        memo.last = { cycle: state.cycle, completedAt: new Date(ctx.now()).toISOString(), withoutTtl: Object.fromEntries(resolved.policies.map((p, i) => [p.match, state.withoutTtl[i] ?? 0])) };
      }
      return pass.finish();
    },
    status() {
      // The console's figures: memory against maxmemory (when set), and keys without a TTL at the last complete scan.
      const resources: ResourceFigure[] = [];
      const { used, max, policy } = memo.memory ?? { used: null, max: null, policy: null };
      if (used !== null) resources.push({ label: "Redis memory", value: used, unit: "bytes", ...(max ? { max } : {}) });
      if (memo.last) resources.push({ label: "keys without TTL (last scan)", value: Object.values(memo.last.withoutTtl).reduce((a, b) => a + b, 0), unit: "count" });
      return { maxmemoryPolicy: policy, usedMemoryBytes: used, maxmemoryBytes: max, lastCompleteCycle: memo.last ?? {}, resources };
    },
  };
}
