import { Counter, Gauge, Histogram, type Registry } from "prom-client";

type MetricConfig<T extends string> = { name: string; help: string; labelNames?: readonly T[]; registers?: never };

/**
 * Returns the gauge registered under `config.name` on `registry`, creating it on first use, so that two hooks
 * sharing one registry share one family instead of throwing "already registered".
 *
 * @example
 * ```ts
 * const used = gauge(registry, { name: "reclaim_disk_used_ratio", help: "Used fraction", labelNames: ["mount"] });
 * used.set({ mount: "/data" }, 0.42);
 * ```
 */
export function gauge<T extends string>(registry: Registry, config: MetricConfig<T> & { collect?: (this: Gauge<T>) => void | Promise<void> }): Gauge<T> {
  return (registry.getSingleMetric(config.name) as Gauge<T> | undefined) ?? new Gauge<T>({ ...config, registers: [registry] });
}

/** Probes run on every scrape, per gauge and per hook instance. */
const probesByGauge = new WeakMap<Gauge<string>, Map<string, (gauge: Gauge<"hook">) => void>>();

/**
 * A gauge read on every scrape, one series per hook instance: `probe` sets the values for `hook` (with
 * `{ hook, ... }` labels). Several hooks of one type on one registry each add their probe; a hook created again
 * under the same name replaces its earlier probe. For cheap reads only (`stat`, `statfs`): expensive probes are
 * set at the end of each pass instead.
 *
 * @example
 * ```ts
 * scrapedGauge(registry, { name: "reclaim_event_log_bytes", help: "Size of the event log." }, "app-log", (g) => {
 *   g.set({ hook: "app-log" }, statSync(path).size);
 * });
 * ```
 */
export function scrapedGauge<T extends string>(
  registry: Registry,
  config: MetricConfig<T>,
  hook: string,
  probe: (gauge: Gauge<T | "hook">) => void,
): Gauge<T | "hook"> {
  const labelNames = ["hook", ...(config.labelNames ?? []).filter((name) => name !== "hook")] as (T | "hook")[];
  const metric = gauge<T | "hook">(registry, {
    ...config,
    labelNames,
    collect() {
      for (const read of probesByGauge.get(this as Gauge<string>)?.values() ?? []) {
        try {
          read(this as Gauge<"hook">);
        } catch {
          // a probe that cannot read now leaves its last value
        }
      }
    },
  });
  let probes = probesByGauge.get(metric as Gauge<string>);
  if (!probes) {
    probes = new Map();
    probesByGauge.set(metric as Gauge<string>, probes);
  }
  probes.set(hook, probe as (gauge: Gauge<"hook">) => void);
  return metric;
}

/**
 * Returns the counter registered under `config.name` on `registry`, creating it on first use.
 *
 * @example
 * ```ts
 * counter(registry, { name: "reclaim_disk_pressure_sweeps_total", help: "Pressure sweeps" }).inc();
 * ```
 */
export function counter<T extends string>(registry: Registry, config: MetricConfig<T>): Counter<T> {
  return (registry.getSingleMetric(config.name) as Counter<T> | undefined) ?? new Counter<T>({ ...config, registers: [registry] });
}

/**
 * Returns the histogram registered under `config.name` on `registry`, creating it on first use.
 *
 * @example
 * ```ts
 * histogram(registry, { name: "reclaim_x_seconds", help: "x", buckets: [0.1, 1] }).observe(0.2);
 * ```
 */
export function histogram<T extends string>(registry: Registry, config: MetricConfig<T> & { buckets?: number[] }): Histogram<T> {
  return (registry.getSingleMetric(config.name) as Histogram<T> | undefined) ?? new Histogram<T>({ ...config, registers: [registry] });
}

/** The metrics every runner records, from DESIGN.md's observability conventions. */
export interface HookMetrics {
  runs: Counter<"hook" | "outcome">;
  duration: Histogram<"hook">;
  lastSuccess: Gauge<"hook">;
  reclaimedBytes: Counter<"hook">;
  removed: Counter<"hook" | "kind">;
}

/**
 * Registers (once per registry) and returns the common hook metrics.
 *
 * @example
 * ```ts
 * const m = hookMetrics(registry);
 * m.runs.inc({ hook: "disk", outcome: "success" });
 * ```
 */
export function hookMetrics(registry: Registry): HookMetrics {
  return {
    runs: counter(registry, { name: "reclaim_hook_runs_total", help: "Passes run, by hook and outcome (success, failure, aborted, skipped).", labelNames: ["hook", "outcome"] }),
    duration: histogram(registry, {
      name: "reclaim_hook_run_duration_seconds",
      help: "Duration of one pass of a hook, in seconds.",
      labelNames: ["hook"],
      buckets: [0.005, 0.025, 0.1, 0.5, 1, 5, 15, 60, 300, 900],
    }),
    lastSuccess: gauge(registry, { name: "reclaim_hook_last_success_timestamp_seconds", help: "Unix time at which the last successful pass of a hook ended.", labelNames: ["hook"] }),
    reclaimedBytes: counter(registry, { name: "reclaim_reclaimed_bytes_total", help: "Bytes reclaimed by a hook.", labelNames: ["hook"] }),
    removed: counter(registry, { name: "reclaim_removed_total", help: "Items removed by a hook, by kind (file, line, image, row, ...).", labelNames: ["hook", "kind"] }),
  };
}
