/**
 * @module
 * Prune dangling Docker images that carry a given label, through the Docker Engine API (dockerode), and make the
 * "images built without the label" mistake visible: scope gauges for dangling images with and without the label,
 * and a Dockerfile check (`checkDockerfileLabels`) behind `reclaim docker check-labels`.
 *
 * @example
 * ```ts
 * import { createRunner } from "@reclaim/core";
 * import { createDockerImagesHook } from "@reclaim/docker-images";
 * import { Registry } from "prom-client";
 *
 * const registry = new Registry();
 * const hook = createDockerImagesHook({
 *   label: "cascade.managed=true",          // only dangling images carrying it are removed
 *   registry,
 *   onError: (err, context) => Sentry.captureException(err, { extra: context }),
 * });
 * createRunner(hook, { interval: hook.options.interval, registry }).start();
 * ```
 */
export * from "./definition.ts";
export * from "./dockerfile_labels.ts";
export * from "./prune_images.ts";
export * from "./start_cleanup.ts";
