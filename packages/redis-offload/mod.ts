/**
 * @module
 * Redis → Postgres offload: records (hashes or JSON strings) older than their source's `hotFor` are copied to a
 * partitioned archive table and then deleted from Redis by an atomic compare-and-delete that leaves a record alone
 * when it changed since it was read; archived rows leave Postgres once past their kind's `archiveFor`. Every record
 * is in Redis, in the archive, or both, whenever the process dies.
 *
 * @example
 * ```ts
 * import { createRunner } from "@reclaim/core";
 * import { createRedisOffloadHook } from "@reclaim/redis-offload";
 *
 * const hook = createRedisOffloadHook({
 *   sources: [
 *     { match: "worker:completion:*", kind: "completed", timeField: "completed_at", hotFor: "7d", archiveFor: "90d" },
 *     { match: "worker:failure:*", kind: "failed", timeField: "failed_at", hotFor: "14d", archiveFor: "180d" },
 *   ],
 *   redis, postgres: pool, registry,
 * });
 * createRunner(hook, { interval: 86_400_000, registry }).start();
 * ```
 */
export * from "./archive_reader.ts";
export * from "./definition.ts";
export * from "./offload.ts";
export * from "./options.ts";
