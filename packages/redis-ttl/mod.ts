/**
 * @module
 * Keep a Redis bounded: TTLs by key pattern (never lengthened, keys matching no policy never touched), stream
 * trimming by length and age, removal of index members whose record is gone, deletion of keys whose parent has been
 * gone for a while — in small SCAN batches on every master, within a per-pass budget. And `auditRedis()`: what fills
 * a Redis, by inferred key pattern.
 *
 * @example
 * ```ts
 * import { createRunner } from "@reclaim/core";
 * import { createRedisTtlHook } from "@reclaim/redis-ttl";
 * import { Redis } from "ioredis";
 *
 * const hook = createRedisTtlHook({
 *   redis: new Redis(process.env.REDIS_URL!),
 *   policies: [
 *     { match: "worker:heartbeat:*", ttl: "5m" },
 *     { match: "machine:*", ttl: "1h", mode: "cap" },
 *   ],
 *   streams: [{ match: "events:*", maxLen: 10_000 }],
 *   registry,
 * });
 * createRunner(hook, { interval: 300_000, registry, logger }).start();
 * ```
 */
export * from "./audit.ts";
export * from "./definition.ts";
export * from "./options.ts";
export * from "./redis_ttl_hook.ts";
