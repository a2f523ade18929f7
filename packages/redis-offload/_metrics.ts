import { counter, gauge } from "@reclaim/core";
import type { Registry } from "prom-client";

/** The offload hook's own metrics, bound to one hook instance (every series carries its `hook` label). */
export interface OffloadMetrics {
  archived(kind: string, rows: number): void;
  deleted(kind: string, records: number): void;
  skippedChanged(kind: string, records: number): void;
  undatable(kind: string, records: number): void;
  archive(kind: string, rows: number, bytes: number): void;
  lag(kind: string, seconds: number): void;
  retentionRows(kind: string, rows: number): void;
  partitionsDropped(count: number): void;
  ddlFailures(count: number): void;
  writeFailures(kind: string, count: number): void;
}

/** Registers (once per registry) the offload metrics and binds them to the instance `hook`; counters start at 0 per kind. */
export function offloadMetrics(registry: Registry, hook: string, kinds: readonly string[]): OffloadMetrics {
  const archived = counter(registry, { name: "reclaim_offload_archived_total", help: "Redis records written to the Postgres archive, by kind.", labelNames: ["hook", "kind"] });
  const deleted = counter(registry, { name: "reclaim_offload_deleted_total", help: "Archived records deleted from Redis (compare-and-delete), by kind.", labelNames: ["hook", "kind"] });
  const skipped = counter(registry, {
    name: "reclaim_offload_skipped_changed_total",
    help: "Archived records left in Redis because they changed between the read and the delete, by kind (archived again later).",
    labelNames: ["hook", "kind"],
  });
  const undatable = gauge(registry, {
    name: "reclaim_offload_undatable_records",
    help: "Records seen by the last pass whose time field is missing or unreadable (never touched), by kind.",
    labelNames: ["hook", "kind"],
  });
  const rows = gauge(registry, { name: "reclaim_offload_archive_rows", help: "Rows in the archive table at the end of the last pass, by kind.", labelNames: ["hook", "kind"] });
  const bytes = gauge(registry, { name: "reclaim_offload_archive_bytes", help: "Payload bytes (jsonb) in the archive table at the end of the last pass, by kind.", labelNames: ["hook", "kind"] });
  const lag = gauge(registry, {
    name: "reclaim_offload_lag_seconds",
    help: "How long past hotFor the oldest record still in Redis after the last pass is, by kind (0: none overdue).",
    labelNames: ["hook", "kind"],
  });
  const retention = counter(registry, { name: "reclaim_offload_retention_rows_total", help: "Archive rows removed by retention in batched deletes, by kind.", labelNames: ["hook", "kind"] });
  const dropped = counter(registry, { name: "reclaim_offload_partitions_dropped_total", help: "Archive partitions dropped whole by retention.", labelNames: ["hook"] });
  const ddl = counter(registry, { name: "reclaim_offload_ddl_failures_total", help: "Archive maintenance steps that failed: DDL, and a kind's retention deletes (lock conflict under lock_timeout, ...); the pass went on.", labelNames: ["hook"] });
  const writes = counter(registry, {
    name: "reclaim_offload_archive_write_failures_total",
    help: "Archive writes Postgres refused, by kind: a batch (its records stay in Redis) or, when a batch is retried row by row, one row (deferred).",
    labelNames: ["hook", "kind"],
  });
  for (const kind of kinds) {
    writes.inc({ hook, kind }, 0);
    archived.inc({ hook, kind }, 0);
    deleted.inc({ hook, kind }, 0);
    skipped.inc({ hook, kind }, 0);
    retention.inc({ hook, kind }, 0);
  }
  dropped.inc({ hook }, 0);
  ddl.inc({ hook }, 0);
  return {
    archived: (kind, n) => archived.inc({ hook, kind }, n),
    deleted: (kind, n) => deleted.inc({ hook, kind }, n),
    skippedChanged: (kind, n) => skipped.inc({ hook, kind }, n),
    undatable: (kind, n) => undatable.set({ hook, kind }, n),
    archive(kind, r, b) {
      rows.set({ hook, kind }, r);
      bytes.set({ hook, kind }, b);
    },
    lag: (kind, seconds) => lag.set({ hook, kind }, seconds),
    retentionRows: (kind, n) => retention.inc({ hook, kind }, n),
    partitionsDropped: (n) => dropped.inc({ hook }, n),
    ddlFailures: (n) => ddl.inc({ hook }, n),
    writeFailures: (kind, n) => writes.inc({ hook, kind }, n),
  };
}
