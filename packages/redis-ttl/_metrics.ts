import { counter, gauge } from "@reclaim/core";
import type { Counter, Gauge, Registry } from "prom-client";

export interface RedisTtlMetrics {
  usedMemory: Gauge<"hook">;
  maxMemory: Gauge<"hook">;
  scanned: Counter<"hook">;
  ttlsSet: Counter<"hook" | "policy">;
  withoutTtl: Gauge<"hook" | "policy">;
  streamTrimmed: Counter<"hook">;
  indexRemoved: Counter<"hook">;
  orphansDeleted: Counter<"hook">;
  volatileEviction: Gauge<"hook">;
  cycles: Counter<"hook">;
  keyErrors: Counter<"hook">;
}

/** The redis-ttl metrics on `registry` (get-or-create, so instances share families and differ by `hook`). */
export function redisTtlMetrics(registry: Registry): RedisTtlMetrics {
  return {
    usedMemory: gauge(registry, {
      name: "reclaim_redis_used_memory_bytes",
      help: "Memory Redis reports in use (INFO used_memory, summed over masters), read at the start of each pass.",
      labelNames: ["hook"],
    }),
    maxMemory: gauge(registry, {
      name: "reclaim_redis_maxmemory_bytes",
      help: "Redis's maxmemory (INFO maxmemory, summed over masters; 0 = no limit), read at the start of each pass.",
      labelNames: ["hook"],
    }),
    scanned: counter(registry, { name: "reclaim_redis_keys_scanned_total", help: "Keys returned by SCAN to the redis-ttl hook.", labelNames: ["hook"] }),
    ttlsSet: counter(registry, {
      name: "reclaim_redis_ttls_set_total",
      help: "TTLs set or shortened by a redis-ttl policy (policy = its match pattern).",
      labelNames: ["hook", "policy"],
    }),
    withoutTtl: gauge(registry, {
      name: "reclaim_redis_keys_without_ttl",
      help: "Keys matching a redis-ttl policy that had no TTL when the last complete scan reached them (policy = its match pattern).",
      labelNames: ["hook", "policy"],
    }),
    streamTrimmed: counter(registry, { name: "reclaim_redis_stream_entries_trimmed_total", help: "Stream entries removed by XTRIM.", labelNames: ["hook"] }),
    indexRemoved: counter(registry, {
      name: "reclaim_redis_index_members_removed_total",
      help: "Set and sorted-set members removed because their record key no longer exists.",
      labelNames: ["hook"],
    }),
    orphansDeleted: counter(registry, {
      name: "reclaim_redis_orphans_deleted_total",
      help: "Keys deleted after their parent key had been gone for minAge.",
      labelNames: ["hook"],
    }),
    volatileEviction: gauge(registry, {
      name: "reclaim_redis_volatile_eviction",
      help: "1 when maxmemory-policy is volatile-* (keys given a TTL become evictable), 0 when not, -1 when it cannot be read.",
      labelNames: ["hook"],
    }),
    cycles: counter(registry, { name: "reclaim_redis_scan_cycles_total", help: "Complete scans of the keyspace (every master, every index).", labelNames: ["hook"] }),
    keyErrors: counter(registry, {
      name: "reclaim_redis_key_errors_total",
      help: "Per-key commands Redis refused (WRONGTYPE, MOVED, ...): the key is skipped, the pass goes on.",
      labelNames: ["hook"],
    }),
  };
}
