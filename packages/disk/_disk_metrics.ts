import { counter, gauge, removedFileBytes, scrapedGauge } from "@reclaim/core";
import type { Counter, Gauge, Registry } from "prom-client";
import { readDiskUsage } from "./disk_usage.ts";

/** The disk hook's own metrics (the runner records the common ones). Every series carries the `hook` label. */
export interface DiskMetrics {
  usedRatio: Gauge<"hook" | "mount">;
  freeBytes: Gauge<"hook" | "mount">;
  forecast: Gauge<"hook" | "mount">;
  removedBytes: Counter<"hook" | "kind">;
  pressureSweeps: Counter<"hook" | "outcome">;
  referencesCleared: Counter<"hook">;
}

/**
 * Registers (get-or-create) the disk metrics for one hook instance. Used ratio and free bytes are read with
 * `statfs` on every scrape (cheap, so the gauges are always current); a root that is missing for now keeps its
 * last value.
 */
export function diskMetrics(registry: Registry, hook: string, mount: string, root: string): DiskMetrics {
  return {
    usedRatio: scrapedGauge(
      registry,
      { name: "reclaim_disk_used_ratio", help: "Used fraction of the filesystem holding the disk hook's root (statfs, as df's Use%).", labelNames: ["mount"] },
      hook,
      (g) => g.set({ hook, mount }, readDiskUsage(root).usedRatio),
    ),
    freeBytes: scrapedGauge(
      registry,
      { name: "reclaim_disk_free_bytes", help: "Bytes still available to unprivileged writers on the filesystem holding the disk hook's root.", labelNames: ["mount"] },
      hook,
      (g) => g.set({ hook, mount }, readDiskUsage(root).freeBytes),
    ),
    forecast: gauge(registry, {
      name: "reclaim_disk_full_forecast_seconds",
      help: "Seconds until the filesystem is full at the growth rate of recent passes (linear regression); -1 when not growing.",
      labelNames: ["hook", "mount"],
    }),
    removedBytes: removedFileBytes(registry),
    pressureSweeps: counter(registry, {
      name: "reclaim_disk_pressure_sweeps_total",
      help: "Pressure sweeps started, by outcome (relieved: at or below the low watermark after; insufficient: still above).",
      labelNames: ["hook", "outcome"],
    }),
    referencesCleared: counter(registry, {
      name: "reclaim_disk_references_cleared_total",
      help: "JSON store fields cleared because the file they pointed at was deleted.",
      labelNames: ["hook"],
    }),
  };
}
