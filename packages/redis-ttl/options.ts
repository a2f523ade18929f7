import { duration, type HookIdentity, type RedisClient } from "@reclaim/core";
import { z } from "zod";
import { compilePattern, highestPlaceholder } from "./_pattern.ts";

/** Hook type, and the default instance name (the `hook` label of every metric the hook registers). */
export const REDIS_TTL_HOOK = "redis-ttl";

/** Redis key types a policy can be limited to (what `TYPE` answers). */
export const redisKeyTypes = ["string", "list", "set", "zset", "hash", "stream"] as const;

/** A Redis key type, as `TYPE` names it. */
export type RedisKeyType = (typeof redisKeyTypes)[number];

const glob = z.string().min(1, "must be a key pattern such as \"worker:heartbeat:*\"");

/** One TTL policy: keys matching `match` get a TTL of `ttl`. */
const policySchema = z.strictObject({
  /** Redis glob (`SCAN MATCH` syntax). A key takes the first policy it matches. */
  match: glob,
  /** The TTL to give. */
  ttl: duration().refine((ms) => ms >= 1_000, "must be at least 1s"),
  /** `missing`: only keys without a TTL (PEXPIRE NX). `cap`: also shorten longer TTLs (PEXPIRE LT). Never lengthens. @default "missing" */
  mode: z.enum(["missing", "cap"]).default("missing"),
  /** Only keys of this type. @default any type */
  type: z.enum(redisKeyTypes).optional(),
});

/** One stream rule: streams matching `match` are trimmed by length and/or age. */
const streamSchema = z
  .strictObject({
    /** A stream key, or a Redis glob for many. */
    match: glob,
    /** Keep about this many entries (`XTRIM MAXLEN ~`). */
    maxLen: z.number().int().min(0).optional(),
    /** Drop entries older than this, by the time in their id (`XTRIM MINID ~`). */
    maxAge: duration().refine((ms) => ms >= 1_000, "must be at least 1s").optional(),
    /** At most this many entries evicted by one XTRIM call (`LIMIT`). @default 1000 */
    limit: z.number().int().min(1).max(1_000_000).default(1_000),
  })
  .refine((s) => s.maxLen !== undefined || s.maxAge !== undefined, { message: "needs maxLen or maxAge", path: ["maxLen"] });

/** One index: a set or sorted set whose members name records; members whose record is gone are removed. */
const indexSchema = z.strictObject({
  /** The set or sorted set. */
  key: z.string().min(1),
  /** The record key of a member, with `{member}` where the member goes, e.g. `worker:completion:{member}`. */
  record: z.string().includes("{member}", { message: "must contain {member}, e.g. \"worker:completion:{member}\"" }),
});

/** One orphan rule: keys matching `match` whose `parent` is gone are deleted once orphaned for `minAge`. */
const orphanSchema = z
  .strictObject({
    /** Redis glob with at least one `*`, e.g. `job:*:meta`. */
    match: glob.refine((m) => compilePattern(m).stars > 0, "must contain a * (its value goes into parent as {1})"),
    /** The parent key, `{1}` for the first `*` of match, `{2}` for the second..., e.g. `job:{1}`. */
    parent: z.string().regex(/\{\d+\}/, "must use {1} (the first * of match), e.g. \"job:{1}\""),
    /** How long a key must have been seen orphaned (on two passes this far apart) before it is deleted. @default "1h" */
    minAge: duration().prefault("1h"),
  })
  .refine((o) => highestPlaceholder(o.parent) <= compilePattern(o.match).stars, { message: "uses a {n} beyond the number of * in match", path: ["parent"] });

/**
 * The serialisable options of {@link createRedisTtlHook} and the `hooks.redis-ttl` block of `reclaim.config.json`
 * (zod schema, defaults filled in, durations in milliseconds).
 *
 * @example
 * ```ts
 * redisTtlOptions.parse({ policies: [{ match: "worker:heartbeat:*", ttl: "5m" }] }).policies[0];
 * // { match: "worker:heartbeat:*", ttl: 300000, mode: "missing" }
 * ```
 */
