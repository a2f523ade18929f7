import { counter, gauge, histogram } from "@reclaim/core";
import type { Counter, Gauge, Histogram, Registry } from "prom-client";

/** The compactor's own metrics (the runner records the common ones). */
export interface CompactorMetrics {
  fileBytes: Gauge;
  freelistPages: Gauge;
  rowsRemoved: Counter<"table">;
  rowsArchived: Counter<"table">;
  vacuumConversions: Counter<"outcome">;
  transactionSeconds: Histogram;
}

/** Registers (once per registry) and returns the compactor's metrics. */
export function compactorMetrics(registry: Registry): CompactorMetrics {
  return {
    fileBytes: gauge(registry, { name: "reclaim_sqlite_file_bytes", help: "Size of the SQLite database (page_count * page_size) at the end of the last pass, in bytes." }),
    freelistPages: gauge(registry, { name: "reclaim_sqlite_freelist_pages", help: "Free pages in the SQLite database at the end of the last pass." }),
    rowsRemoved: counter(registry, { name: "reclaim_sqlite_rows_removed_total", help: "Rows deleted by retention, by table.", labelNames: ["table"] }),
    rowsArchived: counter(registry, { name: "reclaim_sqlite_rows_archived_total", help: "Rows copied to the archive database, by table.", labelNames: ["table"] }),
    vacuumConversions: counter(registry, {
      name: "reclaim_sqlite_vacuum_conversions_total",
      help: "One-time VACUUM conversions to auto_vacuum=INCREMENTAL, by outcome (converted, skipped_low_disk, failed).",
      labelNames: ["outcome"],
    }),
    transactionSeconds: histogram(registry, {
      name: "reclaim_sqlite_write_transaction_seconds",
      help: "Duration of each write transaction of the compactor (delete, archive or incremental vacuum batch), in seconds.",
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    }),
  };
}
