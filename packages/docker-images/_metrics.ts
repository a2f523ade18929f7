import { counter, gauge } from "@reclaim/core";
import type { Counter, Gauge, Registry } from "prom-client";

/** How one removal ended: `removed`, `in_use` (409), `gone` (404) or `error` (anything else). */
export type RemovalOutcome = "removed" | "in_use" | "gone" | "error";

/** Whether a dangling image carries the hook's label (`managed`) or not (`unmanaged`). */
export type DanglingScope = "managed" | "unmanaged";

export interface DockerImageMetrics {
  removals: Counter<"outcome">;
  scanFailures: Counter<never>;
  danglingImages: Gauge<"scope">;
  danglingBytes: Gauge<"scope">;
}

export function dockerImageMetrics(registry: Registry): DockerImageMetrics {
  return {
    removals: counter(registry, {
      name: "reclaim_docker_image_removals_total",
      help: "Dangling image removals attempted by the docker-images hook, by outcome (removed, in_use, gone, error).",
      labelNames: ["outcome"],
    }),
    scanFailures: counter(registry, {
      name: "reclaim_docker_scan_failures_total",
      help: "Passes of the docker-images hook whose image list request to the Docker engine failed.",
    }),
    danglingImages: gauge(registry, {
      name: "reclaim_docker_dangling_images",
      help: "Dangling images left at the end of the last pass: scope=managed carry the hook's label, scope=unmanaged do not (never touched).",
      labelNames: ["scope"],
    }),
    danglingBytes: gauge(registry, {
      name: "reclaim_docker_dangling_bytes",
      help: "Bytes of the dangling images left at the end of the last pass, by scope (managed, unmanaged).",
      labelNames: ["scope"],
    }),
  };
}
