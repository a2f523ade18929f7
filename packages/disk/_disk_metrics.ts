import { counter, gauge, removedFileBytes } from "@reclaim/core";
import type { Counter, Gauge, Registry } from "prom-client";
import { readDiskUsage } from "./disk_usage.ts";

/** The disk hook's own metrics (the runner records the common ones). */
export interface DiskMetrics {
  usedRatio: Gauge<"mount">;
  freeBytes: Gauge<"mount">;
  forecast: Gauge<"mount">;
  removedBytes: Counter<"kind">;
  pressureSweeps: Counter<"outcome">;
  referencesCleared: Counter<string>;
}

/** Roots to probe on scrape, per registry and mount label. */
const mountsByRegistry = new WeakMap<Registry, Map<string, string>>();

/**
 * Registers (get-or-create) the disk metrics and adds `mount` -> `root` to the roots whose usage is read with
 * `statfs` on every scrape (cheap, so the gauges are always current).
 */
export function diskMetrics(registry: Registry, mount: string, root: string): DiskMetrics {
  let mounts = mountsByRegistry.get(registry);
  if (!mounts) {
    mounts = new Map();
    mountsByRegistry.set(registry, mounts);
  }
  mounts.set(mount, root);
  const probe = (): Map<string, ReturnType<typeof readDiskUsage>> => {
    const usages = new Map<string, ReturnType<typeof readDiskUsage>>();
    for (const [label, path] of mountsByRegistry.get(registry) ?? []) {
      try {
        usages.set(label, readDiskUsage(path));
      } catch {
        // root missing for now: leave the last value
      }
    }
    return usages;
  };
  return {
    usedRatio: gauge(registry, {
      name: "reclaim_disk_used_ratio",
      help: "Used fraction of the filesystem holding the disk hook's root (statfs, as df's Use%).",
      labelNames: ["mount"],
      collect() {
        for (const [label, usage] of probe()) this.set({ mount: label }, usage.usedRatio);
      },
    }),
    freeBytes: gauge(registry, {
      name: "reclaim_disk_free_bytes",
      help: "Bytes still available to unprivileged writers on the filesystem holding the disk hook's root.",
      labelNames: ["mount"],
      collect() {
        for (const [label, usage] of probe()) this.set({ mount: label }, usage.freeBytes);
      },
    }),
    forecast: gauge(registry, {
      name: "reclaim_disk_full_forecast_seconds",
      help: "Seconds until the filesystem is full at the growth rate of recent passes (linear regression); -1 when not growing.",
      labelNames: ["mount"],
    }),
    removedBytes: removedFileBytes(registry),
    pressureSweeps: counter(registry, {
      name: "reclaim_disk_pressure_sweeps_total",
      help: "Pressure sweeps started, by outcome (relieved: at or below the low watermark after; insufficient: still above).",
      labelNames: ["outcome"],
    }),
    referencesCleared: counter(registry, { name: "reclaim_disk_references_cleared_total", help: "JSON store fields cleared because the file they pointed at was deleted." }),
  };
}
