import { setTimeout as sleep } from "node:timers/promises";
import { formatSize } from "@reclaim/core";
import { masters, parseInfo, sendBatch, isReplyError, type RedisClient } from "./_redis.ts";

/** Options of {@link auditRedis}. */
export interface RedisAuditOptions {
  /** Only keys matching this Redis glob (`SCAN MATCH`). @default "*" */
  match?: string;
  /** Patterns and largest keys listed. @default 10 */
  top?: number;
  /** Keys looked at closely (TYPE, PTTL, MEMORY USAGE): the sample rate is `min(1, sampleSize / DBSIZE)`. @default 100000 */
  sampleSize?: number;
  /** An explicit sample rate in (0, 1]; overrides `sampleSize`. @default from sampleSize */
  sampleRate?: number;
  /** `SCAN COUNT`. @default 1000 */
  scanCount?: number;
  /** Pause between batches, ms. @default 2 */
  pause?: number;
  /** Stops the audit between batches. @default none */
  signal?: AbortSignal;
}

/** Keys grouped under one inferred pattern (`worker:completion:*` from `worker:completion:8f3a...`). */
export interface RedisAuditPattern {
  pattern: string;
  /** Keys seen by the scan (exact). */
  keys: number;
  /** Keys of this pattern in the sample. */
  sampled: number;
  /** Estimated bytes: mean MEMORY USAGE of the sampled keys x keys. */
  memoryBytes: number;
  /** Estimated keys without a TTL: sampled fraction x keys. */
  withoutTtl: number;
  /** Types seen in the sample, with counts. */
  types: Record<string, number>;
}

/** One of the largest sampled keys. */
export interface RedisAuditKey {
  key: string;
  type: string;
  bytes: number;
  /** Milliseconds left, or -1 without a TTL. */
  ttlMs: number;
}

/** What {@link auditRedis} found. Key counts are exact; memory, TTL and type figures are estimates from the sample. */
export interface RedisAudit {
  match: string;
  /** Keys the scan returned (every master). */
  keys: number;
  /** DBSIZE summed over masters when the audit started. */
  dbsize: number;
  /** Keys looked at closely, and the rate they were drawn at. */
  sampled: number;
  sampleRate: number;
  /** Estimated bytes of the matched keys (sum of the patterns' estimates). */
  memoryBytes: number;
  /** Estimated keys without a TTL. */
  withoutTtl: number;
  /** INFO used_memory summed over masters, or null when INFO is forbidden. */
  usedMemoryBytes: number | null;
  maxmemoryPolicy: string | null;
  /** Patterns by estimated memory, largest first (at most `top`). */
  patterns: RedisAuditPattern[];
  /** Patterns beyond `top`, and patterns beyond the tracking limit, summed. */
  otherPatterns: { patterns: number; keys: number; memoryBytes: number };
  /** Largest sampled keys (at most `top`). */
  largest: RedisAuditKey[];
  /** Estimated keys per TTL bucket: `none`, `<1m`, `<1h`, `<1d`, `<7d`, `<30d`, `>=30d`. */
  ttl: Array<{ bucket: string; keys: number }>;
  durationMs: number;
}

const TTL_BUCKETS: ReadonlyArray<[string, number]> = [
  ["<1m", 60_000],
  ["<1h", 3_600_000],
  ["<1d", 86_400_000],
  ["<7d", 7 * 86_400_000],
  ["<30d", 30 * 86_400_000],
  [">=30d", Number.POSITIVE_INFINITY],
];

/** Distinct patterns tracked; beyond it keys go to "(other)", so the audit's memory stays bounded. */
const MAX_PATTERNS = 10_000;

/**
 * Infers the pattern of a key: each `:`- or `/`-separated part that looks like an id (has a digit, is a long hex
 * or token) becomes `*`, so `worker:completion:8f3a9c...` and `job:42:meta` become `worker:completion:*` and `job:*:meta`.
 *
 * @example
 * ```ts
 * inferPattern("worker:completion:8f3a9c01-77aa-4b7e-9d2f-0c1b2a3d4e5f"); // "worker:completion:*"
 * ```
 */
export function inferPattern(key: string): string {
  return key
    .split(/([:/])/)
    .map((part, i) => (i % 2 === 1 ? part : idLike(part)))
    .join("");
}

function idLike(part: string): string {
  const tag = /^\{(.*)\}$/.exec(part);
  if (tag) return `{${idLike(tag[1]!)}}`;
  if (part === "") return part;
  if (/\d/.test(part) || /^[0-9a-f]{8,}$/i.test(part) || (part.length >= 20 && /^[A-Za-z0-9_-]+$/.test(part))) return "*";
  return part;
}

