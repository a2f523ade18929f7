import { counter, removedFileBytes } from "@reclaim/core";
import type { Counter, Registry } from "prom-client";

/** The write-through metrics (get-or-create; `reclaim_disk_removed_bytes_total` is core's `removedFileBytes`, shared with `@reclaim/disk`). */
export function writeThroughMetrics(registry: Registry): { files: Counter<"hook" | "outcome">; removedBytes: Counter<"hook" | "kind"> } {
  return {
    files: counter(registry, {
      name: "reclaim_write_through_files_total",
      help: "Local files checked against their remote copy, by outcome (deleted, would-delete, kept, skipped).",
      labelNames: ["hook", "outcome"],
    }),
    removedBytes: removedFileBytes(registry),
  };
}
