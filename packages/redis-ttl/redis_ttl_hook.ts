import { setTimeout as sleep } from "node:timers/promises";
import { AbortedError, parseOptions, throwIfAborted, type Hook, type RunContext, type RunReport } from "@reclaim/core";
import type { Redis } from "ioredis";
import { Registry } from "prom-client";
import { redisTtlMetrics, type RedisTtlMetrics } from "./_metrics.ts";
import { compilePattern, fillTemplate, matchKey, type KeyPattern } from "./_pattern.ts";
import { isReplyError, masters, parseInfo, resolveClient, sendBatch, type BatchReply, type RedisClient, type RedisCommand } from "./_redis.ts";
import { keySlot } from "./_slot.ts";
import { freshState, loadState, OWNED_PREFIX, ownedPrefix, saveState, type ScanState } from "./_state.ts";
import { REDIS_TTL_HOOK, redisTtlOptions, type RedisTtlHookOptions, type ResolvedRedisTtlOptions } from "./options.ts";

/** What one policy did in a pass. */
export interface PolicyReport {
  /** The policy's pattern (also its `policy` metric label). */
  match: string;
  mode: "missing" | "cap";
  ttlMs: number;
  /** Keys of this pass that took this policy. */
  matched: number;
  /** Of those, keys that had no TTL. */
  withoutTtl: number;
  /** TTLs set or shortened; in a dry run, that would be. */
  changed: number;
  /** Dry run only: the keys it would change (at most `dryRunKeys`). */
  keys?: string[];
}

/** What one index rule did in a pass. */
export interface IndexReport {
  key: string;
  /** `set`, `zset`, `none` (no such key) or another type (left alone, with a warning). */
  type: string;
  /** Members read. */
  scanned: number;
  /** Members whose record was gone, removed (in a dry run: that would be removed). */
  removed: number;
  /** Dry run only: the members it would remove (at most `dryRunKeys`). */
  members?: string[];
}

/** What one orphan rule did in a pass. */
export interface OrphanReport {
  match: string;
  parent: string;
  /** Keys seen with their parent gone. */
  orphaned: number;
  /** Seen orphaned for the first time, or not yet for `minAge`: kept for now. */
  pending: number;
  /** Deleted (in a dry run: that would be deleted). */
  deleted: number;
  /** Dry run only: the keys it would delete (at most `dryRunKeys`). */
  keys?: string[];
}

/** What one pass of the redis-ttl hook reports (`reclaim run redis-ttl` prints it). */
export interface RedisTtlReport extends RunReport {
  dryRun: boolean;
  /** Keys returned by SCAN in this pass (every master). */
  scanned: number;
  /** Scan cycle this pass worked on. */
  cycle: number;
  /** True when this pass finished the cycle (every master and index scanned to the end). */
  cycleComplete: boolean;
  /** True when the pass stopped on its key or time budget; the next pass goes on from there. */
  budgetExhausted: boolean;
  policies: PolicyReport[];
  /** Stream entries trimmed (in a dry run: that would be, about), and the streams concerned. */
  streams: { entries: number; streams: number; keys?: string[] };
  indexes: IndexReport[];
  orphans: OrphanReport[];
  /** `maxmemory-policy`, or null when neither CONFIG nor INFO would say. */
  maxmemoryPolicy: string | null;
  /** INFO used_memory summed over masters, or null when INFO is forbidden. */
  usedMemoryBytes: number | null;
  /** Per-key commands Redis refused (WRONGTYPE, MOVED, ...): skipped. */
  keyErrors: number;
}

/** A redis-ttl hook: a {@link Hook} with its resolved options. */
export interface RedisTtlHook extends Hook<RedisTtlReport> {
  readonly options: Readonly<ResolvedRedisTtlOptions>;
}

interface Compiled {
  policies: Array<{ pattern: KeyPattern; rule: ResolvedRedisTtlOptions["policies"][number] }>;
  streams: Array<{ pattern: KeyPattern; rule: ResolvedRedisTtlOptions["streams"][number] }>;
  orphans: Array<{ pattern: KeyPattern; rule: ResolvedRedisTtlOptions["orphans"][number] }>;
  /** The one glob every scan rule shares, passed to SCAN MATCH; undefined when rules differ. */
  scanMatch: string | undefined;
  /** Whether any rule needs the keyspace scan at all. */
  needsScan: boolean;
}