/**
 * Answers "what fills my Redis": keys, estimated memory (`MEMORY USAGE`) and keys without a TTL grouped by inferred
 * key pattern, the largest keys and the TTL distribution. Bounded load: `SCAN COUNT` on every master, one pipeline
 * per batch, a pause between batches, and only a sample of keys (rate stated in the result) is looked at closely.
 *
 * @example
 * ```ts
 * const audit = await auditRedis(new Redis(process.env.REDIS_URL!), { top: 10 });
 * console.log(formatRedisAudit(audit));
 * ```
 */
export async function auditRedis(client: RedisClient, options: RedisAuditOptions = {}): Promise<RedisAudit> {
  const started = performance.now();
  const match = options.match ?? "*";
  const top = options.top ?? 10;
  const scanCount = options.scanCount ?? 1_000;
  const pause = options.pause ?? 2;
  const nodes = await masters(client);

  let dbsize = 0;
  let usedMemoryBytes: number | null = null;
  let maxmemoryPolicy: string | null = null;
  for (const { node } of nodes) {
    dbsize += Number(await node.dbsize());
    try {
      const info = parseInfo(await node.info("memory"));
      if (info.used_memory !== undefined) usedMemoryBytes = (usedMemoryBytes ?? 0) + Number(info.used_memory);
      maxmemoryPolicy ??= info.maxmemory_policy ?? null;
    } catch (err) {
      if (!isReplyError(err)) throw err;
    }
  }
  const sampleRate = options.sampleRate ?? Math.min(1, (options.sampleSize ?? 100_000) / Math.max(1, dbsize));
  if (!(sampleRate > 0 && sampleRate <= 1)) throw new RangeError(`sampleRate must be in (0, 1]: current value is ${sampleRate}`);

  interface Group { keys: number; sampled: number; bytes: number; withoutTtl: number; types: Record<string, number> }
  const groups = new Map<string, Group>();
  const other: Group = { keys: 0, sampled: 0, bytes: 0, withoutTtl: 0, types: {} };
  const largest: RedisAuditKey[] = [];
  const ttlSampled = new Map<string, number>([["none", 0], ...TTL_BUCKETS.map(([name]) => [name, 0] as [string, number])]);
  let keys = 0;
  let sampled = 0;

  for (const { node } of nodes) {
    let cursor = "0";
    do {
      options.signal?.throwIfAborted();
      const [next, batch] = (await node.call("SCAN", [cursor, "MATCH", match, "COUNT", scanCount])) as [string, string[]];
      cursor = next;
      keys += batch.length;
      const picked: Array<{ key: string; group: Group }> = [];
      for (const key of batch) {
        const pattern = inferPattern(key);
        let group = groups.get(pattern);
        if (!group) {
          if (groups.size < MAX_PATTERNS) groups.set(pattern, (group = { keys: 0, sampled: 0, bytes: 0, withoutTtl: 0, types: {} }));
          else group = other;
        }
        group.keys++;
        if (sampleRate >= 1 || Math.random() < sampleRate) picked.push({ key, group });
      }
      if (picked.length > 0) {
        const replies = await sendBatch(node, picked.flatMap(({ key }) => [["TYPE", key], ["PTTL", key], ["MEMORY", "USAGE", key]] as const));
        picked.forEach(({ key, group }, i) => {
          const [typeErr, type] = replies[3 * i]!;
          const [ttlErr, ttl] = replies[3 * i + 1]!;
          const [memErr, mem] = replies[3 * i + 2]!;
          if (typeErr || ttlErr || memErr || type === "none" || Number(ttl) === -2) return; // gone meanwhile, or refused
          const bytes = Number(mem ?? 0);
          const ttlMs = Number(ttl);
          sampled++;
          group.sampled++;
          group.bytes += bytes;
          group.types[String(type)] = (group.types[String(type)] ?? 0) + 1;
          if (ttlMs === -1) group.withoutTtl++;
          const bucket = ttlMs === -1 ? "none" : TTL_BUCKETS.find(([, limit]) => ttlMs < limit)![0];
          ttlSampled.set(bucket, ttlSampled.get(bucket)! + 1);
          if (largest.length < top || bytes > largest.at(-1)!.bytes) {
            largest.push({ key, type: String(type), bytes, ttlMs });
            largest.sort((a, b) => b.bytes - a.bytes);
            if (largest.length > top) largest.pop();
          }
        });
      }
      if (cursor !== "0" && pause > 0) await sleep(pause, undefined, options.signal ? { signal: options.signal } : {});
    } while (cursor !== "0");
  }

  const estimate = (pattern: string, g: Group): RedisAuditPattern => ({
    pattern,
    keys: g.keys,
    sampled: g.sampled,
    memoryBytes: g.sampled > 0 ? Math.round((g.bytes / g.sampled) * g.keys) : 0,
    withoutTtl: g.sampled > 0 ? Math.round((g.withoutTtl / g.sampled) * g.keys) : 0,
    types: g.types,
  });
  const all = [...groups].map(([pattern, g]) => estimate(pattern, g));
  if (other.keys > 0) all.push(estimate("(other)", other));
  all.sort((a, b) => b.memoryBytes - a.memoryBytes || b.keys - a.keys);
  const rest = all.slice(top);
  return {
    match,
    keys,
    dbsize,
    sampled,
    sampleRate,
    memoryBytes: all.reduce((n, p) => n + p.memoryBytes, 0),
    withoutTtl: all.reduce((n, p) => n + p.withoutTtl, 0),
    usedMemoryBytes,
    maxmemoryPolicy,
    patterns: all.slice(0, top),
    otherPatterns: { patterns: rest.length, keys: rest.reduce((n, p) => n + p.keys, 0), memoryBytes: rest.reduce((n, p) => n + p.memoryBytes, 0) },
    largest,
    ttl: [...ttlSampled].map(([bucket, n]) => ({ bucket, keys: sampled > 0 ? Math.round((n / sampled) * keys) : 0 })),
    durationMs: Math.round(performance.now() - started),
  };
}

