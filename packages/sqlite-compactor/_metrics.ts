import { counter, gauge, histogram } from "@reclaim/core";
import type { Registry } from "prom-client";

/** The compactor's own metrics, bound to one hook instance (every series carries its `hook` label). */
export interface CompactorMetrics {
  fileBytes: { set(bytes: number): void };
  freelistPages: { set(pages: number): void };
  rowsRemoved: { inc(labels: { table: string }, rows: number): void };
  rowsArchived: { inc(labels: { table: string }, rows: number): void };
  vacuumConversions: { inc(labels: { outcome: "converted" | "skipped_low_disk" | "failed" }): void };
  transactionSeconds: { observe(seconds: number): void };
}

/** Registers (once per registry) the compactor's metrics and binds them to the instance `hook`. */
export function compactorMetrics(registry: Registry, hook: string): CompactorMetrics {
  const fileBytes = gauge(registry, {
    name: "reclaim_sqlite_file_bytes",
    help: "Size of the SQLite database (page_count * page_size) at the end of the last pass, in bytes.",
    labelNames: ["hook"],
  });
  const freelistPages = gauge(registry, { name: "reclaim_sqlite_freelist_pages", help: "Free pages in the SQLite database at the end of the last pass.", labelNames: ["hook"] });
  const rowsRemoved = counter(registry, { name: "reclaim_sqlite_rows_removed_total", help: "Rows deleted by retention, by table.", labelNames: ["hook", "table"] });
  const rowsArchived = counter(registry, { name: "reclaim_sqlite_rows_archived_total", help: "Rows copied to the archive database, by table.", labelNames: ["hook", "table"] });
  const vacuumConversions = counter(registry, {
    name: "reclaim_sqlite_vacuum_conversions_total",
    help: "One-time VACUUM conversions to auto_vacuum=INCREMENTAL, by outcome (converted, skipped_low_disk, failed).",
    labelNames: ["hook", "outcome"],
  });
  const transactionSeconds = histogram(registry, {
    name: "reclaim_sqlite_write_transaction_seconds",
    help: "Duration of each write transaction of the compactor (delete, archive or incremental vacuum batch), in seconds.",
    labelNames: ["hook"],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
  });
  return {
    fileBytes: { set: (bytes) => fileBytes.set({ hook }, bytes) },
    freelistPages: { set: (pages) => freelistPages.set({ hook }, pages) },
    rowsRemoved: { inc: ({ table }, rows) => rowsRemoved.inc({ hook, table }, rows) },
    rowsArchived: { inc: ({ table }, rows) => rowsArchived.inc({ hook, table }, rows) },
    vacuumConversions: { inc: ({ outcome }) => vacuumConversions.inc({ hook, outcome }) },
    transactionSeconds: { observe: (seconds) => transactionSeconds.observe({ hook }, seconds) },
  };
}