// Removes, from an index, the members whose record key does not exist — in one atomic step per batch, so a member
// whose record exists is never removed. KEYS[1] = index, KEYS[i] = record of ARGV[i] (i >= 2), ARGV[1] = srem|zrem.
const REMOVE_DANGLING = `local n = 0
for i = 2, #KEYS do
  if redis.call('exists', KEYS[i]) == 0 then n = n + redis.call(ARGV[1], KEYS[1], ARGV[i]) end
end
return n`;

// PEXPIRE KEYS[i] ARGV[1] NX for each key of one batch; answers how many got a TTL (= had none).
const EXPIRE_MISSING = `local n = 0
for i = 1, #KEYS do n = n + redis.call('pexpire', KEYS[i], ARGV[1], 'NX') end
return n`;

// Deletes KEYS[1] only while its parent KEYS[2] does not exist.
const DELETE_IF_PARENT_GONE = `if redis.call('exists', KEYS[2]) == 0 then return redis.call('unlink', KEYS[1]) end
return -1`;

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
  const memo: { warnedPolicy: string | undefined; policy: string | null; dryState: ScanState | undefined; last: Record<string, unknown> } = {
    warnedPolicy: undefined,
    policy: null,
    dryState: undefined,
    last: {},
  };
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
      memo.policy = memory.policy;
      pass.report.usedMemoryBytes = memory.used;
      if (memory.used !== null) metrics.usedMemory.set(labels, memory.used);
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
        await pass.literalStreams();
        await pass.indexes(state, save);
        await pass.scan(nodes, state, save, memory.runIds);
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
      return { maxmemoryPolicy: memo.policy, lastCompleteCycle: memo.last };
    },
  };
}

function compile(options: ResolvedRedisTtlOptions): Compiled {
  const policies = options.policies.map((rule) => ({ pattern: compilePattern(rule.match), rule }));
  const streams = options.streams.map((rule) => ({ pattern: compilePattern(rule.match), rule }));
  const orphans = options.orphans.map((rule) => ({ pattern: compilePattern(rule.match), rule }));
  const scanned = [...policies, ...streams.filter((s) => !s.pattern.literal), ...orphans];
  // Every `match` is already a Redis glob (a literal stream key is trimmed by name, not found by the scan).
  const globs = new Set(scanned.map((s) => s.rule.match));
  return { policies, streams, orphans, scanMatch: globs.size === 1 ? [...globs][0] : undefined, needsScan: scanned.length > 0 };
}

/** Reads used_memory and maxmemory-policy: CONFIG GET first, INFO memory when CONFIG is forbidden (managed Redis). */
async function readMemory(client: RedisClient): Promise<{ used: number | null; policy: string | null; runIds: Record<string, string> }> {
  let used: number | null = null;
  let policy: string | null = null;
  const runIds: Record<string, string> = {};
  for (const { id, node } of await masters(client)) {
    try {
      const info = parseInfo(await node.info("memory"));
      if (info.used_memory !== undefined) used = (used ?? 0) + Number(info.used_memory);
      if (policy === null && info.maxmemory_policy) policy = info.maxmemory_policy;
      const server = parseInfo(await node.info("server"));
      if (server.run_id) runIds[id] = server.run_id;
    } catch (err) {
      if (!isReplyError(err)) throw err;
    }
  }
  try {
    const reply = (await (client.isCluster ? (await masters(client))[0]!.node : (client as Redis)).call("CONFIG", ["GET", "maxmemory-policy"])) as string[];
    if (reply[1]) policy = reply[1];
  } catch (err) {
    if (!isReplyError(err)) throw err;
  }
  return { used, policy, runIds };
}