/**
 * Renders an audit as readable tables (what `reclaim redis audit` prints without `--json`).
 *
 * @example
 * ```ts
 * console.log(formatRedisAudit(await auditRedis(redis)));
 * ```
 */
export function formatRedisAudit(audit: RedisAudit): string {
  const lines: string[] = [];
  const pct = (rate: number): string => `${(rate * 100).toFixed(rate >= 0.1 ? 0 : 2)}%`;
  lines.push(
    `Redis audit of ${audit.match === "*" ? "every key" : `keys matching ${audit.match}`}: ${num(audit.keys)} keys (DBSIZE ${num(audit.dbsize)}), ` +
      `used_memory ${audit.usedMemoryBytes === null ? "unknown" : formatSize(audit.usedMemoryBytes)}, maxmemory-policy ${audit.maxmemoryPolicy ?? "unknown"}`,
  );
  lines.push(
    `Sampled ${num(audit.sampled)} keys at a rate of ${audit.sampleRate === 1 ? "1 (every key)" : `${audit.sampleRate.toPrecision(3)} (${pct(audit.sampleRate)})`}: ` +
      `key counts are exact${audit.sampleRate === 1 ? ", memory and TTL figures measured" : "; memory, TTL and type figures are estimates from the sample"}. ` +
      `Took ${(audit.durationMs / 1000).toFixed(1)} s.`,
  );
  lines.push("");
  const est = audit.sampleRate === 1 ? "" : " (est.)";
  lines.push(
    ...table(
      ["pattern", "keys", `memory${est}`, `no TTL${est}`, "types"],
      [
        ...audit.patterns.map((p) => [p.pattern, num(p.keys), formatSize(p.memoryBytes), num(p.withoutTtl), Object.keys(p.types).sort().join(",")]),
        ...(audit.otherPatterns.patterns > 0 ? [[`(${num(audit.otherPatterns.patterns)} more patterns)`, num(audit.otherPatterns.keys), formatSize(audit.otherPatterns.memoryBytes), "", ""]] : []),
        ["total", num(audit.keys), formatSize(audit.memoryBytes), num(audit.withoutTtl), ""],
      ],
      [false, true, true, true, false],
    ),
  );
  lines.push("", `Largest keys${audit.sampleRate === 1 ? "" : " in the sample"}:`);
  lines.push(...table(["key", "type", "memory", "TTL"], audit.largest.map((k) => [k.key, k.type, formatSize(k.bytes), k.ttlMs === -1 ? "none" : duration(k.ttlMs)]), [false, false, true, true]));
  lines.push("", `TTL distribution${est}:`);
  lines.push(...table(["TTL", "keys"], audit.ttl.map((t) => [t.bucket === "none" ? "no TTL" : t.bucket, num(t.keys)]), [false, true]));
  return lines.join("\n");
}

function table(header: string[], rows: string[][], right: boolean[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (right[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)];
}

function num(n: number): string {
  return n.toLocaleString("en-US");
}

function duration(ms: number): string {
  if (ms < 60_000) return `${Math.round(ms / 1000)}s`;
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)}m`;
  if (ms < 86_400_000) return `${(ms / 3_600_000).toFixed(1)}h`;
  return `${(ms / 86_400_000).toFixed(1)}d`;
}
