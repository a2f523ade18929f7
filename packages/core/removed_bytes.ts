import type { Counter, Registry } from "prom-client";
import { counter } from "./metrics.ts";

/**
 * `reclaim_disk_removed_bytes_total{hook,kind}`: bytes of files deleted, by hook instance and kind (`age`,
 * `pressure`, `write_through`).
 * The one definition of this counter, shared by every hook that deletes files (get-or-create on `registry`, so
 * two hooks on one registry add to one family).
 *
 * @example
 * ```ts
 * removedFileBytes(registry).inc({ hook: "write-through", kind: "write_through" }, 1234);
 * ```
 */
export function removedFileBytes(registry: Registry): Counter<"hook" | "kind"> {
  return counter(registry, { name: "reclaim_disk_removed_bytes_total", help: "Bytes of files deleted, by kind (age, pressure, write_through).", labelNames: ["hook", "kind"] });
}
