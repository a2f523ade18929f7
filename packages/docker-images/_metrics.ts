import { counter, gauge } from "@reclaim/core";
import type { Registry } from "prom-client";

/** How one removal ended: `removed`, `in_use` (409), `gone` (404) or `error` (anything else). */
export type RemovalOutcome = "removed" | "in_use" | "gone" | "error";

/** Whether a dangling image carries the hook's label (`managed`) or not (`unmanaged`). */
export type DanglingScope = "managed" | "unmanaged";

/** The docker-images hook's own metrics, bound to one hook instance (the `hook` label). */
export interface DockerImageMetrics {
  removal(outcome: RemovalOutcome): void;
  scanFailure(): void;
  dangling(scope: DanglingScope, images: number, bytes: number): void;
}

export function dockerImageMetrics(registry: Registry, hook: string): DockerImageMetrics {
  const removals = counter(registry, {
    name: "reclaim_docker_image_removals_total",
    help: "Dangling image removals attempted by the docker-images hook, by outcome (removed, in_use, gone, error).",
    labelNames: ["hook", "outcome"],
  });
  const scanFailures = counter(registry, {
    name: "reclaim_docker_scan_failures_total",
    help: "Passes of the docker-images hook whose image list request to the Docker engine failed.",
    labelNames: ["hook"],
  });
  const danglingImages = gauge(registry, {
    name: "reclaim_docker_dangling_images",
    help: "Dangling images left at the end of the last pass: scope=managed carry the hook's label, scope=unmanaged do not (never touched).",
    labelNames: ["hook", "scope"],
  });
  const danglingBytes = gauge(registry, {
    name: "reclaim_docker_dangling_bytes",
    help: "Bytes of the dangling images left at the end of the last pass, by scope (managed, unmanaged).",
    labelNames: ["hook", "scope"],
  });
  return {
    removal: (outcome) => removals.inc({ hook, outcome }),
    scanFailure: () => scanFailures.inc({ hook }),
    dangling(scope, images, bytes) {
      danglingImages.set({ hook, scope }, images);
      danglingBytes.set({ hook, scope }, bytes);
    },
  };
}