class Pass {
  readonly report: RedisTtlReport;
  readonly #client: RedisClient;
  readonly #options: ResolvedRedisTtlOptions;
  readonly #compiled: Compiled;
  readonly #metrics: RedisTtlMetrics;
  readonly #ctx: RunContext;
  readonly #labels: { hook: string };
  readonly #markerPrefix: string;
  readonly #startedAt = performance.now();
  #read = 0;

  constructor(client: RedisClient, options: ResolvedRedisTtlOptions, compiled: Compiled, metrics: RedisTtlMetrics, ctx: RunContext, name: string, prefix: string) {
    this.#client = client;
    this.#options = options;
    this.#compiled = compiled;
    this.#metrics = metrics;
    this.#ctx = ctx;
    this.#labels = { hook: name };
    this.#markerPrefix = `${prefix}orphan:`;
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

  #overBudget(): boolean {
    const over = this.#read >= this.#options.budget.keys || performance.now() - this.#startedAt >= this.#options.budget.time;
    if (over) this.report.budgetExhausted = true;
    return over;
  }

  async #pause(): Promise<void> {
    throwIfAborted(this.#ctx.signal);
    if (this.#options.pause <= 0) return;
    try {
      await sleep(this.#options.pause, undefined, { signal: this.#ctx.signal });
    } catch {
      throw new AbortedError();
    }
  }

  #keyError(err: Error | null): boolean {
    if (err === null) return false;
    this.report.keyErrors++;
    this.#metrics.keyErrors.inc(this.#labels);
    return true;
  }

  #sample(list: string[] | undefined, key: string): void {
    if (list && list.length < this.#options.dryRunKeys) list.push(key);
  }

  /** Streams named by a literal key: trimmed on every pass (bounded by LIMIT per call). */
  async literalStreams(): Promise<void> {
    const work = this.#compiled.streams.filter((s) => s.pattern.literal).map((s) => ({ key: s.pattern.key, rule: s.rule }));
    await this.#trimStreams(this.#client, work);
  }

  async #trimStreams(target: RedisClient, work: Array<{ key: string; rule: ResolvedRedisTtlOptions["streams"][number] }>): Promise<void> {
    if (work.length === 0) return;
    const now = this.#ctx.now();
    const trimCommands = (key: string, rule: ResolvedRedisTtlOptions["streams"][number]): RedisCommand[] => {
      const cmds: RedisCommand[] = [];
      if (rule.maxLen !== undefined) cmds.push(["XTRIM", key, "MAXLEN", "~", rule.maxLen, "LIMIT", rule.limit]);
      if (rule.maxAge !== undefined) cmds.push(["XTRIM", key, "MINID", "~", `${Math.max(0, now - rule.maxAge)}-0`, "LIMIT", rule.limit]);
      return cmds;
    };
    if (this.#ctx.dryRun) {
      const cmds: RedisCommand[] = [];
      for (const { key, rule } of work) {
        cmds.push(["XLEN", key]);
        cmds.push(rule.maxAge !== undefined ? ["XRANGE", key, "-", `(${Math.max(0, now - rule.maxAge)}-0`, "COUNT", rule.limit] : ["XLEN", key]);
      }
      const replies = await sendBatch(target, cmds);
      work.forEach(({ key, rule }, i) => {
        const [lenErr, len] = replies[2 * i]!;
        const [oldErr, old] = replies[2 * i + 1]!;
        if (lenErr || oldErr) return; // not a stream
        const byLen = rule.maxLen !== undefined ? Math.max(0, Math.min(rule.limit, Number(len) - rule.maxLen)) : 0;
        const byAge = rule.maxAge !== undefined && Array.isArray(old) ? old.length : 0;
        const would = Math.max(byLen, byAge);
        if (would > 0) {
          this.report.streams.entries += would;
          this.report.streams.streams++;
          this.#sample(this.report.streams.keys, key);
        }
      });
      return;
    }
    // Each call evicts at most `limit` entries (whole macro nodes, `~`); keep calling while a call still removed
    // something, a bounded number of rounds per pass.
    let pending = work;
    const touched = new Set<string>();
    for (let round = 0; round < 100 && pending.length > 0; round++) {
      throwIfAborted(this.#ctx.signal);
      const cmds = pending.map(({ key, rule }) => trimCommands(key, rule));
      const replies = await sendBatch(target, cmds.flat());
      const next: typeof pending = [];
      let at = 0;
      pending.forEach((item, i) => {
        let removed = 0;
        for (let j = 0; j < cmds[i]!.length; j++) {
          const [err, value] = replies[at++]!;
          // WRONGTYPE: a key the glob matched is not a stream; not ours to trim.
          if (err && !err.message.startsWith("WRONGTYPE")) this.#keyError(err);
          else if (!err) removed += Number(value);
        }
        if (removed > 0) {
          this.report.streams.entries += removed;
          touched.add(item.key);
          next.push(item);
        }
      });
      pending = next;
    }
    this.report.streams.streams += touched.size;
  }

  /** Sets and sorted sets: members whose record is gone are removed (SSCAN/ZSCAN, cursor kept across passes). */
  async indexes(state: ScanState, save: (force?: boolean) => Promise<void>): Promise<void> {
    for (const [i, rule] of this.#options.indexes.entries()) {
      if (state.doneIndexes.includes(rule.key)) continue;
      if (this.#overBudget()) return;
      const report = this.report.indexes[i]!;
      const type = (await this.#client.type(rule.key)) as string;
      report.type = type;
      if (type !== "set" && type !== "zset") {
        if (type !== "none") this.#ctx.log.warn({ index: rule.key, type }, "index is neither a set nor a sorted set; left alone");
        state.doneIndexes.push(rule.key);
        continue;
      }
      let cursor = state.indexes[rule.key] ?? "0";
      do {
        throwIfAborted(this.#ctx.signal);
        const [next, flat] = (await this.#client.call(type === "set" ? "SSCAN" : "ZSCAN", [rule.key, cursor, "COUNT", this.#options.scanCount])) as [string, string[]];
        const members = type === "set" ? flat : flat.filter((_, j) => j % 2 === 0);
        this.#read += members.length;
        report.scanned += members.length;
        const records = members.map((m) => fillTemplate(rule.record, [], m));
        const exists = await sendBatch(this.#client, records.map((r) => ["EXISTS", r] as const));
        const dangling: Array<{ member: string; record: string }> = [];
        members.forEach((member, j) => {
          const [err, value] = exists[j]!;
          if (!this.#keyError(err) && Number(value) === 0) dangling.push({ member, record: records[j]! });
        });
        if (this.#ctx.dryRun) {
          report.removed += dangling.length;
          for (const d of dangling) this.#sample(report.members, d.member);
        } else if (dangling.length > 0) {
          const removed = await this.#removeDangling(rule.key, type, dangling);
          report.removed += removed;
          this.#metrics.indexRemoved.inc(this.#labels, removed);
        }
        cursor = next;
        state.indexes[rule.key] = cursor;
        if (cursor === "0") state.doneIndexes.push(rule.key);
        await save(cursor === "0");
        if (cursor !== "0" && this.#overBudget()) return;
        await this.#pause();
      } while (cursor !== "0");
    }
  }

  async #removeDangling(index: string, type: "set" | "zset", dangling: Array<{ member: string; record: string }>): Promise<number> {
    const op = type === "set" ? "srem" : "zrem";
    // One script per batch checks each record again and removes its member only while the record is absent. On a
    // cluster a script may only touch one slot: members whose record shares the index's slot (hash tags) go through
    // it; the others are removed right after the EXISTS that found their record gone (see README: the window).
    const atomic = this.#client.isCluster ? dangling.filter((d) => keySlot(d.record) === keySlot(index)) : dangling;
    const loose = this.#client.isCluster ? dangling.filter((d) => keySlot(d.record) !== keySlot(index)) : [];
    let removed = 0;
    if (atomic.length > 0) {
      removed += Number(await this.#client.eval(REMOVE_DANGLING, 1 + atomic.length, index, ...atomic.map((d) => d.record), op, ...atomic.map((d) => d.member)));
    }
    if (loose.length > 0) removed += Number(await this.#client.call(op.toUpperCase(), [index, ...loose.map((d) => d.member)]));
    return removed;
  }

  /** The keyspace scan: every master, SCAN COUNT batches, from the cursor the last pass left. */
  async scan(nodes: Array<{ id: string; node: Redis }>, state: ScanState, save: (force?: boolean) => Promise<void>, runIds: Record<string, string>): Promise<void> {
    const match = this.#compiled.scanMatch;
    state.runIds ??= {};
    for (const { id } of nodes) {
      // A SCAN cursor means nothing to another server process (a restart rebuilds the hash table with a new seed):
      // a master whose run_id changed is scanned again from the start.
      const runId = runIds[id];
      if (runId === undefined) continue;
      if (state.runIds[id] !== undefined && state.runIds[id] !== runId) {
        this.#ctx.log.info({ node: id }, "Redis restarted since the scan position was saved: this master is scanned again from the start");
        delete state.nodes[id];
        state.doneNodes = state.doneNodes.filter((done) => done !== id);
      }
      state.runIds[id] = runId;
    }
    for (const { id, node } of nodes) {
      if (state.doneNodes.includes(id)) continue;
      if (this.#overBudget()) return;
      let cursor = state.nodes[id] ?? "0";
      do {
        throwIfAborted(this.#ctx.signal);
        const args: (string | number)[] = [cursor, "COUNT", this.#options.scanCount];
        if (match !== undefined) args.push("MATCH", match);
        const [next, keys] = (await node.call("SCAN", args)) as [string, string[]];
        this.#read += keys.length;
        this.report.scanned += keys.length;
        this.#metrics.scanned.inc(this.#labels, keys.length);
        await this.#processKeys(node, keys, state);
        cursor = next;
        state.nodes[id] = cursor;
        if (cursor === "0") state.doneNodes.push(id);
        await save(cursor === "0");
        if (cursor !== "0" && this.#overBudget()) return;
        await this.#pause();
      } while (cursor !== "0");
    }
  }

  async #processKeys(node: Redis, keys: string[], state: ScanState): Promise<void> {
    const { policies, streams, orphans } = this.#compiled;
    // Keys whose first matching policy has no type go straight to `chosen` (the common case, no allocation per
    // key beyond the command); keys where a typed policy comes first keep their candidates until TYPE answers.
    const chosen: Array<{ key: string; policy: number }> = [];
    const typed: Array<{ key: string; candidates: number[] }> = [];
    const streamWork: Array<{ key: string; rule: ResolvedRedisTtlOptions["streams"][number] }> = [];
    const orphanWork: Array<{ key: string; rule: number; parent: string }> = [];
    for (const key of keys) {
      if (key.startsWith(OWNED_PREFIX)) continue;
      let candidates: number[] | undefined;
      for (let i = 0; i < policies.length; i++) {
        if (!policies[i]!.pattern.regex.test(key)) continue;
        if (policies[i]!.rule.type === undefined) {
          if (candidates) candidates.push(i);
          else chosen.push({ key, policy: i });
          break; // a later policy can only win over a typed one
        }
        (candidates ??= []).push(i);
      }
      if (candidates) typed.push({ key, candidates });
      for (const s of streams) {
        if (!s.pattern.literal && s.pattern.regex.test(key)) {
          streamWork.push({ key, rule: s.rule });
          break;
        }
      }
      for (let i = 0; i < orphans.length; i++) {
        const captures = matchKey(orphans[i]!.pattern, key);
        if (captures) {
          orphanWork.push({ key, rule: i, parent: fillTemplate(orphans[i]!.rule.parent, captures) });
          break;
        }
      }
    }

    // Typed candidates: one TYPE each; the first policy that fits takes the key.
    if (typed.length > 0) {
      const replies = await sendBatch(node, typed.map((k) => ["TYPE", k.key] as const));
      typed.forEach(({ key, candidates }, j) => {
        const [err, value] = replies[j]!;
        if (this.#keyError(err)) return;
        const policy = candidates.find((i) => {
          const want = policies[i]!.rule.type;
          return want === undefined || String(value) === want;
        });
        if (policy !== undefined) chosen.push({ key, policy });
      });
    }
    await this.#applyPolicies(node, chosen, state);
    await this.#trimStreams(node, streamWork);
    await this.#orphans(orphanWork, state);
  }

  async #applyPolicies(node: Redis, all: Array<{ key: string; policy: number }>, state: ScanState): Promise<void> {
    if (all.length === 0) return;
    const { policies } = this.#compiled;
    const dry = this.#ctx.dryRun;
    let chosen = all;
    if (!dry && !this.#client.isCluster) {
      // Single node, `missing`: one short script per policy and batch runs the PEXPIRE NX of its keys (at most
      // scanCount) and answers how many it set — one command instead of one per key, for Redis and for this
      // process. (On a cluster the keys of a batch span slots, which a script may not.)
      const byPolicy = new Map<number, string[]>();
      chosen = [];
      for (const item of all) {
        if (policies[item.policy]!.rule.mode !== "missing") chosen.push(item);
        else {
          const keys = byPolicy.get(item.policy);
          if (keys) keys.push(item.key);
          else byPolicy.set(item.policy, [item.key]);
        }
      }
      const groups = [...byPolicy];
      const replies = await sendBatch(node, groups.map(([policy, keys]) => ["EVAL", EXPIRE_MISSING, keys.length, ...keys, policies[policy]!.rule.ttl] as const));
      groups.forEach(([policy, keys], j) => {
        const [err, value] = replies[j]!;
        if (this.#keyError(err)) return;
        const set = Number(value);
        const report = this.report.policies[policy]!;
        report.matched += keys.length;
        report.withoutTtl += set;
        report.changed += set;
        state.withoutTtl[policy] = (state.withoutTtl[policy] ?? 0) + set;
      });
      if (chosen.length === 0) return;
    }
    // `missing`: PEXPIRE NX answers 1 exactly when the key had no TTL. `cap`: PTTL first (to count keys without a
    // TTL), then PEXPIRE LT, which sets a TTL where there was none and shortens a longer one, never lengthens.
    // Dry run: PTTL only.
    const cmds: RedisCommand[] = [];
    for (const { key, policy } of chosen) {
      const rule = policies[policy]!.rule;
      if (dry) cmds.push(["PTTL", key]);
      else if (rule.mode === "missing") cmds.push(["PEXPIRE", key, rule.ttl, "NX"]);
      else cmds.push(["PTTL", key], ["PEXPIRE", key, rule.ttl, "LT"]);
    }
    const replies = await sendBatch(node, cmds);
    let at = 0;
    const next = (): BatchReply => replies[at++]!;
    for (const { key, policy } of chosen) {
      const rule = policies[policy]!.rule;
      const report = this.report.policies[policy]!;
      let withoutTtl = false;
      let changed = false;
      if (dry) {
        const [err, value] = next();
        if (this.#keyError(err)) continue;
        const pttl = Number(value);
        if (pttl === -2) continue; // gone meanwhile
        withoutTtl = pttl === -1;
        changed = withoutTtl || (rule.mode === "cap" && pttl > rule.ttl);
      } else if (rule.mode === "missing") {
        const [err, value] = next();
        if (this.#keyError(err)) continue;
        withoutTtl = changed = Number(value) === 1;
      } else {
        const [pErr, pttl] = next();
        const [err, value] = next();
        if (this.#keyError(pErr) || this.#keyError(err)) continue;
        if (Number(pttl) === -2) continue;
        withoutTtl = Number(pttl) === -1;
        changed = Number(value) === 1;
      }
      report.matched++;
      if (withoutTtl) {
        report.withoutTtl++;
        state.withoutTtl[policy] = (state.withoutTtl[policy] ?? 0) + 1;
      }
      if (changed) {
        report.changed++;
        if (dry) this.#sample(report.keys, key);
      }
    }
  }

  /**
   * Orphans: a key whose parent is gone is deleted only when it was already seen orphaned at least `minAge` ago, in
   * this scan cycle or the one before (a marker `reclaim:redis-ttl:<name>:orphan:<key>` = "firstSeen:cycle", with a
   * TTL, kept in Redis so that replicas share it). Never on first sight.
   */
  async #orphans(work: Array<{ key: string; rule: number; parent: string }>, state: ScanState): Promise<void> {
    if (work.length === 0) return;
    const now = this.#ctx.now();
    const parents = await sendBatch(this.#client, work.map((w) => ["EXISTS", w.parent] as const));
    const orphaned = work.filter((_, j) => {
      const [err, value] = parents[j]!;
      return !this.#keyError(err) && Number(value) === 0;
    });
    if (orphaned.length === 0) return;
    const markers = await sendBatch(this.#client, orphaned.map((w) => ["GET", this.#markerPrefix + w.key] as const));
    const writes: RedisCommand[] = [];
    const deletes: Array<{ key: string; rule: number; parent: string }> = [];
    orphaned.forEach((w, j) => {
      const rule = this.#options.orphans[w.rule]!;
      const report = this.report.orphans[w.rule]!;
      report.orphaned++;
      const [err, raw] = markers[j]!;
      if (this.#keyError(err)) return;
      const [firstText, cycleText] = typeof raw === "string" ? raw.split(":") : [];
      const first = Number(firstText);
      const seenCycle = Number(cycleText);
      // A marker from two cycles back or older means the key was not orphaned in between (its parent came back):
      // start again. A dry run has its own cycle count, so it trusts any marker.
      const known = typeof raw === "string" && Number.isFinite(first) && Number.isFinite(seenCycle) && (this.#ctx.dryRun || state.cycle - seenCycle <= 1);
      const markerTtl = 2 * rule.minAge + 86_400_000;
      if (known && now - first >= rule.minAge) {
        deletes.push(w);
        return;
      }
      report.pending++;
      writes.push(["SET", this.#markerPrefix + w.key, `${known ? first : now}:${state.cycle}`, "PX", markerTtl]);
    });
    if (this.#ctx.dryRun) {
      for (const d of deletes) {
        this.report.orphans[d.rule]!.deleted++;
        this.#sample(this.report.orphans[d.rule]!.keys, d.key);
      }
      return;
    }
    await sendBatch(this.#client, writes);
    if (deletes.length === 0) return;
    // Delete only while the parent is still gone: one script per key where key and parent share a slot (always on a
    // single node), else UNLINK right after the EXISTS above (see README: the window).
    const cmds: RedisCommand[] = deletes.map((d) =>
      !this.#client.isCluster || keySlot(d.key) === keySlot(d.parent) ? ["EVAL", DELETE_IF_PARENT_GONE, 2, d.key, d.parent] : ["UNLINK", d.key],
    );
    const replies = await sendBatch(this.#client, cmds);
    const cleanup: RedisCommand[] = [];
    deletes.forEach((d, j) => {
      const [err, value] = replies[j]!;
      if (this.#keyError(err)) return;
      cleanup.push(["DEL", this.#markerPrefix + d.key]);
      if (Number(value) === 1) {
        this.report.orphans[d.rule]!.deleted++;
        this.#metrics.orphansDeleted.inc(this.#labels);
      }
    });
    await sendBatch(this.#client, cleanup);
  }

  finish(): RedisTtlReport {
    const r = this.report;
    const indexRemoved = r.indexes.reduce((n, i) => n + i.removed, 0);
    const orphansDeleted = r.orphans.reduce((n, o) => n + o.deleted, 0);
    r.removed = r.streams.entries + indexRemoved + orphansDeleted;
    r.removedByKind = { stream_entry: r.streams.entries, index_member: indexRemoved, orphan: orphansDeleted };
    if (!r.dryRun) {
      this.#metrics.streamTrimmed.inc(this.#labels, r.streams.entries);
      for (const p of r.policies) this.#metrics.ttlsSet.inc({ ...this.#labels, policy: p.match }, p.changed);
    }
    const ttlsSet = r.policies.reduce((n, p) => n + p.changed, 0);
    const withoutTtl = r.policies.reduce((n, p) => n + p.withoutTtl, 0);
    const orphansPending = r.orphans.reduce((n, o) => n + o.pending, 0);
    this.#ctx.span.setAttributes({
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
    this.#ctx.log.info(
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