export const redisTtlOptions = z
  .strictObject({
    /** TTLs by key pattern. @default [] */
    policies: z.array(policySchema).default([]),
    /** Streams to trim. @default [] */
    streams: z.array(streamSchema).default([]),
    /** Sets and sorted sets to clear of dangling members. @default [] */
    indexes: z.array(indexSchema).default([]),
    /** Keys to delete once their parent has been gone for `minAge`. @default [] */
    orphans: z.array(orphanSchema).default([]),
    /** `SCAN`/`SSCAN`/`ZSCAN` `COUNT`: keys asked for per batch, one pipeline per batch. @default 1000 */
    scanCount: z.number().int().min(10).max(100_000).default(1_000),
    /** Pause between two batches, so the hook never holds Redis or a core for long. @default "2ms" */
    pause: duration().prefault("2ms"),
    /** Work done by one pass at most; the scan position is kept in Redis and the next pass goes on from there. */
    budget: z
      .strictObject({
        /** Keys (and index members) read by one pass. @default 500000 */
        keys: z.number().int().min(1).default(500_000),
        /** Time one pass may take. @default "30s" */
        time: duration().prefault("30s").refine((ms) => ms >= 100, "must be at least 100ms"),
      })
      .prefault({}),
    /** Keys listed per policy, stream rule, index and orphan rule in a dry-run report. @default 100 */
    dryRunKeys: z.number().int().min(0).max(100_000).default(100),
  })
  .refine((o) => o.policies.length + o.streams.length + o.indexes.length + o.orphans.length > 0, {
    message: "needs at least one of policies, streams, indexes, orphans",
    path: ["policies"],
  });

/** Resolved, frozen options of a redis-ttl hook (durations in ms). */
export type ResolvedRedisTtlOptions = z.output<typeof redisTtlOptions>;

/** One policy of the resolved options. */
export type RedisTtlPolicy = ResolvedRedisTtlOptions["policies"][number];

/**
 * Options of {@link createRedisTtlHook}: the serialisable options plus runtime extras (`redis`, and `name` and
 * `registry` from `HookIdentity`: the instance name is `hook.name`, the `hook` label of every metric and the prefix
 * of the hook's own keys). Durations are ms or `"5m"`.
 */
export interface RedisTtlHookOptions extends HookIdentity {
  /** `[{ match: "worker:heartbeat:*", ttl: "5m", mode?: "missing" | "cap", type?: "hash" }]`. @default [] */
  policies?: Array<{ match: string; ttl: number | string; mode?: "missing" | "cap" | undefined; type?: RedisKeyType | undefined }>;
  /** `[{ match: "events:*", maxLen?: 10000, maxAge?: "7d", limit?: 1000 }]`. @default [] */
  streams?: Array<{ match: string; maxLen?: number | undefined; maxAge?: number | string | undefined; limit?: number | undefined }>;
  /** `[{ key: "jobs:completed", record: "worker:completion:{member}" }]`. @default [] */
  indexes?: Array<{ key: string; record: string }>;
  /** `[{ match: "job:*:meta", parent: "job:{1}", minAge?: "1h" }]`. @default [] */
  orphans?: Array<{ match: string; parent: string; minAge?: number | string | undefined }>;
  /** Keys per SCAN batch. @default 1000 */
  scanCount?: number;
  /** Pause between batches. @default "2ms" */
  pause?: number | string;
  /** Per-pass budget. @default { keys: 500000, time: "30s" } */
  budget?: { keys?: number; time?: number | string };
  /** Keys listed per rule in a dry-run report. @default 100 */
  dryRunKeys?: number;
  /** The Redis (single node or cluster), or a getter called at the start of each pass. Required. */
  redis: RedisClient | (() => Promise<RedisClient>);
}
