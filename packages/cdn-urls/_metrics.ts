import { counter, gauge } from "@reclaim/core";
import type { Registry } from "prom-client";

/** The cdn-urls hook's own metrics, bound to one hook instance (every series carries its `hook` label). */
export interface CdnUrlsMetrics {
  /** Starts a table's series at 0, so `rate()` sees its first increase. */
  table(table: string): void;
  rewritten(table: string, values: number): void;
  remaining(table: string, values: number): void;
  retries(count: number): void;
}

/** Registers (once per registry) the hook's metrics and binds them to the instance `hook`. */
export function cdnUrlsMetrics(registry: Registry, hook: string): CdnUrlsMetrics {
  const rewritten = counter(registry, {
    name: "reclaim_cdn_urls_rewritten_total",
    help: "String values whose CDN host the cdn-urls hook stripped, by table.",
    labelNames: ["hook", "table"],
  });
  const remaining = gauge(registry, {
    name: "reclaim_cdn_urls_remaining_values",
    help: "Values (rows; json/jsonb: rows with at least one string) still holding one of the old CDN hosts at the end of the last pass, by table.",
    labelNames: ["hook", "table"],
  });
  const retries = counter(registry, {
    name: "reclaim_cdn_urls_batch_retries_total",
    help: "Batches rolled back after a lock or statement timeout and retried smaller.",
    labelNames: ["hook"],
  });
  retries.inc({ hook }, 0);
  return {
    table: (table) => rewritten.inc({ hook, table }, 0),
    rewritten: (table, values) => rewritten.inc({ hook, table }, values),
    remaining: (table, values) => remaining.set({ hook, table }, values),
    retries: (count) => retries.inc({ hook }, count),
  };
}
